/**
 * The certificate authority's tables (CertificateStore): issued certificates, CA
 * records with their sealed keys, and one CRL number counter per CA.
 */
import { PostgresAdapter, type Kysely, type Migration } from 'kysely';

/** DER is kept as bytes: `bytea` on PostgreSQL, `blob` on SQLite. */
export function binaryType(db: Kysely<unknown>): 'bytea' | 'blob' {
  return db.getExecutor().adapter instanceof PostgresAdapter ? 'bytea' : 'blob';
}

export const pki: Migration = {
  async up(db: Kysely<unknown>): Promise<void> {
    const bytes = binaryType(db);
    await db.schema
      .createTable('certificates')
      .addColumn('serial', 'text', (c) => c.primaryKey())
      .addColumn('issuer_id', 'text', (c) => c.notNull())
      .addColumn('subject', 'text', (c) => c.notNull())
      .addColumn('owner', 'text')
      .addColumn('profile', 'text', (c) => c.notNull())
      .addColumn('not_before', 'bigint', (c) => c.notNull())
      .addColumn('not_after', 'bigint', (c) => c.notNull())
      .addColumn('status', 'text', (c) => c.notNull())
      .addColumn('revoked_at', 'bigint')
      .addColumn('reason', 'text')
      .addColumn('der', bytes, (c) => c.notNull())
      .execute();
    await db.schema.createIndex('certificates_issuer_status').on('certificates').columns(['issuer_id', 'status']).execute();
    await db.schema.createIndex('certificates_owner').on('certificates').column('owner').execute();
    await db.schema.createIndex('certificates_not_after').on('certificates').column('not_after').execute();

    // active is 0/1 (SQLite has no boolean); at most one active per role is kept by
    // activateCa's single UPDATE, not by a unique index, which PostgreSQL would check
    // row by row in the middle of that statement.
    await db.schema
      .createTable('certificate_authorities')
      .addColumn('id', 'text', (c) => c.primaryKey())
      .addColumn('role', 'text', (c) => c.notNull())
      .addColumn('cert_der', bytes, (c) => c.notNull())
      .addColumn('signer_kind', 'text', (c) => c.notNull())
      .addColumn('key_ref', 'text')
      .addColumn('active', 'integer', (c) => c.notNull().defaultTo(0))
      .addColumn('created_at', 'bigint', (c) => c.notNull())
      .execute();

    // The last CRL number handed out per CA: incremented in the database so that
    // every node draws from one sequence (RFC 5280 §5.2.3: monotonically increasing).
    await db.schema
      .createTable('crl_numbers')
      .addColumn('issuer_id', 'text', (c) => c.primaryKey())
      .addColumn('last_number', 'bigint', (c) => c.notNull())
      .execute();
  },

  async down(db: Kysely<unknown>): Promise<void> {
    for (const t of ['crl_numbers', 'certificate_authorities', 'certificates']) await db.schema.dropTable(t).execute();
  },
};
