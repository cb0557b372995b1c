/**
 * The audit chain's head authenticated: `audit_head.mac`, an HMAC-SHA-256 of the head's
 * seq and hash under the deployment's audit key (sealed at rest, see audit/head-key.ts),
 * written by every append. A head recorded before this migration has none (NULL): it is
 * accepted only while it is the very head sealed with the audit key when that key was
 * created (its `legacy` head), and gets its MAC with the next append.
 */
import type { Kysely, Migration } from 'kysely';

export const auditHeadMac: Migration = {
  async up(db: Kysely<unknown>): Promise<void> {
    await db.schema.alterTable('audit_head').addColumn('mac', 'text').execute();
  },

  async down(db: Kysely<unknown>): Promise<void> {
    await db.schema.alterTable('audit_head').dropColumn('mac').execute();
  },
};
