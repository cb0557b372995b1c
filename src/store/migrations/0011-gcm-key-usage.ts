/**
 * AES-GCM invocation counts per key (NIST SP 800-38D §8.3; crypto/gcm-usage.ts), and
 * whether a transit key rotates by itself when its latest version reaches the limit.
 */
import { sql, type Kysely, type Migration } from 'kysely';

export const gcmKeyUsage: Migration = {
  async up(db: Kysely<unknown>): Promise<void> {
    await db.schema
      .createTable('gcm_key_usage')
      .addColumn('key_id', 'text', (c) => c.primaryKey())
      .addColumn('reserved', 'bigint', (c) => c.notNull())
      .execute();
    await db.schema.alterTable('transit_keys').addColumn('auto_rotate', 'integer', (c) => c.notNull().defaultTo(sql`1`)).execute();
  },

  async down(db: Kysely<unknown>): Promise<void> {
    await db.schema.alterTable('transit_keys').dropColumn('auto_rotate').execute();
    await db.schema.dropTable('gcm_key_usage').execute();
  },
};
