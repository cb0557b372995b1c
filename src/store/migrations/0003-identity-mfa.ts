/**
 * Sign-in tables: password hashes (PasswordStore) and second factors (MfaStore):
 * enrolments and recovery codes.
 */
import type { Kysely, Migration } from 'kysely';

export const identityMfa: Migration = {
  async up(db: Kysely<unknown>): Promise<void> {
    // One row per user with a password; a users table, when one exists, refers to it by user_id.
    await db.schema
      .createTable('password_hashes')
      .addColumn('user_id', 'text', (c) => c.primaryKey())
      .addColumn('hash', 'text', (c) => c.notNull())
      .execute();

    await db.schema
      .createTable('mfa_enrollments')
      .addColumn('user_id', 'text', (c) => c.notNull())
      .addColumn('factor_id', 'text', (c) => c.notNull())
      .addColumn('status', 'text', (c) => c.notNull())
      .addColumn('data', 'text', (c) => c.notNull())
      .addColumn('created_at', 'bigint', (c) => c.notNull())
      .addColumn('confirmed_at', 'bigint')
      .addPrimaryKeyConstraint('mfa_enrollments_pk', ['user_id', 'factor_id'])
      .execute();

    // hash is the hex SHA-256 of the code bound to the user; the code itself is never stored.
    await db.schema
      .createTable('mfa_recovery_codes')
      .addColumn('user_id', 'text', (c) => c.notNull())
      .addColumn('idx', 'integer', (c) => c.notNull())
      .addColumn('hash', 'text', (c) => c.notNull())
      .addColumn('used_at', 'bigint')
      .addColumn('created_at', 'bigint', (c) => c.notNull())
      .addPrimaryKeyConstraint('mfa_recovery_codes_pk', ['user_id', 'idx'])
      .execute();
  },

  async down(db: Kysely<unknown>): Promise<void> {
    for (const t of ['mfa_recovery_codes', 'mfa_enrollments', 'password_hashes']) await db.schema.dropTable(t).execute();
  },
};
