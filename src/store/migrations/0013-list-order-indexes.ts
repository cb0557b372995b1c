/**
 * Indexes in the order the admin lists of apps and users are paged (creation time, then
 * id: store/durable/keyset.ts), so a page reads its own rows, not every row sorted first.
 */
import type { Kysely, Migration } from 'kysely';

export const listOrderIndexes: Migration = {
  async up(db: Kysely<unknown>): Promise<void> {
    await db.schema.createIndex('apps_created_at_client_id').on('apps').columns(['created_at', 'client_id']).execute();
    await db.schema.createIndex('users_created_at_id').on('users').columns(['created_at', 'id']).execute();
  },

  async down(db: Kysely<unknown>): Promise<void> {
    await db.schema.dropIndex('users_created_at_id').execute();
    await db.schema.dropIndex('apps_created_at_client_id').execute();
  },
};
