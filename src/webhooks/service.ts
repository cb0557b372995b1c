/**
 * Webhook subscriptions and the enqueueing of events. Each audit record that raises
 * a webhook event (see events.ts) becomes one pending delivery per matching
 * subscription, written to the durable queue; the delivery worker sends them. An
 * event that cannot be queued is audited as `webhook.enqueue-failed`. A subscription
 * disabled after abandoned deliveries (worker.ts) is queued nothing: the events raised
 * while it is disabled are dropped for it (the audit trail keeps them).
 */
import { PortcullisError } from '../core/errors.js';
import { randomId } from '../core/ids.js';
import type { PageRequest } from '../core/page.js';
import type { Clock } from '../core/clock.js';
import type { Logger } from '../core/logger.js';
import type { AuditSink } from '../audit/sink.js';
import type { AuditEventInput } from '../audit/store.js';
import { WEBHOOK_EVENT_TYPES, toWebhookEvent, webhookTypeOf } from './events.js';
import type { DeliveryRecord, WebhookRecord, WebhookStore } from './store.js';
import { refusedPlainHttp } from './plain-http.js';
import { forbiddenHost, forbiddenHostClass } from './target.js';

export interface SubscribeInput {
  url: string;
  /** Event types, or `['*']` for every type. */
  events: string[];
  description?: string;
}

export interface TargetPolicy {
  /** Loopback, private and other special-use addresses, never cloud metadata ones (config `webhooks.allowPrivateTargets`). */
  allowPrivateTargets?: boolean;
  /** Plain `http:` beyond loopback IP literals (config `webhooks.allowInsecureHttp`). */
  allowInsecureHttp?: boolean;
}

function checkUrl(raw: string, { allowPrivateTargets = false, allowInsecureHttp = false }: TargetPolicy): string {
  let u: URL;
  try {
    u = new URL(raw);
  } catch {
    throw new PortcullisError('request.invalid', 'url: not an absolute URL');
  }
  if (u.protocol !== 'https:' && u.protocol !== 'http:') throw new PortcullisError('request.invalid', 'url: must be http or https');
  if (u.username || u.password) throw new PortcullisError('request.invalid', 'url: must not carry credentials');
  if (u.hash) throw new PortcullisError('request.invalid', 'url: must not have a fragment');
  // SSRF: names are checked again on every delivery, on the addresses they resolve to
  if (!allowPrivateTargets && forbiddenHost(u.hostname)) throw new PortcullisError('webhook.target-forbidden', 'url: not a public address (loopback, private, link-local and other special-use addresses need webhooks.allowPrivateTargets)');
  // the opt-in is for internal receivers: a cloud metadata endpoint stays refused
  if (allowPrivateTargets && forbiddenHostClass(u.hostname) === 'metadata') throw new PortcullisError('webhook.target-forbidden', 'url: a cloud metadata address, refused even with webhooks.allowPrivateTargets');
  if (refusedPlainHttp(u, allowInsecureHttp)) throw new PortcullisError('webhook.insecure-url', 'url: must be https (plain http only to a loopback IP literal, unless webhooks.allowInsecureHttp)');
  return u.href;
}

function checkEvents(events: string[]): string[] {
  if (events.length === 0) throw new PortcullisError('request.invalid', 'events: at least one event type (or "*")');
  if (events.includes('*')) return ['*'];
  for (const e of events) {
    if (!WEBHOOK_EVENT_TYPES.includes(e)) throw new PortcullisError('request.invalid', `events: unknown event type "${e}" (known: ${WEBHOOK_EVENT_TYPES.join(', ')})`);
  }
  return [...new Set(events)].sort();
}

export class WebhookService {
  private readonly pending = new Set<Promise<unknown>>();

  constructor(
    private readonly store: WebhookStore,
    private readonly audit: AuditSink,
    private readonly clock: Clock,
    private readonly logger: Logger,
    private readonly opts: TargetPolicy = {},
  ) {}

  /**
   * Follows an audit trail: every record that raises a webhook event is queued. The
   * trail's `flush` waits for those queued so far too, so a change acknowledged after a
   * flush has its deliveries in the durable queue (a crash right after loses none), or,
   * when they could not be written, its `webhook.enqueue-failed` record stored (the trail
   * writes what its peers record while it waits for them).
   */
  attach(trail: { onRecord(listener: (e: AuditEventInput) => void): void; addPeer?(flush: () => Promise<void>): void }): void {
    trail.addPeer?.(() => Promise.all([...this.pending]).then(() => undefined));
    trail.onRecord((e) => {
      const type = webhookTypeOf(e);
      if (type === undefined) return;
      const p = this.enqueue(type, e).catch((err: unknown) => {
        this.logger.error({ err, event: type }, 'could not queue webhook deliveries');
        // the subscribers never get this event: the trail says so (the driver's error code, never its message)
        const code = (err as { code?: unknown } | null)?.code;
        this.audit.record({
          time: this.clock.now(),
          type: 'webhook.enqueue-failed',
          actor: 'system',
          clientId: e.clientId ?? null,
          data: { event: type, record: e.type, recordTime: e.time, error: typeof code === 'string' ? code.slice(0, 100) : null },
        });
      });
      this.pending.add(p);
      void p.finally(() => this.pending.delete(p));
    });
  }

  /** Waits until every event seen so far is in the durable queue. */
  async flush(): Promise<void> {
    while (this.pending.size > 0) await Promise.all([...this.pending]);
  }

  /** Queues one event for every subscription that wants it; returns the number of deliveries. */
  async enqueue(type: string, e: AuditEventInput): Promise<number> {
    const subs = (await this.store.listWebhookEvents()).filter((w) => w.events.includes('*') || w.events.includes(type));
    if (subs.length === 0) return 0;
    const event = toWebhookEvent(`evt_${randomId(12)}`, type, e);
    const payload = JSON.stringify(event);
    const now = this.clock.now();
    const deliveries: DeliveryRecord[] = subs.map((w) => ({
      id: `dlv_${randomId(12)}`,
      webhookId: w.id,
      eventId: event.id,
      eventType: type,
      payload,
      status: 'pending',
      attempts: 0,
      nextAttemptAt: now,
      leaseUntil: 0,
      leaseOwner: null,
      lastStatus: null,
      lastError: null,
      createdAt: now,
      updatedAt: now,
      deliveredAt: null,
    }));
    await this.store.insertDeliveries(deliveries);
    return deliveries.length;
  }

  async subscribe(input: SubscribeInput, actor: string): Promise<WebhookRecord> {
    const description = input.description ?? null;
    if (description !== null && description.length > 200) throw new PortcullisError('request.invalid', 'description: at most 200 characters');
    const w: WebhookRecord = {
      id: `wh_${randomId(12)}`,
      url: checkUrl(input.url, this.opts),
      events: checkEvents(input.events),
      description,
      createdAt: this.clock.now(),
      consecutiveAbandoned: 0,
      disabledAt: null,
      disabledReason: null,
    };
    await this.store.insertWebhook(w);
    // the origin only: a receiver's credential is often in the URL's path or query (sealed-urls.ts)
    this.audit.record({ time: w.createdAt, type: 'webhook.created', actor, data: { id: w.id, origin: new URL(w.url).origin, events: w.events } });
    return w;
  }

  /** Subscriptions, oldest first; one page of them when `page` is given. */
  list(page?: PageRequest): Promise<WebhookRecord[]> {
    return this.store.listWebhooks(page);
  }

  async get(id: string): Promise<WebhookRecord> {
    const w = await this.store.getWebhook(id);
    if (!w) throw new PortcullisError('not-found', `no webhook ${id}`);
    return w;
  }

  /**
   * Enables a subscription disabled after abandoned deliveries (worker.ts), its count back
   * to 0, audited as `webhook.subscription-enabled`; events from now on are queued for it
   * (those raised while it was disabled are not). One that is active is returned as it is.
   */
  async enable(id: string, actor: string): Promise<WebhookRecord> {
    const enabled = await this.store.enableWebhook(id);
    const w = await this.get(id);
    if (enabled) this.audit.record({ time: this.clock.now(), type: 'webhook.subscription-enabled', actor, data: { id } });
    return w;
  }

  /** Removes the subscription; its pending deliveries are dropped. */
  async remove(id: string, actor: string): Promise<void> {
    if (!(await this.store.deleteWebhook(id))) throw new PortcullisError('not-found', `no webhook ${id}`);
    this.audit.record({ time: this.clock.now(), type: 'webhook.removed', actor, data: { id } });
  }

  /** The delivery log of one subscription, newest first; a page of it after `page.after` (the previous page's last) when given. */
  async deliveries(id: string, page: PageRequest = { limit: 100 }): Promise<DeliveryRecord[]> {
    await this.get(id);
    return this.store.listDeliveries(id, page.limit, page.after);
  }
}
