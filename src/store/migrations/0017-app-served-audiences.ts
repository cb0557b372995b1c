/**
 * The audiences an app serves as a resource server (`apps.served_audiences`, a JSON array):
 * RFC 7662 §4 leaves it to the server to decide who may introspect a token, and an app's
 * `audiences` (the APIs it is a client of) are no such right. A row from before this
 * migration has none (NULL): the app introspects only its own tokens.
 */
import type { Kysely, Migration } from 'kysely';

export const appServedAudiences: Migration = {
  async up(db: Kysely<unknown>): Promise<void> {
    await db.schema.alterTable('apps').addColumn('served_audiences', 'text').execute();
  },

  async down(db: Kysely<unknown>): Promise<void> {
    await db.schema.alterTable('apps').dropColumn('served_audiences').execute();
  },
};
