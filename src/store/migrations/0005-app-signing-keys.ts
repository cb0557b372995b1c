/** App signing keys (RFC 9421): per-app HMAC secrets (sealed) and registered public keys. */
import type { Kysely, Migration } from 'kysely';

export const appSigningKeys: Migration = {
  async up(db: Kysely<unknown>): Promise<void> {
    await db.schema
      .createTable('app_signing_keys')
      .addColumn('keyid', 'text', (c) => c.primaryKey())
      .addColumn('client_id', 'text', (c) => c.notNull())
      .addColumn('type', 'text', (c) => c.notNull())
      .addColumn('alg', 'text', (c) => c.notNull())
      .addColumn('sealed_secret', 'text')
      .addColumn('public_jwk', 'text')
      .addColumn('status', 'text', (c) => c.notNull())
      .addColumn('created_at', 'bigint', (c) => c.notNull())
      .addColumn('revoked_at', 'bigint')
      .execute();
    await db.schema.createIndex('app_signing_keys_client_id').on('app_signing_keys').column('client_id').execute();
  },

  async down(db: Kysely<unknown>): Promise<void> {
    await db.schema.dropTable('app_signing_keys').execute();
  },
};
