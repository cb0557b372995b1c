/**
 * An index on a subscription's queue (webhook id, status, due time, id: the claim's order), so the capped claim
 * (store/durable/webhooks.ts) reads each subscription's next due rows, and the distinct
 * subscriptions with rows, by seeks that stop after a few rows: one subscription's backlog
 * of due deliveries is not walked on every tick.
 */
import type { Kysely, Migration } from 'kysely';

export const webhookDeliveryPerSubscription: Migration = {
  async up(db: Kysely<unknown>): Promise<void> {
    await db.schema.createIndex('webhook_deliveries_webhook_due').on('webhook_deliveries').columns(['webhook_id', 'status', 'next_attempt_at', 'id']).execute();
  },

  async down(db: Kysely<unknown>): Promise<void> {
    await db.schema.dropIndex('webhook_deliveries_webhook_due').execute();
  },
};
