/** Queries on the `transit_keys` and `transit_key_versions` tables (TransitStore). */
import { sql, type Kysely } from 'kysely';
import { PortcullisError } from '../../core/errors.js';
import type { PageRequest } from '../../core/page.js';
import type { TransitKeyConfigPatch, TransitKeyRecord, TransitKeyVersion } from '../../crypto/transit/store.js';
import type { Database } from './schema.js';

/** Row shapes (migration 0007-encryption). */
export interface TransitKeysTable {
  name: string;
  type: string;
  created_at: number;
  min_decryption_version: number;
  min_encryption_version: number;
  /** Migration 0011: 1 or 0. */
  auto_rotate: number;
}

export interface TransitKeyVersionsTable {
  name: string;
  version: number;
  created_at: number;
  sealed: string;
  public_key: string | null;
}

type Db = Kysely<{ transit_keys: TransitKeysTable; transit_key_versions: TransitKeyVersionsTable }>;
const tables = (db: Kysely<Database>) => db as unknown as Db;

const notFound = (name: string) => new PortcullisError('transit.key-not-found', `no transit key named ${name}`);

function versionRow(name: string, v: TransitKeyVersion): TransitKeyVersionsTable {
  return { name, version: v.version, created_at: v.createdAt, sealed: v.sealed, public_key: v.publicKey ?? null };
}

function versionFromRow(r: TransitKeyVersionsTable): TransitKeyVersion {
  const v: TransitKeyVersion = { version: Number(r.version), createdAt: Number(r.created_at), sealed: r.sealed };
  if (r.public_key !== null) v.publicKey = r.public_key;
  return v;
}

/** The key and its first version in one transaction; a taken name is a conflict and changes nothing. */
export async function createTransitKey(db: Kysely<Database>, k: TransitKeyRecord): Promise<void> {
  await tables(db)
    .transaction()
    .execute(async (trx) => {
      const r = await trx
        .insertInto('transit_keys')
        .values({ name: k.name, type: k.type, created_at: k.createdAt, min_decryption_version: k.minDecryptionVersion, min_encryption_version: k.minEncryptionVersion, auto_rotate: k.autoRotate ? 1 : 0 })
        .onConflict((oc) => oc.column('name').doNothing())
        .executeTakeFirst();
      if (Number(r.numInsertedOrUpdatedRows ?? 0) === 0) throw new PortcullisError('conflict', `a transit key named ${k.name} exists`);
      if (k.versions.length > 0) await trx.insertInto('transit_key_versions').values(k.versions.map((v) => versionRow(k.name, v))).execute();
    });
}

export async function getTransitKey(db: Kysely<Database>, name: string): Promise<TransitKeyRecord | undefined> {
  const t = tables(db);
  const k = await t.selectFrom('transit_keys').selectAll().where('name', '=', name).executeTakeFirst();
  if (!k) return undefined;
  const versions = await t.selectFrom('transit_key_versions').selectAll().where('name', '=', name).orderBy('version').execute();
  return {
    name: k.name,
    type: k.type as TransitKeyRecord['type'],
    createdAt: Number(k.created_at),
    minDecryptionVersion: Number(k.min_decryption_version),
    minEncryptionVersion: Number(k.min_encryption_version),
    autoRotate: Number(k.auto_rotate) !== 0,
    versions: versions.map(versionFromRow),
  };
}

export async function listTransitKeys(db: Kysely<Database>, page?: PageRequest<string>): Promise<string[]> {
  let q = tables(db).selectFrom('transit_keys').select('name');
  if (page?.after !== undefined) q = q.where('name', '>', page.after);
  q = q.orderBy('name');
  if (page !== undefined) q = q.limit(page.limit);
  return (await q.execute()).map((r) => r.name);
}

/**
 * Compare-and-set: inserts version n only while the key has exactly n-1 versions (they
 * are numbered 1..n-1 without gaps). Two nodes writing the same n collide on the primary
 * key (name, version) and the loser inserts nothing; a version that skips ahead finds
 * the count wrong and inserts nothing.
 */
export async function addTransitKeyVersion(db: Kysely<Database>, name: string, v: TransitKeyVersion): Promise<boolean> {
  const t = tables(db);
  const exists = await t.selectFrom('transit_keys').select('name').where('name', '=', name).executeTakeFirst();
  if (!exists) throw notFound(name);
  if (!Number.isSafeInteger(v.version) || v.version < 1) return false;
  const r = await sql`
    insert into transit_key_versions (name, version, created_at, sealed, public_key)
    select ${name}, ${v.version}, ${v.createdAt}, ${v.sealed}, ${v.publicKey ?? null}
    where (select count(*) from transit_key_versions where name = ${name}) = ${v.version - 1}
    on conflict (name, version) do nothing`.execute(db);
  return Number(r.numAffectedRows ?? 0n) === 1;
}

export async function updateTransitKeyConfig(db: Kysely<Database>, name: string, patch: TransitKeyConfigPatch): Promise<void> {
  const set: Partial<TransitKeysTable> = {};
  if (patch.minDecryptionVersion !== undefined) set.min_decryption_version = patch.minDecryptionVersion;
  if (patch.minEncryptionVersion !== undefined) set.min_encryption_version = patch.minEncryptionVersion;
  if (patch.autoRotate !== undefined) set.auto_rotate = patch.autoRotate ? 1 : 0;
  const t = tables(db);
  if (Object.keys(set).length === 0) {
    if (!(await t.selectFrom('transit_keys').select('name').where('name', '=', name).executeTakeFirst())) throw notFound(name);
    return;
  }
  const r = await t.updateTable('transit_keys').set(set).where('name', '=', name).executeTakeFirst();
  if (Number(r.numUpdatedRows) === 0) throw notFound(name);
}
