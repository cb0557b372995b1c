/**
 * A WebAuthn credential can be suspended (`webauthn_credentials.suspended_at`, epoch ms):
 * set when an assertion whose signature verifies carries a signature counter that went
 * back (WebAuthn L3 §6.1.1: a sign that the authenticator was cloned). Neither copy can
 * tell which is genuine, so both are refused until the user removes the credential and
 * registers a new one. A row from before this migration is not suspended (NULL).
 */
import type { Kysely, Migration } from 'kysely';

export const webauthnSuspended: Migration = {
  async up(db: Kysely<unknown>): Promise<void> {
    await db.schema.alterTable('webauthn_credentials').addColumn('suspended_at', 'bigint').execute();
  },

  async down(db: Kysely<unknown>): Promise<void> {
    await db.schema.alterTable('webauthn_credentials').dropColumn('suspended_at').execute();
  },
};
