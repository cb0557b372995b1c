/**
 * The last time step accepted for an enrolment (TOTP's replay guard, RFC 6238 §5.2),
 * kept with the enrolment instead of in the ephemeral store, which forgets it on a
 * restart: a code used just before one was accepted again after it.
 */
import type { Kysely, Migration } from 'kysely';

export const mfaLastStep: Migration = {
  async up(db: Kysely<unknown>): Promise<void> {
    await db.schema.alterTable('mfa_enrollments').addColumn('last_step', 'bigint').execute();
  },

  async down(db: Kysely<unknown>): Promise<void> {
    await db.schema.alterTable('mfa_enrollments').dropColumn('last_step').execute();
  },
};
