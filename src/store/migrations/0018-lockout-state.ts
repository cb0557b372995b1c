/**
 * Sign-in failure counters and locks kept durably (`lockout_state`, identity/lockout.ts),
 * for nodes whose ephemeral store is their memory: a restart, or a crash an attacker
 * provokes, wiped every counter and lock, and a locked account could be guessed again at
 * once. One row per counter (namespace and step) and subject; times are epoch ms.
 */
import type { Kysely, Migration } from 'kysely';

export const lockoutState: Migration = {
  async up(db: Kysely<unknown>): Promise<void> {
    await db.schema
      .createTable('lockout_state')
      .addColumn('counter', 'text', (c) => c.notNull())
      .addColumn('subject', 'text', (c) => c.notNull())
      .addColumn('failures', 'integer', (c) => c.notNull())
      .addColumn('window_ends_at', 'bigint', (c) => c.notNull())
      .addColumn('delayed_until', 'bigint', (c) => c.notNull())
      .addColumn('locked_until', 'bigint', (c) => c.notNull())
      .addPrimaryKeyConstraint('lockout_state_pk', ['counter', 'subject'])
      .execute();
  },

  async down(db: Kysely<unknown>): Promise<void> {
    await db.schema.dropTable('lockout_state').execute();
  },
};
