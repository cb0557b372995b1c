/**
 * A webhook subscription counts its deliveries abandoned in a row
 * (`webhooks.consecutive_abandoned`, reset by one delivered) and is disabled when the count
 * reaches `webhooks.disableAfterAbandoned` (`disabled_at`, epoch ms, and `disabled_reason`):
 * no event is queued for it until an operator enables it again. A row from before this
 * migration is active with a count of 0.
 */
import type { Kysely, Migration } from 'kysely';

export const webhookDisabled: Migration = {
  async up(db: Kysely<unknown>): Promise<void> {
    await db.schema.alterTable('webhooks').addColumn('consecutive_abandoned', 'integer', (c) => c.notNull().defaultTo(0)).execute();
    await db.schema.alterTable('webhooks').addColumn('disabled_at', 'bigint').execute();
    await db.schema.alterTable('webhooks').addColumn('disabled_reason', 'text').execute();
  },

  async down(db: Kysely<unknown>): Promise<void> {
    await db.schema.alterTable('webhooks').dropColumn('disabled_reason').execute();
    await db.schema.alterTable('webhooks').dropColumn('disabled_at').execute();
    await db.schema.alterTable('webhooks').dropColumn('consecutive_abandoned').execute();
  },
};
