/** Queries on the `webhooks` and `webhook_deliveries` tables (WebhookStore). */
import type { Kysely, Selectable } from 'kysely';
import { PortcullisError } from '../../core/errors.js';
import type { CreatedCursor, PageRequest } from '../../core/page.js';
import type { AttemptResult, DeliveryRecord, WebhookEvents, WebhookRecord } from '../../webhooks/store.js';
import { after, before } from './keyset.js';
import type { Database, WebhookDeliveriesTable, WebhooksTable } from './schema.js';

function webhookFromRow(r: Selectable<WebhooksTable>): WebhookRecord {
  return { id: r.id, url: r.url, events: JSON.parse(r.events) as string[], description: r.description, createdAt: r.created_at };
}

function deliveryFromRow(r: Selectable<WebhookDeliveriesTable>): DeliveryRecord {
  return {
    id: r.id,
    webhookId: r.webhook_id,
    eventId: r.event_id,
    eventType: r.event_type,
    payload: r.payload,
    status: r.status as DeliveryRecord['status'],
    attempts: r.attempts,
    nextAttemptAt: r.next_attempt_at,
    leaseUntil: r.lease_until,
    leaseOwner: r.lease_owner,
    lastStatus: r.last_status,
    lastError: r.last_error,
    createdAt: r.created_at,
    updatedAt: r.updated_at,
    deliveredAt: r.delivered_at,
  };
}

function deliveryToRow(d: DeliveryRecord): WebhookDeliveriesTable {
  return {
    id: d.id,
    webhook_id: d.webhookId,
    event_id: d.eventId,
    event_type: d.eventType,
    payload: d.payload,
    status: d.status,
    attempts: d.attempts,
    next_attempt_at: d.nextAttemptAt,
    lease_until: d.leaseUntil,
    lease_owner: d.leaseOwner,
    last_status: d.lastStatus,
    last_error: d.lastError,
    created_at: d.createdAt,
    updated_at: d.updatedAt,
    delivered_at: d.deliveredAt,
  };
}

export async function insertWebhook(db: Kysely<Database>, w: WebhookRecord): Promise<void> {
  const r = await db
    .insertInto('webhooks')
    .values({ id: w.id, url: w.url, events: JSON.stringify(w.events), description: w.description, created_at: w.createdAt })
    .onConflict((oc) => oc.column('id').doNothing())
    .executeTakeFirst();
  if (Number(r.numInsertedOrUpdatedRows ?? 0) === 0) throw new PortcullisError('conflict', `a webhook with id ${w.id} exists`);
}

/** Replaces a subscription's stored URL (its sealed form: webhooks/sealed-urls.ts). */
export async function setWebhookUrl(db: Kysely<Database>, id: string, url: string): Promise<void> {
  await db.updateTable('webhooks').set({ url }).where('id', '=', id).execute();
}

export async function getWebhook(db: Kysely<Database>, id: string): Promise<WebhookRecord | undefined> {
  const r = await db.selectFrom('webhooks').selectAll().where('id', '=', id).executeTakeFirst();
  return r && webhookFromRow(r);
}

export async function listWebhooks(db: Kysely<Database>, page?: PageRequest): Promise<WebhookRecord[]> {
  let q = db.selectFrom('webhooks').selectAll();
  if (page?.after !== undefined) q = q.where(after('created_at', 'id', page.after.createdAt, page.after.id));
  q = q.orderBy('created_at').orderBy('id');
  if (page !== undefined) q = q.limit(page.limit);
  return (await q.execute()).map(webhookFromRow);
}

export async function listWebhookEvents(db: Kysely<Database>): Promise<WebhookEvents[]> {
  const rows = await db.selectFrom('webhooks').select(['id', 'events']).orderBy('created_at').orderBy('id').execute();
  return rows.map((r) => ({ id: r.id, events: JSON.parse(r.events) as string[] }));
}

export async function deleteWebhook(db: Kysely<Database>, id: string): Promise<boolean> {
  return db.transaction().execute(async (trx) => {
    const r = await trx.deleteFrom('webhooks').where('id', '=', id).executeTakeFirst();
    await trx.deleteFrom('webhook_deliveries').where('webhook_id', '=', id).execute();
    return Number(r.numDeletedRows) > 0;
  });
}

export async function insertDeliveries(db: Kysely<Database>, deliveries: DeliveryRecord[]): Promise<void> {
  if (deliveries.length === 0) return;
  await db.insertInto('webhook_deliveries').values(deliveries.map(deliveryToRow)).execute();
}

/**
 * Reads candidates, then claims each with a conditional update whose WHERE repeats
 * the "due and free" test: of two concurrent claimers exactly one updates the row
 * (SQLite serialises writers; PostgreSQL re-checks the WHERE after the other commits).
 *
 * With `perWebhook`, `owner` holds at most that many leases per subscription (those it
 * holds already count): candidates of a subscription at its cap are skipped, and the
 * next-due rows of the others are read instead, so one subscription's backlog cannot
 * take every place. Within a subscription rows are still claimed earliest-due first.
 */
export async function claimDueDeliveries(db: Kysely<Database>, now: number, limit: number, owner: string, leaseMs: number, perWebhook = Infinity): Promise<DeliveryRecord[]> {
  const capped = Number.isFinite(perWebhook);
  const held = new Map<string, number>();
  if (capped) {
    // a lease is taken while due, so the owner's live leases lie in the due range of the index
    const rows = await db
      .selectFrom('webhook_deliveries')
      .select((eb) => ['webhook_id', eb.fn.countAll<number | string | bigint>().as('n')])
      .where('status', '=', 'pending')
      .where('next_attempt_at', '<=', now)
      .where('lease_owner', '=', owner)
      .where('lease_until', '>', now)
      .groupBy('webhook_id')
      .execute();
    for (const r of rows) held.set(r.webhook_id, Number(r.n));
  }
  const full = new Set([...held].filter(([, n]) => n >= perWebhook).map(([w]) => w));
  const leaseUntil = now + leaseMs;
  const claimed: DeliveryRecord[] = [];
  for (;;) {
    const want = limit - claimed.length;
    if (want <= 0) return claimed;
    let q = db
      .selectFrom('webhook_deliveries')
      .select(['id', 'webhook_id'])
      .where('status', '=', 'pending')
      .where('next_attempt_at', '<=', now)
      .where('lease_until', '<=', now);
    if (full.size > 0) q = q.where('webhook_id', 'not in', [...full]);
    const candidates = await q.orderBy('next_attempt_at').orderBy('id').limit(want).execute();
    let skipped = false;
    for (const { id, webhook_id } of candidates) {
      if (full.has(webhook_id)) {
        skipped = true;
        continue;
      }
      const r = await db
        .updateTable('webhook_deliveries')
        .set({ lease_until: leaseUntil, lease_owner: owner })
        .where('id', '=', id)
        .where('status', '=', 'pending')
        .where('next_attempt_at', '<=', now)
        .where('lease_until', '<=', now)
        .returningAll()
        .executeTakeFirst();
      if (!r) continue;
      claimed.push(deliveryFromRow(r));
      const n = (held.get(webhook_id) ?? 0) + 1;
      held.set(webhook_id, n);
      if (n >= perWebhook) full.add(webhook_id);
    }
    // read again only past rows skipped for a cap; each round adds a subscription to `full`
    if (!skipped || candidates.length < want) return claimed;
  }
}

export async function recordAttempt(db: Kysely<Database>, id: string, owner: string, leaseUntil: number, result: AttemptResult): Promise<boolean> {
  const r = await db
    .updateTable('webhook_deliveries')
    .set((eb) => ({
      attempts: eb('attempts', '+', 1),
      status: result.status,
      next_attempt_at: result.nextAttemptAt,
      last_status: result.lastStatus,
      last_error: result.lastError,
      updated_at: result.at,
      delivered_at: result.status === 'delivered' ? result.at : null,
      lease_until: 0,
      lease_owner: null,
    }))
    .where('id', '=', id)
    .where('lease_owner', '=', owner)
    .where('lease_until', '=', leaseUntil)
    .executeTakeFirst();
  return Number(r.numUpdatedRows) > 0;
}

export async function getDelivery(db: Kysely<Database>, id: string): Promise<DeliveryRecord | undefined> {
  const r = await db.selectFrom('webhook_deliveries').selectAll().where('id', '=', id).executeTakeFirst();
  return r && deliveryFromRow(r);
}

const PURGE_BATCH = 1000;

/** Finished rows carry the time they finished in `next_attempt_at` (recordAttempt), so the due index serves the purge; deleted a batch at a time. */
export async function purgeDeliveries(db: Kysely<Database>, before: number): Promise<number> {
  let purged = 0;
  for (;;) {
    const batch = db.selectFrom('webhook_deliveries').select('id').where('status', 'in', ['delivered', 'failed']).where('next_attempt_at', '<', before).limit(PURGE_BATCH);
    const r = await db.deleteFrom('webhook_deliveries').where('id', 'in', batch).executeTakeFirst();
    const n = Number(r.numDeletedRows);
    purged += n;
    if (n < PURGE_BATCH) return purged;
  }
}

export async function listDeliveries(db: Kysely<Database>, webhookId: string, limit: number, older?: CreatedCursor): Promise<DeliveryRecord[]> {
  let q = db.selectFrom('webhook_deliveries').selectAll().where('webhook_id', '=', webhookId);
  if (older !== undefined) q = q.where(before('created_at', 'id', older.createdAt, older.id));
  const rows = await q.orderBy('created_at', 'desc').orderBy('id', 'desc').limit(limit).execute();
  return rows.map(deliveryFromRow);
}
