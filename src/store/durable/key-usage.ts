/** Queries on the `gcm_key_usage` table (KeyUsageStore): AES-GCM invocation counts reserved in blocks. */
import { sql, type Kysely } from 'kysely';
import type { Database } from './schema.js';

/** Row shape (migration 0011-gcm-key-usage). */
export interface GcmKeyUsageTable {
  key_id: string;
  reserved: number;
}

type Db = Kysely<{ gcm_key_usage: GcmKeyUsageTable }>;
const table = (db: Kysely<Database>) => db as unknown as Db;

/**
 * One statement, atomic on both dialects: insert the first block, or add a block to a
 * count below `limit`; a count at or past it is left alone and returns no row. The row
 * lock (PostgreSQL) or the write lock (SQLite) orders concurrent reservations, so each
 * sees the count the previous one left and the ranges handed out are disjoint.
 */
export async function reserveKeyUsage(db: Kysely<Database>, keyId: string, block: number, limit: number): Promise<number | undefined> {
  const r = await sql<{ reserved: number | string }>`
    insert into gcm_key_usage (key_id, reserved) values (${keyId}, ${block})
    on conflict (key_id) do update set reserved = gcm_key_usage.reserved + excluded.reserved
    where gcm_key_usage.reserved < ${limit}
    returning reserved`.execute(db);
  const row = r.rows[0];
  return row === undefined ? undefined : Number(row.reserved) - block;
}

export async function readKeyUsage(db: Kysely<Database>, keyIds: readonly string[]): Promise<Map<string, number>> {
  const rows = await table(db).selectFrom('gcm_key_usage').select(['key_id', 'reserved']).where('key_id', 'in', [...keyIds]).execute();
  return new Map(rows.map((r) => [r.key_id, Number(r.reserved)]));
}
