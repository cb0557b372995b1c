/** Queries on the `webhooks` and `webhook_deliveries` tables (WebhookStore). */
import { sql, type Kysely, type Selectable } from 'kysely';
import { PortcullisError } from '../../core/errors.js';
import type { CreatedCursor, PageRequest } from '../../core/page.js';
import type { AbandonedCount, AttemptResult, DeliveryCap, DeliveryRecord, NewWebhook, WebhookEvents, WebhookRecord } from '../../webhooks/store.js';
import { after, before } from './keyset.js';
import type { Database, WebhookDeliveriesTable, WebhooksTable } from './schema.js';

function webhookFromRow(r: Selectable<WebhooksTable>): WebhookRecord {
  return {
    id: r.id,
    url: r.url,
    events: JSON.parse(r.events) as string[],
    description: r.description,
    createdAt: Number(r.created_at),
    consecutiveAbandoned: Number(r.consecutive_abandoned),
    disabledAt: r.disabled_at === null ? null : Number(r.disabled_at),
    disabledReason: r.disabled_reason,
  };
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

export async function insertWebhook(db: Kysely<Database>, w: NewWebhook): Promise<void> {
  const r = await db
    .insertInto('webhooks')
    .values({ id: w.id, url: w.url, events: JSON.stringify(w.events), description: w.description, created_at: w.createdAt, consecutive_abandoned: 0, disabled_at: null, disabled_reason: null })
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
  const rows = await db.selectFrom('webhooks').select(['id', 'events']).where('disabled_at', 'is', null).orderBy('created_at').orderBy('id').execute();
  return rows.map((r) => ({ id: r.id, events: JSON.parse(r.events) as string[] }));
}

export async function deleteWebhook(db: Kysely<Database>, id: string): Promise<boolean> {
  return db.transaction().execute(async (trx) => {
    const r = await trx.deleteFrom('webhooks').where('id', '=', id).executeTakeFirst();
    await trx.deleteFrom('webhook_deliveries').where('webhook_id', '=', id).execute();
    return Number(r.numDeletedRows) > 0;
  });
}

/**
 * One statement counts the abandoned delivery (each caller gets its own count); a second,
 * conditional on the subscription being still active and at the limit, disables it: of
 * concurrent callers only one such update applies (SQLite serialises writers; PostgreSQL
 * re-checks the WHERE once the other commits), so the disable is reported once. Its pending
 * deliveries end with it, in the same transaction; one under way is recorded by its worker,
 * which ends it too if it is claimed again (worker.ts).
 */
export async function recordAbandoned(db: Kysely<Database>, id: string, limit: number, at: number, reason: string): Promise<AbandonedCount> {
  return db.transaction().execute(async (trx) => {
    const counted = await trx
      .updateTable('webhooks')
      .set((eb) => ({ consecutive_abandoned: eb('consecutive_abandoned', '+', 1) }))
      .where('id', '=', id)
      .returning('consecutive_abandoned')
      .executeTakeFirst();
    if (!counted) return { consecutive: 0, disabled: false };
    const consecutive = Number(counted.consecutive_abandoned);
    if (consecutive < limit) return { consecutive, disabled: false };
    const r = await trx.updateTable('webhooks').set({ disabled_at: at, disabled_reason: reason }).where('id', '=', id).where('disabled_at', 'is', null).executeTakeFirst();
    const disabled = Number(r.numUpdatedRows) > 0;
    if (disabled) {
      await trx
        .updateTable('webhook_deliveries')
        .set({ status: 'failed', next_attempt_at: at, last_error: 'webhook-disabled', updated_at: at })
        .where('webhook_id', '=', id)
        .where('status', '=', 'pending')
        .where('lease_until', '<=', at)
        .execute();
    }
    return { consecutive, disabled };
  });
}

export async function recordDelivered(db: Kysely<Database>, id: string): Promise<void> {
  await db.updateTable('webhooks').set({ consecutive_abandoned: 0 }).where('id', '=', id).where('consecutive_abandoned', '<>', 0).execute();
}

export async function enableWebhook(db: Kysely<Database>, id: string): Promise<boolean> {
  const r = await db.updateTable('webhooks').set({ disabled_at: null, disabled_reason: null, consecutive_abandoned: 0 }).where('id', '=', id).where('disabled_at', 'is not', null).executeTakeFirst();
  return Number(r.numUpdatedRows) > 0;
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
 * With a `cap`, the claim goes per subscription (claimCapped), so one subscription's
 * backlog cannot take every place, nor be read on every claim.
 */
export async function claimDueDeliveries(db: Kysely<Database>, now: number, limit: number, owner: string, leaseMs: number, cap?: DeliveryCap): Promise<DeliveryRecord[]> {
  if (cap !== undefined) return claimCapped(db, now, limit, owner, leaseMs, cap);
  const candidates = await db
    .selectFrom('webhook_deliveries')
    .select('id')
    .where('status', '=', 'pending')
    .where('next_attempt_at', '<=', now)
    .where('lease_until', '<=', now)
    .orderBy('next_attempt_at')
    .orderBy('id')
    .limit(limit)
    .execute();
  const claimed: DeliveryRecord[] = [];
  for (const { id } of candidates) {
    const r = await claimOne(db, id, now, now + leaseMs, owner);
    if (r) claimed.push(r);
  }
  return claimed;
}

/**
 * The compare-and-set on one row's lease, counting the attempt in the same statement (so an
 * attempt that outlives its lease and is never recorded still counts toward the maximum);
 * undefined when it is no longer due and free.
 */
async function claimOne(db: Kysely<Database>, id: string, now: number, leaseUntil: number, owner: string): Promise<DeliveryRecord | undefined> {
  const r = await db
    .updateTable('webhook_deliveries')
    .set((eb) => ({ lease_until: leaseUntil, lease_owner: owner, attempts: eb('attempts', '+', 1) }))
    .where('id', '=', id)
    .where('status', '=', 'pending')
    .where('next_attempt_at', '<=', now)
    .where('lease_until', '<=', now)
    .returningAll()
    .executeTakeFirst();
  return r && deliveryFromRow(r);
}

/** Rounds of re-reading a subscription whose rows other claimers took between read and claim. */
const CAPPED_ROUNDS = 4;

/**
 * Each subscription's first `perWebhook - held` due, free rows (index
 * webhook_deliveries_webhook_due: a seek that stops after them), claimed earliest due
 * first across subscriptions until `limit`. The subscriptions are the distinct webhook
 * ids of the queue, read by a loose index scan (one seek per id), so a delivery queued
 * while its subscription was removed is still claimed and ended by the worker. What is
 * read is bounded by the number of subscriptions times the cap (plus rows leased by
 * others and still due), never by a backlog. A subscription that lost a row to another
 * claimer is read again, past it, for a few rounds.
 */
async function claimCapped(db: Kysely<Database>, now: number, limit: number, owner: string, leaseMs: number, cap: DeliveryCap): Promise<DeliveryRecord[]> {
  const held = new Map(cap.held ?? []);
  const room = (w: string) => Math.max(0, cap.perWebhook - (held.get(w) ?? 0));
  const leaseUntil = now + leaseMs;
  const claimed: DeliveryRecord[] = [];
  let open = (await queuedWebhookIds(db)).filter((w) => room(w) > 0);
  for (let round = 0; round < CAPPED_ROUNDS && open.length > 0 && claimed.length < limit; round++) {
    const want = limit - claimed.length;
    const candidates: { id: string; webhook_id: string; next_attempt_at: number }[] = [];
    for (const w of open) candidates.push(...(await dueFreeOf(db, w, now, Math.min(room(w), want))));
    candidates.sort((a, b) => a.next_attempt_at - b.next_attempt_at || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
    const lost = new Set<string>();
    for (const c of candidates) {
      if (claimed.length >= limit) break;
      if (room(c.webhook_id) === 0) continue;
      const r = await claimOne(db, c.id, now, leaseUntil, owner);
      if (!r) {
        lost.add(c.webhook_id);
        continue;
      }
      claimed.push(r);
      held.set(c.webhook_id, (held.get(c.webhook_id) ?? 0) + 1);
    }
    open = [...lost].filter((w) => room(w) > 0);
  }
  return claimed;
}

/** One subscription's next `n` due, free rows, earliest first. Exported for the query-plan test. */
export function dueFreeQuery(db: Kysely<Database>, webhookId: string, now: number, n: number) {
  return db
    .selectFrom('webhook_deliveries')
    .select(['id', 'webhook_id', 'next_attempt_at'])
    .where('webhook_id', '=', webhookId)
    .where('status', '=', 'pending')
    .where('next_attempt_at', '<=', now)
    .where('lease_until', '<=', now)
    .orderBy('next_attempt_at')
    .orderBy('id')
    .limit(n);
}

async function dueFreeOf(db: Kysely<Database>, webhookId: string, now: number, n: number): Promise<{ id: string; webhook_id: string; next_attempt_at: number }[]> {
  if (n <= 0) return [];
  const rows = await dueFreeQuery(db, webhookId, now, n).execute();
  return rows.map((r) => ({ id: r.id, webhook_id: r.webhook_id, next_attempt_at: Number(r.next_attempt_at) }));
}

/**
 * The distinct webhook ids with rows in the queue, by a loose index scan: each step seeks
 * the next id past the previous one on an index led by webhook_id, so the cost follows the
 * number of subscriptions, not of rows. Exported for the query-plan test.
 */
export const queuedWebhookIdsSql = sql<{ webhook_id: string | null }>`
  with recursive w(webhook_id) as (
    select (select webhook_id from webhook_deliveries order by webhook_id limit 1)
    union all
    select (select d.webhook_id from webhook_deliveries d where d.webhook_id > w.webhook_id order by d.webhook_id limit 1) from w where w.webhook_id is not null
  )
  select webhook_id from w where webhook_id is not null`;

async function queuedWebhookIds(db: Kysely<Database>): Promise<string[]> {
  const { rows } = await queuedWebhookIdsSql.execute(db);
  return rows.flatMap((r) => (r.webhook_id === null ? [] : [r.webhook_id]));
}

export async function recordAttempt(db: Kysely<Database>, id: string, owner: string, leaseUntil: number, result: AttemptResult): Promise<boolean> {
  const r = await db
    .updateTable('webhook_deliveries')
    .set({
      status: result.status,
      next_attempt_at: result.nextAttemptAt,
      last_status: result.lastStatus,
      last_error: result.lastError,
      updated_at: result.at,
      delivered_at: result.status === 'delivered' ? result.at : null,
      lease_until: 0,
      lease_owner: null,
    })
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
