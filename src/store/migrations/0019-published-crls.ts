/**
 * The CRL each CA last published (`published_crls`, CertificateStore.publishCrlIfUnchanged): every
 * node of a cluster serves this one, so two nodes never serve different CRL numbers for
 * one issuer and a restarted node serves the number it served before (RFC 5280 §5.2.3:
 * the number is "a monotonically increasing sequence number for a given CRL scope and
 * CRL issuer"). Written under the `crl_numbers` row lock of its CA; its number is the
 * counter's value when it was published. Times are epoch ms.
 */
import type { Kysely, Migration } from 'kysely';
import { binaryType } from './0002-pki.js';

export const publishedCrls: Migration = {
  async up(db: Kysely<unknown>): Promise<void> {
    await db.schema
      .createTable('published_crls')
      .addColumn('issuer_id', 'text', (c) => c.primaryKey())
      .addColumn('number', 'bigint', (c) => c.notNull())
      .addColumn('this_update', 'bigint', (c) => c.notNull())
      .addColumn('next_update', 'bigint', (c) => c.notNull())
      .addColumn('entries_digest', 'text', (c) => c.notNull())
      .addColumn('der', binaryType(db), (c) => c.notNull())
      .execute();
  },

  async down(db: Kysely<unknown>): Promise<void> {
    await db.schema.dropTable('published_crls').execute();
  },
};
