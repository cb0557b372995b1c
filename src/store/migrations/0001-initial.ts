/** The first schema: apps, revoked tokens, key ring, settings, audit log. */
import type { Kysely, Migration } from 'kysely';

export const initial: Migration = {
  async up(db: Kysely<unknown>): Promise<void> {
    await db.schema
      .createTable('apps')
      .addColumn('client_id', 'text', (c) => c.primaryKey())
      .addColumn('name', 'text', (c) => c.notNull())
      .addColumn('audiences', 'text', (c) => c.notNull())
      .addColumn('scopes', 'text', (c) => c.notNull())
      .addColumn('token_endpoint_auth_method', 'text', (c) => c.notNull())
      .addColumn('secret_verifier', 'text')
      .addColumn('jwks', 'text')
      .addColumn('status', 'text', (c) => c.notNull())
      .addColumn('tokens_revoked_before', 'bigint', (c) => c.notNull().defaultTo(0))
      .addColumn('created_at', 'bigint', (c) => c.notNull())
      .addColumn('updated_at', 'bigint', (c) => c.notNull())
      .execute();

    await db.schema
      .createTable('revoked_tokens')
      .addColumn('jti', 'text', (c) => c.primaryKey())
      .addColumn('client_id', 'text', (c) => c.notNull())
      .addColumn('expires_at', 'bigint', (c) => c.notNull())
      .addColumn('revoked_at', 'bigint', (c) => c.notNull())
      .execute();
    await db.schema.createIndex('revoked_tokens_expires_at').on('revoked_tokens').column('expires_at').execute();

    await db.schema
      .createTable('key_ring')
      .addColumn('kid', 'text', (c) => c.primaryKey())
      .addColumn('use', 'text', (c) => c.notNull())
      .addColumn('alg', 'text', (c) => c.notNull())
      .addColumn('public_jwk', 'text', (c) => c.notNull())
      .addColumn('private_jwk', 'text', (c) => c.notNull())
      .addColumn('status', 'text', (c) => c.notNull())
      .addColumn('created_at', 'bigint', (c) => c.notNull())
      .addColumn('activates_at', 'bigint', (c) => c.notNull())
      .addColumn('retires_at', 'bigint')
      .addColumn('expires_at', 'bigint')
      .execute();

    await db.schema
      .createTable('settings')
      .addColumn('name', 'text', (c) => c.primaryKey())
      .addColumn('value', 'text', (c) => c.notNull())
      .execute();

    // seq is assigned by appendAudit under a lock (head + 1), never by a sequence,
    // so a rolled-back append leaves no gap.
    await db.schema
      .createTable('audit_log')
      .addColumn('seq', 'bigint', (c) => c.primaryKey())
      .addColumn('time', 'bigint', (c) => c.notNull())
      .addColumn('type', 'text', (c) => c.notNull())
      .addColumn('actor', 'text', (c) => c.notNull())
      .addColumn('client_id', 'text')
      .addColumn('route', 'text')
      .addColumn('reason', 'text')
      .addColumn('data', 'text')
      .addColumn('prev_hash', 'text', (c) => c.notNull())
      .addColumn('hash', 'text', (c) => c.notNull())
      .execute();
  },

  async down(db: Kysely<unknown>): Promise<void> {
    for (const t of ['audit_log', 'settings', 'key_ring', 'revoked_tokens', 'apps']) await db.schema.dropTable(t).execute();
  },
};
