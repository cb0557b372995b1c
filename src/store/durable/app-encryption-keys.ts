/** Queries on the `app_encryption_keys` table (AppEncryptionKeyStore). */
import type { Kysely } from 'kysely';
import { PortcullisError } from '../../core/errors.js';
import type { PageRequest } from '../../core/page.js';
import type { AppEncryptionKeyRecord } from '../../tokens/app-encryption-keys-store.js';
import { after } from './keyset.js';
import type { Database } from './schema.js';

/** Row shape (migration 0007-encryption). */
export interface AppEncryptionKeysTable {
  kid: string;
  client_id: string;
  type: string;
  alg: string;
  sealed_key: string | null;
  public_jwk: string | null;
  status: string;
  created_at: number;
  revoked_at: number | null;
}

type Db = Kysely<{ app_encryption_keys: AppEncryptionKeysTable }>;
const tables = (db: Kysely<Database>) => db as unknown as Db;

function toRow(k: AppEncryptionKeyRecord): AppEncryptionKeysTable {
  return {
    kid: k.kid,
    client_id: k.clientId,
    type: k.type,
    alg: k.alg,
    sealed_key: k.sealedKey,
    public_jwk: k.publicJwk === null ? null : JSON.stringify(k.publicJwk),
    status: k.status,
    created_at: k.createdAt,
    revoked_at: k.revokedAt,
  };
}

function fromRow(r: AppEncryptionKeysTable): AppEncryptionKeyRecord {
  return {
    kid: r.kid,
    clientId: r.client_id,
    type: r.type as AppEncryptionKeyRecord['type'],
    alg: r.alg as AppEncryptionKeyRecord['alg'],
    sealedKey: r.sealed_key,
    publicJwk: r.public_jwk === null ? null : (JSON.parse(r.public_jwk) as AppEncryptionKeyRecord['publicJwk']),
    status: r.status as AppEncryptionKeyRecord['status'],
    createdAt: Number(r.created_at),
    revokedAt: r.revoked_at === null ? null : Number(r.revoked_at),
  };
}

export async function insertAppEncryptionKey(db: Kysely<Database>, k: AppEncryptionKeyRecord): Promise<void> {
  const r = await tables(db)
    .insertInto('app_encryption_keys')
    .values(toRow(k))
    .onConflict((oc) => oc.column('kid').doNothing())
    .executeTakeFirst();
  if (Number(r.numInsertedOrUpdatedRows ?? 0) === 0) throw new PortcullisError('conflict', `an encryption key with kid ${k.kid} exists`);
}

export async function getAppEncryptionKey(db: Kysely<Database>, kid: string): Promise<AppEncryptionKeyRecord | undefined> {
  const r = await tables(db).selectFrom('app_encryption_keys').selectAll().where('kid', '=', kid).executeTakeFirst();
  return r && fromRow(r);
}

export async function listAppEncryptionKeys(db: Kysely<Database>, clientId?: string, page?: PageRequest): Promise<AppEncryptionKeyRecord[]> {
  let q = tables(db).selectFrom('app_encryption_keys').selectAll();
  if (clientId !== undefined) q = q.where('client_id', '=', clientId);
  if (page?.after !== undefined) q = q.where(after('created_at', 'kid', page.after.createdAt, page.after.id));
  q = q.orderBy('created_at').orderBy('kid');
  if (page !== undefined) q = q.limit(page.limit);
  return (await q.execute()).map(fromRow);
}

export async function revokeAppEncryptionKey(db: Kysely<Database>, kid: string, at: number): Promise<{ key: AppEncryptionKeyRecord; revoked: boolean } | undefined> {
  const r = await tables(db).updateTable('app_encryption_keys').set({ status: 'revoked', revoked_at: at }).where('kid', '=', kid).where('status', '=', 'active').executeTakeFirst();
  const key = await getAppEncryptionKey(db, kid);
  return key === undefined ? undefined : { key, revoked: Number(r.numUpdatedRows) > 0 };
}
