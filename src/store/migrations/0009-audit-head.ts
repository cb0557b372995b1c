/**
 * The audit chain's head (seq and hash of the newest row), kept beside `audit_log` and
 * written in the append's transaction, so `audit verify` detects rows removed from the
 * end of the chain. Existing trails are anchored at their current newest row.
 */
import { sql, type Kysely, type Migration } from 'kysely';

export const auditHead: Migration = {
  async up(db: Kysely<unknown>): Promise<void> {
    await db.schema
      .createTable('audit_head')
      .addColumn('id', 'integer', (c) => c.primaryKey())
      .addColumn('seq', 'bigint', (c) => c.notNull())
      .addColumn('hash', 'text', (c) => c.notNull())
      .execute();
    await sql`insert into audit_head (id, seq, hash) select 1, seq, hash from audit_log order by seq desc limit 1`.execute(db);
  },

  async down(db: Kysely<unknown>): Promise<void> {
    await db.schema.dropTable('audit_head').execute();
  },
};
