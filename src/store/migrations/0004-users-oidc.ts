/**
 * Users, OpenID Connect state (oidc-provider models: sessions, grants, codes, refresh
 * tokens, interactions, and the ids of JWT access tokens per grant), WebAuthn
 * credentials, and the columns apps need for the authorization code flow.
 */
import type { Kysely, Migration } from 'kysely';

export const usersOidc: Migration = {
  async up(db: Kysely<unknown>): Promise<void> {
    await db.schema
      .createTable('users')
      .addColumn('id', 'text', (c) => c.primaryKey())
      .addColumn('email', 'text', (c) => c.notNull())
      .addColumn('email_normalized', 'text', (c) => c.notNull().unique())
      .addColumn('status', 'text', (c) => c.notNull())
      .addColumn('mfa_required', 'integer', (c) => c.notNull().defaultTo(0))
      .addColumn('tokens_revoked_before', 'bigint', (c) => c.notNull().defaultTo(0))
      .addColumn('created_at', 'bigint', (c) => c.notNull())
      .addColumn('updated_at', 'bigint', (c) => c.notNull())
      .execute();

    await db.schema
      .createTable('oidc_models')
      .addColumn('model', 'text', (c) => c.notNull())
      .addColumn('id', 'text', (c) => c.notNull())
      .addColumn('payload', 'text', (c) => c.notNull())
      .addColumn('expires_at', 'bigint')
      .addColumn('grant_id', 'text')
      .addColumn('user_code', 'text')
      .addColumn('uid', 'text')
      .addColumn('account_id', 'text')
      .addColumn('consumed_at', 'bigint')
      .addPrimaryKeyConstraint('oidc_models_pk', ['model', 'id'])
      .execute();
    await db.schema.createIndex('oidc_models_grant_id').on('oidc_models').column('grant_id').execute();
    await db.schema.createIndex('oidc_models_uid').on('oidc_models').columns(['model', 'uid']).execute();
    await db.schema.createIndex('oidc_models_account').on('oidc_models').columns(['model', 'account_id']).execute();
    await db.schema.createIndex('oidc_models_expires_at').on('oidc_models').column('expires_at').execute();

    await db.schema
      .createTable('webauthn_credentials')
      .addColumn('id', 'text', (c) => c.primaryKey())
      .addColumn('user_id', 'text', (c) => c.notNull())
      .addColumn('name', 'text', (c) => c.notNull())
      .addColumn('public_key', 'text', (c) => c.notNull())
      .addColumn('counter', 'bigint', (c) => c.notNull())
      .addColumn('transports', 'text', (c) => c.notNull())
      .addColumn('backed_up', 'integer', (c) => c.notNull())
      .addColumn('device_type', 'text', (c) => c.notNull())
      .addColumn('created_at', 'bigint', (c) => c.notNull())
      .addColumn('last_used_at', 'bigint')
      .execute();
    await db.schema.createIndex('webauthn_credentials_user').on('webauthn_credentials').column('user_id').execute();

    // Apps gain what the authorization code flow needs; existing apps are confidential
    // client-credentials apps.
    await db.schema.alterTable('apps').addColumn('redirect_uris', 'text', (c) => c.notNull().defaultTo('[]')).execute();
    await db.schema.alterTable('apps').addColumn('app_type', 'text', (c) => c.notNull().defaultTo('confidential')).execute();
    await db.schema.alterTable('apps').addColumn('grant_types', 'text', (c) => c.notNull().defaultTo('["client_credentials"]')).execute();
    await db.schema.alterTable('apps').addColumn('post_logout_redirect_uris', 'text', (c) => c.notNull().defaultTo('[]')).execute();
    await db.schema.alterTable('apps').addColumn('mfa_required', 'integer', (c) => c.notNull().defaultTo(0)).execute();
  },

  async down(db: Kysely<unknown>): Promise<void> {
    for (const col of ['mfa_required', 'post_logout_redirect_uris', 'grant_types', 'app_type', 'redirect_uris']) await db.schema.alterTable('apps').dropColumn(col).execute();
    for (const t of ['webauthn_credentials', 'oidc_models', 'users']) await db.schema.dropTable(t).execute();
  },
};
