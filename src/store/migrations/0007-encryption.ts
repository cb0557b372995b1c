/** Encryption (issue 5): per-app encryption keys (sealed AES keys or registered public keys) and transit keys with their versions. */
import type { Kysely, Migration } from 'kysely';

export const encryption: Migration = {
  async up(db: Kysely<unknown>): Promise<void> {
    await db.schema
      .createTable('app_encryption_keys')
      .addColumn('kid', 'text', (c) => c.primaryKey())
      .addColumn('client_id', 'text', (c) => c.notNull())
      .addColumn('type', 'text', (c) => c.notNull())
      .addColumn('alg', 'text', (c) => c.notNull())
      .addColumn('sealed_key', 'text')
      .addColumn('public_jwk', 'text')
      .addColumn('status', 'text', (c) => c.notNull())
      .addColumn('created_at', 'bigint', (c) => c.notNull())
      .addColumn('revoked_at', 'bigint')
      .execute();
    await db.schema.createIndex('app_encryption_keys_client_id').on('app_encryption_keys').column('client_id').execute();

    await db.schema
      .createTable('transit_keys')
      .addColumn('name', 'text', (c) => c.primaryKey())
      .addColumn('type', 'text', (c) => c.notNull())
      .addColumn('created_at', 'bigint', (c) => c.notNull())
      .addColumn('min_decryption_version', 'integer', (c) => c.notNull())
      .addColumn('min_encryption_version', 'integer', (c) => c.notNull())
      .execute();
    await db.schema
      .createTable('transit_key_versions')
      .addColumn('name', 'text', (c) => c.notNull().references('transit_keys.name').onDelete('cascade'))
      .addColumn('version', 'integer', (c) => c.notNull())
      .addColumn('created_at', 'bigint', (c) => c.notNull())
      .addColumn('sealed', 'text', (c) => c.notNull())
      .addColumn('public_key', 'text')
      .addPrimaryKeyConstraint('transit_key_versions_pk', ['name', 'version'])
      .execute();
  },

  async down(db: Kysely<unknown>): Promise<void> {
    await db.schema.dropTable('transit_key_versions').execute();
    await db.schema.dropTable('transit_keys').execute();
    await db.schema.dropTable('app_encryption_keys').execute();
  },
};
