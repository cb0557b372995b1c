/** Queries on the `key_ring` table (KeyStore). */
import type { Kysely, Selectable, Updateable } from 'kysely';
import { PortcullisError } from '../../core/errors.js';
import type { KeyPatch, KeyUse, StoredKey } from '../../crypto/store.js';
import type { Database, KeysTable } from './schema.js';

function fromRow(r: Selectable<KeysTable>): StoredKey {
  return {
    kid: r.kid,
    use: r.use as KeyUse,
    alg: r.alg,
    publicJwk: r.public_jwk,
    privateJwk: r.private_jwk,
    status: r.status as StoredKey['status'],
    createdAt: r.created_at,
    activatesAt: r.activates_at,
    retiresAt: r.retires_at,
    expiresAt: r.expires_at,
  };
}

function patchToRow(p: KeyPatch): Updateable<KeysTable> {
  const u: Updateable<KeysTable> = {};
  if (p.status !== undefined) u.status = p.status;
  if (p.activatesAt !== undefined) u.activates_at = p.activatesAt;
  if (p.retiresAt !== undefined) u.retires_at = p.retiresAt;
  if (p.expiresAt !== undefined) u.expires_at = p.expiresAt;
  if (p.privateJwk !== undefined) u.private_jwk = p.privateJwk;
  return u;
}

/** Throws PortcullisError('conflict') when the kid exists. */
export async function insertKey(db: Kysely<Database>, k: StoredKey): Promise<void> {
  const r = await db
    .insertInto('key_ring')
    .values({
      kid: k.kid,
      use: k.use,
      alg: k.alg,
      public_jwk: k.publicJwk,
      private_jwk: k.privateJwk,
      status: k.status,
      created_at: k.createdAt,
      activates_at: k.activatesAt,
      retires_at: k.retiresAt,
      expires_at: k.expiresAt,
    })
    .onConflict((oc) => oc.column('kid').doNothing())
    .executeTakeFirst();
  if (Number(r.numInsertedOrUpdatedRows ?? 0) === 0) throw new PortcullisError('conflict', `a key with kid ${k.kid} exists`);
}

export async function listKeys(db: Kysely<Database>): Promise<StoredKey[]> {
  const rows = await db.selectFrom('key_ring').selectAll().orderBy('created_at').orderBy('kid').execute();
  return rows.map(fromRow);
}

/** Throws PortcullisError('key.not-found') when there is no such kid. */
export async function updateKey(db: Kysely<Database>, kid: string, patch: KeyPatch): Promise<void> {
  const set = patchToRow(patch);
  const found =
    Object.keys(set).length === 0
      ? (await db.selectFrom('key_ring').select('kid').where('kid', '=', kid).executeTakeFirst()) !== undefined
      : Number((await db.updateTable('key_ring').set(set).where('kid', '=', kid).executeTakeFirst()).numUpdatedRows) > 0;
  if (!found) throw new PortcullisError('key.not-found', `no key with kid ${kid}`);
}

/** Idempotent: deleting an absent kid is not an error. */
export async function deleteKey(db: Kysely<Database>, kid: string): Promise<void> {
  await db.deleteFrom('key_ring').where('kid', '=', kid).execute();
}
