/**
 * Settings by prefix and a scan of every text column for envelope ciphertexts
 * (`pc1.<dekId>.…`), so master-key rotation can prove no sealed value names a data key
 * it did not rewrap, whichever table (today's or a later migration's) holds it.
 */
import { sql, type Kysely } from 'kysely';
import type { SealedValueRef } from '../../crypto/store.js';
import type { Database } from './schema.js';

const TEXT_TYPES = new Set(['text', 'varchar', 'character varying', 'character', 'char', 'clob']);
const SEALED = /pc1\.([A-Za-z0-9_-]{1,32})\.[A-Za-z0-9_-]{16}\.[A-Za-z0-9_-]{22,}/g;

export async function listSettings(db: Kysely<Database>, prefix: string): Promise<Array<{ name: string; value: string }>> {
  const rows = await db.selectFrom('settings').select(['name', 'value']).orderBy('name').execute();
  return rows.filter((r) => r.name.startsWith(prefix));
}

export async function scanSealedValues(db: Kysely<Database>): Promise<SealedValueRef[]> {
  const out: SealedValueRef[] = [];
  const tables = await db.introspection.getTables();
  for (const t of tables) {
    if (t.name.startsWith('portcullis_migration')) continue;
    for (const c of t.columns) {
      if (!TEXT_TYPES.has(c.dataType.toLowerCase())) continue;
      const rows = await sql<{ v: string }>`select ${sql.ref(c.name)} as v from ${sql.table(t.name)} where ${sql.ref(c.name)} like ${'%pc1.%'}`.execute(db);
      for (const r of rows.rows) {
        for (const m of String(r.v).matchAll(SEALED)) out.push({ table: t.name, column: c.name, dekId: m[1]! });
      }
    }
  }
  return out;
}
