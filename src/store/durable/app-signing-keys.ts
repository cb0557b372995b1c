/** Queries on the `app_signing_keys` table (AppSigningKeyStore). */
import type { Kysely, Selectable } from 'kysely';
import { PortcullisError } from '../../core/errors.js';
import type { PageRequest } from '../../core/page.js';
import type { AppSigningKeyRecord } from '../../tokens/app-keys-store.js';
import { after } from './keyset.js';
import type { AppSigningKeysTable, Database } from './schema.js';

function toRow(k: AppSigningKeyRecord): AppSigningKeysTable {
  return {
    keyid: k.keyid,
    client_id: k.clientId,
    type: k.type,
    alg: k.alg,
    sealed_secret: k.sealedSecret,
    public_jwk: k.publicJwk === null ? null : JSON.stringify(k.publicJwk),
    status: k.status,
    created_at: k.createdAt,
    revoked_at: k.revokedAt,
  };
}

function fromRow(r: Selectable<AppSigningKeysTable>): AppSigningKeyRecord {
  return {
    keyid: r.keyid,
    clientId: r.client_id,
    type: r.type as AppSigningKeyRecord['type'],
    alg: r.alg as AppSigningKeyRecord['alg'],
    sealedSecret: r.sealed_secret,
    publicJwk: r.public_jwk === null ? null : (JSON.parse(r.public_jwk) as AppSigningKeyRecord['publicJwk']),
    status: r.status as AppSigningKeyRecord['status'],
    createdAt: r.created_at,
    revokedAt: r.revoked_at,
  };
}

export async function insertAppSigningKey(db: Kysely<Database>, k: AppSigningKeyRecord): Promise<void> {
  const r = await db
    .insertInto('app_signing_keys')
    .values(toRow(k))
    .onConflict((oc) => oc.column('keyid').doNothing())
    .executeTakeFirst();
  if (Number(r.numInsertedOrUpdatedRows ?? 0) === 0) throw new PortcullisError('conflict', `a signing key with keyid ${k.keyid} exists`);
}

export async function getAppSigningKey(db: Kysely<Database>, keyid: string): Promise<AppSigningKeyRecord | undefined> {
  const r = await db.selectFrom('app_signing_keys').selectAll().where('keyid', '=', keyid).executeTakeFirst();
  return r && fromRow(r);
}

export async function listAppSigningKeys(db: Kysely<Database>, clientId?: string, page?: PageRequest): Promise<AppSigningKeyRecord[]> {
  let q = db.selectFrom('app_signing_keys').selectAll();
  if (clientId !== undefined) q = q.where('client_id', '=', clientId);
  if (page?.after !== undefined) q = q.where(after('created_at', 'keyid', page.after.createdAt, page.after.id));
  q = q.orderBy('created_at').orderBy('keyid');
  if (page !== undefined) q = q.limit(page.limit);
  return (await q.execute()).map(fromRow);
}

export async function revokeAppSigningKey(db: Kysely<Database>, keyid: string, at: number): Promise<{ key: AppSigningKeyRecord; revoked: boolean } | undefined> {
  const r = await db.updateTable('app_signing_keys').set({ status: 'revoked', revoked_at: at }).where('keyid', '=', keyid).where('status', '=', 'active').executeTakeFirst();
  const key = await getAppSigningKey(db, keyid);
  return key === undefined ? undefined : { key, revoked: Number(r.numUpdatedRows) > 0 };
}
