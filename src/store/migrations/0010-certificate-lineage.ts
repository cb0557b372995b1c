/** Certificate lineage: the certificate a renewal replaced, so revoking one for keyCompromise reaches every certificate renewed from it. */
import type { Kysely, Migration } from 'kysely';

export const certificateLineage: Migration = {
  async up(db: Kysely<unknown>): Promise<void> {
    await db.schema.alterTable('certificates').addColumn('renewed_from', 'text').execute();
    await db.schema.createIndex('certificates_renewed_from').on('certificates').column('renewed_from').execute();
  },

  async down(db: Kysely<unknown>): Promise<void> {
    await db.schema.dropIndex('certificates_renewed_from').execute();
    await db.schema.alterTable('certificates').dropColumn('renewed_from').execute();
  },
};
