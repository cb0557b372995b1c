/**
 * The webhook delivery worker: on an interval, claims due deliveries (a lease in the
 * store, so two nodes never send the same attempt), POSTs each signed with RFC 9421,
 * and records the outcome. A 2xx answer delivers; anything else is retried with
 * exponential backoff (base · 2^(attempt−1), capped) until `maxAttempts`, then the
 * delivery is `failed`. Redirects are not followed (the signature covers the URL).
 * Each attempt is signed afresh and covers its `Portcullis-Delivery` id (sign.ts).
 * An attempt counts when it is claimed: one that outlives its lease (another claim
 * took the row, so its outcome is never recorded) still counts, and a delivery claimed
 * past `maxAttempts` is `failed` with `lease-lapsed`, not sent again. The lease must
 * be at least the attempt timeout plus {@link LEASE_MARGIN_MS} (else `config.invalid`).
 * A delivery whose subscription is gone (queued while it was being removed) is
 * `failed` at once with `webhook-removed`, never sent nor retried.
 *
 * SSRF: unless `allowPrivateTargets`, each attempt connects only to public addresses
 * (target.ts), checked on the address the connection resolves, not only when the
 * subscription was made; with it, the same check still refuses cloud metadata addresses
 * (class `metadata`), so the opt-in reaches internal receivers, never the instance's
 * credentials. A refused destination is logged as `target-forbidden`
 * alone, so the delivery log says nothing about what listens behind it. It is audited
 * too (`webhook.target-forbidden`, the webhook id and the class of the refused address,
 * never the URL), at most once per webhook and minute with the number of refusals, so a
 * host name rebinding to a private address cannot flood the trail (audit/event-window.ts).
 * Lookups of one name under way at once share one `dns.lookup` (target.ts `sharedLookups`),
 * so a receiver whose name server never answers holds one thread of libuv's pool, not one
 * per attempt.
 *
 * Giving up: a delivery `failed` after its last attempt (or claimed past it, `lease-lapsed`, or
 * whose stored URL does not open) is audited as `webhook.delivery-abandoned` (the webhook and
 * delivery ids, the event type, the attempts, the last error code and the URL's origin, never
 * the URL nor anything the receiver sent) and counted in `stats.abandoned` (/metrics). Only the
 * worker whose write of `failed` applied records it (the write is conditional on its claim),
 * so a delivery two nodes raced over is recorded once. One ended because its subscription is
 * gone is not: the removal is audited, and no subscriber is left to miss it.
 *
 * Disabling: each subscription counts its deliveries abandoned in a row (a delivered one
 * resets the count). The abandonment that brings the count to `disableAfterAbandoned`
 * disables the subscription (store `recordAbandoned`, exactly once across nodes): it is
 * audited as `webhook.subscription-disabled` (the webhook id, the count, the limit, the last
 * error code and the URL's origin, never the URL) and counted in `stats.disabled`. No event
 * is queued for a disabled subscription (service.ts), its pending deliveries end `failed`
 * with `webhook-disabled`, and one claimed while it is disabled (queued as it was being
 * disabled, or under way then) ends so too, never sent; neither counts as abandoned.
 *
 * Plain http: unless `allowInsecureHttp`, a subscription whose URL is `http:` to anything
 * but a loopback IP literal (plain-http.ts; stored before that rule, or while it was
 * allowed) is neither signed nor sent: the attempt fails with `insecure-url` and backs
 * off, so it goes out if the deployment allows it again before the attempts run out.
 */
import { lookup as dnsLookup } from 'node:dns';
import { Agent, fetch as undiciFetch, type Dispatcher } from 'undici';
import { CountedEvents } from '../audit/event-window.js';
import type { AuditSink } from '../audit/sink.js';
import { PortcullisError } from '../core/errors.js';
import { randomId } from '../core/ids.js';
import type { Clock } from '../core/clock.js';
import type { Logger } from '../core/logger.js';
import { sentTargetUri } from '../signatures/target-uri.js';
import type { WebhookSigner } from './sign.js';
import { refusedPlainHttp } from './plain-http.js';
import { DELIVERY_HEADER, WEBHOOK_TAG } from './tags.js';
import type { DeliveryRecord, WebhookRecord, WebhookStore } from './store.js';
import { ForbiddenTargetError, forbiddenHostClass, noMetadataLookupWith, publicOnlyLookupWith, sharedLookups, type AddressClass, type ResolveAll } from './target.js';

export interface DeliveryWorkerOptions {
  /** How often to look for due deliveries (default 1 s). */
  intervalMs?: number;
  /** Most attempts under way at once (default 20); each tick claims as many as there are free places. */
  batch?: number;
  /**
   * Most of those places one subscription may hold (default a quarter of `batch`, at least 1), so a
   * receiver that answers only at the timeout cannot take every place in an event storm to it.
   */
  perWebhook?: number;
  /** How long a claim holds before another node may retry the delivery (default 60 s; at least `timeoutMs` + {@link LEASE_MARGIN_MS}). */
  leaseMs?: number;
  /** Per-attempt request timeout (default 10 s). */
  timeoutMs?: number;
  /** Delay after the first failed attempt (default 10 s); doubles each attempt. */
  baseDelayMs?: number;
  /** Longest delay between attempts (default 1 h). */
  maxDelayMs?: number;
  /** Attempts before a delivery is marked failed (default 12). */
  maxAttempts?: number;
  /** Random spread of each delay, as a fraction of it (default 0.1; 0 in tests): added, or taken off where adding would pass `maxDelayMs`. */
  jitter?: number;
  /** Identifies this worker's claims (default random). */
  owner?: string;
  /** Deliver to loopback, private, link-local and other non-public addresses too, never cloud metadata ones (config `webhooks.allowPrivateTargets`; default false). */
  allowPrivateTargets?: boolean;
  /** Deliver to plain `http:` URLs other than loopback IP literals (config `webhooks.allowInsecureHttp`; default false). */
  allowInsecureHttp?: boolean;
  /** Abandoned deliveries in a row (none delivered between) that disable a subscription (config `webhooks.disableAfterAbandoned`; default 5). */
  disableAfterAbandoned?: number;
  /** Where refused destinations (`webhook.target-forbidden`), deliveries given up (`webhook.delivery-abandoned`) and subscriptions disabled (`webhook.subscription-disabled`) are audited. */
  audit?: AuditSink;
  /** The resolver the connect-time address check asks (default `dns.lookup`; a stub in tests). */
  resolve?: ResolveAll;
  fetch?: typeof fetch;
}

const MAX_ERROR = 200;

/** A last error the audit may carry: a status (`HTTP 500`) or a code (`timeout`, `ECONNREFUSED`); anything else (an error's message) is `error`. */
const ERROR_CODE = /^(?:HTTP \d{3}|[A-Za-z][A-Za-z0-9_.-]{0,63})$/;

/** What a worker has done since it started, read at scrape time (/metrics). */
export interface DeliveryWorkerStats {
  /** Deliveries this worker gave up (`failed` after the last attempt), each counted by one worker only. */
  abandoned: number;
  /** Subscriptions this worker disabled after `disableAfterAbandoned` abandoned deliveries in a row, each counted by one worker only. */
  disabled: number;
}

/** How much longer than the attempt timeout a lease must be: the subscription read, signing and recording the outcome. */
export const LEASE_MARGIN_MS = 5000;

export class DeliveryWorker {
  private readonly o: Required<Omit<DeliveryWorkerOptions, 'fetch' | 'audit' | 'resolve'>>;
  private readonly fetch: typeof fetch;
  /** Connects only to public addresses (with `allowPrivateTargets`: to any but cloud metadata ones). */
  private readonly dispatcher: Dispatcher;
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<number> | undefined;
  /** The interval's claim in progress. */
  private claiming: Promise<void> | undefined;
  /** A delivery succeeded while a claim was in progress: claim again once it ends. */
  private refill = false;
  /** Attempts started by the interval and not yet recorded, with the subscription of each. */
  private readonly inFlight = new Map<Promise<void>, string>();
  /** Refused destinations per webhook, audited at most once a window each. */
  private readonly refusals: CountedEvents<string, AddressClass> | undefined;
  private readonly audit: AuditSink | undefined;
  readonly stats: DeliveryWorkerStats = { abandoned: 0, disabled: 0 };

  constructor(
    private readonly store: WebhookStore,
    private readonly signer: WebhookSigner,
    private readonly clock: Clock,
    private readonly logger: Logger,
    opts: DeliveryWorkerOptions = {},
  ) {
    this.o = {
      intervalMs: opts.intervalMs ?? 1000,
      batch: opts.batch ?? 20,
      perWebhook: Math.max(1, Math.floor(opts.perWebhook ?? (opts.batch ?? 20) / 4)),
      leaseMs: opts.leaseMs ?? 60_000,
      timeoutMs: opts.timeoutMs ?? 10_000,
      baseDelayMs: opts.baseDelayMs ?? 10_000,
      maxDelayMs: opts.maxDelayMs ?? 3_600_000,
      maxAttempts: opts.maxAttempts ?? 12,
      jitter: opts.jitter ?? 0.1,
      owner: opts.owner ?? randomId(8),
      allowPrivateTargets: opts.allowPrivateTargets ?? false,
      allowInsecureHttp: opts.allowInsecureHttp ?? false,
      disableAfterAbandoned: opts.disableAfterAbandoned ?? 5,
    };
    if (!(Number.isInteger(this.o.disableAfterAbandoned) && this.o.disableAfterAbandoned >= 1))
      throw new PortcullisError('config.invalid', `webhook delivery worker: disableAfterAbandoned (${this.o.disableAfterAbandoned}) must be a positive integer`);
    if (!(this.o.leaseMs >= this.o.timeoutMs + LEASE_MARGIN_MS))
      throw new PortcullisError('config.invalid', `webhook delivery worker: leaseMs (${this.o.leaseMs}) must be at least timeoutMs (${this.o.timeoutMs}) + ${LEASE_MARGIN_MS}, so an attempt ends before its lease lapses`);
    // one hanging name server holds one pool thread, not one per attempt under way to it
    const resolve = sharedLookups(opts.resolve ?? dnsLookup);
    this.dispatcher = new Agent({ connect: { lookup: this.o.allowPrivateTargets ? noMetadataLookupWith(resolve) : publicOnlyLookupWith(resolve) } });
    const audit = (this.audit = opts.audit);
    this.refusals =
      audit &&
      new CountedEvents((webhookId, r, now) =>
        audit.record({ time: now, type: 'webhook.target-forbidden', actor: 'system', clientId: null, reason: 'webhook.target-forbidden', data: { webhookId, addressClass: r.detail, count: r.count, since: r.since } }),
      );
    this.fetch = opts.fetch ?? (undiciFetch as unknown as typeof fetch);
  }

  /** The delay after attempt number `attempt` (1-based) failed. */
  delayAfter(attempt: number): number {
    const d = Math.min(this.o.maxDelayMs, this.o.baseDelayMs * 2 ** Math.max(0, attempt - 1));
    const spread = d * this.o.jitter * Math.random();
    // the cap is a promise ("at most 1 h"): at the cap the spread goes below it, so retries still do not line up
    return Math.round(d + spread <= this.o.maxDelayMs ? d + spread : d - spread);
  }

  start(): void {
    if (this.timer) return;
    this.timer = setInterval(() => this.tick(false), this.o.intervalMs);
    this.timer.unref();
  }

  /**
   * Claims for the free places, unless a claim is under way (then, for a refill, once
   * more after it). The interval ticks; a delivery that succeeded refills at once, so a
   * healthy receiver with a backlog is not held to `perWebhook` deliveries per interval.
   * A failed attempt waits for the tick: a receiver that is down is not sent its whole
   * backlog in a burst of failing attempts.
   */
  private tick(refill: boolean): void {
    if (this.timer === undefined || this.running) return;
    if (this.claiming) {
      if (refill) this.refill = true;
      return;
    }
    this.claiming = this.fill()
      .catch((err) => this.logger.warn({ err }, 'webhook delivery tick failed; will retry'))
      .finally(() => {
        this.claiming = undefined;
        if (this.refill) {
          this.refill = false;
          this.tick(true);
        }
      });
  }

  /** Stops the interval and waits for the tick and the attempts in progress. */
  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    await this.claiming;
    await this.running?.catch(() => undefined);
    await Promise.all([...this.inFlight.keys()]);
    await this.dispatcher.close().catch(() => undefined);
  }

  /** One tick: claims due deliveries and attempts each once; returns how many were attempted. */
  runOnce(): Promise<number> {
    const run = (this.running ??= (async () => {
      try {
        const claimed = await this.store.claimDueDeliveries(this.clock.now(), this.o.batch, this.o.owner, this.o.leaseMs);
        await Promise.all(claimed.map((d) => this.attempt(d)));
        this.reportPending(this.clock.now());
        return claimed.length;
      } finally {
        this.running = undefined;
      }
    })());
    return run;
  }

  /**
   * The interval's tick: claims due deliveries for the free places and starts them without
   * waiting, so a receiver that answers only at the timeout holds its own place, never
   * the deliveries to everyone else; and at most `perWebhook` places, however many of its
   * deliveries are due first.
   */
  private async fill(): Promise<void> {
    const free = this.o.batch - this.inFlight.size;
    if (free > 0) {
      // the places each subscription holds are this worker's own attempts under way (no store read)
      const held = new Map<string, number>();
      for (const w of this.inFlight.values()) held.set(w, (held.get(w) ?? 0) + 1);
      for (const d of await this.store.claimDueDeliveries(this.clock.now(), free, this.o.owner, this.o.leaseMs, { perWebhook: this.o.perWebhook, held })) {
        const p: Promise<void> = this.attempt(d).then(
          (delivered) => {
            this.inFlight.delete(p);
            if (delivered) this.tick(true);
          },
          (err: unknown) => {
            this.inFlight.delete(p);
            this.logger.warn({ err, delivery: d.id }, 'webhook delivery attempt failed; will retry');
          },
        );
        this.inFlight.set(p, d.webhookId);
      }
    }
    this.reportPending(this.clock.now());
  }

  /** Audits the refusals a passed window held back (each tick does this). */
  reportPending(now: number): void {
    this.refusals?.sweep(now);
  }

  /** One attempt, recorded; true when the receiver took it (2xx) and that was recorded. */
  private async attempt(d: DeliveryRecord): Promise<boolean> {
    // counted when claimed: past the maximum, the earlier attempts outlived their leases unrecorded
    const attempt = d.attempts;
    let status: number | null = null;
    let error: string | null = null;
    let hook: WebhookRecord | undefined;
    let removed = false;
    let disabled = false;
    if (attempt > this.o.maxAttempts) error = 'lease-lapsed';
    else {
      try {
        hook = await this.store.getWebhook(d.webhookId);
        // queued while its subscription was being removed: never sent, and ended now rather
        // than left pending to be claimed again each time its lease lapses
        if (!hook) {
          removed = true;
          error = 'webhook-removed';
        } else if (hook.disabledAt !== null) {
          // queued as it was being disabled, or under way then: ended, never sent
          disabled = true;
          hook = undefined;
          error = 'webhook-disabled';
        }
      } catch (e) {
        // The stored URL does not open (another master key, a tampered or moved row): nothing
        // is sent, and the attempt counts as failed, so the delivery backs off and ends as
        // `failed` instead of poisoning every tick. Any other error fails the tick as before.
        if (!(e instanceof PortcullisError && e.code === 'crypto.decrypt-failed')) throw e;
        error = e.code;
      }
    }
    if (hook) ({ status, error } = await this.send(hook, d));
    const at = this.clock.now();
    const ok = error === null;
    const ended = removed || disabled;
    const final = !ok && (ended || attempt >= this.o.maxAttempts);
    const recorded = await this.store.recordAttempt(d.id, this.o.owner, d.leaseUntil, {
      status: ok ? 'delivered' : final ? 'failed' : 'pending',
      nextAttemptAt: ok || final ? at : at + this.delayAfter(attempt),
      lastStatus: status,
      lastError: error,
      at,
    });
    if (!recorded) this.logger.warn({ delivery: d.id }, 'webhook delivery lease lapsed before the attempt was recorded');
    else if (ok) await this.store.recordDelivered(d.webhookId).catch((err: unknown) => this.logger.warn({ err, webhook: d.webhookId }, 'could not reset the count of abandoned webhook deliveries'));
    else if (!ended) {
      this.logger.info({ delivery: d.id, attempt, error }, final ? 'webhook delivery failed for good' : 'webhook delivery failed; will retry');
      if (final) await this.abandoned(d, hook, error, at);
    }
    return ok && recorded;
  }

  /** Records a delivery given up; called only by the worker whose write of `failed` applied. */
  private async abandoned(d: DeliveryRecord, hook: WebhookRecord | undefined, error: string | null, at: number): Promise<void> {
    this.stats.abandoned++;
    // the origin only: a receiver's credential is often in the URL's path or query (sealed-urls.ts)
    const origin = hook && URL.canParse(hook.url) ? new URL(hook.url).origin : null;
    const lastError = error !== null && ERROR_CODE.test(error) ? error : 'error';
    this.audit?.record({
      time: at,
      type: 'webhook.delivery-abandoned',
      actor: 'system',
      clientId: null,
      reason: 'webhook.delivery-abandoned',
      data: { webhookId: d.webhookId, deliveryId: d.id, event: d.eventType, attempts: d.attempts, lastError, origin },
    });
    const limit = this.o.disableAfterAbandoned;
    let count;
    try {
      count = await this.store.recordAbandoned(d.webhookId, limit, at, `${limit} consecutive deliveries abandoned (last error ${lastError})`);
    } catch (err) {
      // the delivery's outcome is recorded; only this count is missed (the next abandoned one counts again)
      this.logger.warn({ err, webhook: d.webhookId }, 'could not count the abandoned webhook delivery');
      return;
    }
    if (!count.disabled) return;
    this.stats.disabled++;
    this.logger.warn({ webhook: d.webhookId, abandoned: count.consecutive, lastError }, 'webhook subscription disabled after consecutive abandoned deliveries');
    this.audit?.record({
      time: at,
      type: 'webhook.subscription-disabled',
      actor: 'system',
      clientId: null,
      reason: 'webhook.subscription-disabled',
      data: { webhookId: d.webhookId, consecutiveAbandoned: count.consecutive, limit, lastError, origin },
    });
  }

  /** One POST of the delivery's payload to the subscription's URL; `error` null when the receiver answered 2xx. */
  private async send(hook: WebhookRecord, d: DeliveryRecord): Promise<{ status: number | null; error: string | null }> {
    let status: number | null = null;
    let error: string | null = null;
    try {
      const body = new TextEncoder().encode(d.payload);
      // signed as sent: every fetch sends "…/in?" as "…/in" once the empty query is dropped
      const url = sentTargetUri(hook.url);
      const target = new URL(url);
      // an IP literal never reaches the lookup: checked here; a name is checked on the addresses it resolves to when connecting
      const literal = forbiddenHostClass(target.hostname);
      if (literal !== undefined && (!this.o.allowPrivateTargets || literal === 'metadata')) throw new ForbiddenTargetError(target.hostname, literal);
      // a row stored before the rule, or under another configuration: never signed nor sent in clear
      if (refusedPlainHttp(target, this.o.allowInsecureHttp)) return { status, error: 'insecure-url' };
      // the id receivers de-duplicate on: covered by the signature, never added after it
      const headers = await this.signer.signedHeaders(url, body, WEBHOOK_TAG, { [DELIVERY_HEADER]: d.id });
      const init = { method: 'POST', headers, body, redirect: 'manual', signal: AbortSignal.timeout(this.o.timeoutMs), dispatcher: this.dispatcher };
      const res = await this.fetch(url, init as RequestInit);
      status = res.status;
      await res.body?.cancel().catch(() => undefined);
      if (status < 200 || status > 299) error = `HTTP ${status}`;
    } catch (e) {
      const err = e as { name?: string; cause?: { code?: string; message?: string } };
      const forbidden = e instanceof ForbiddenTargetError ? e : err.cause instanceof ForbiddenTargetError ? err.cause : undefined;
      if (forbidden !== undefined) {
        error = 'target-forbidden';
        this.refusals?.hit(hook.id, this.clock.now(), forbidden.addressClass);
      } else error = (err.name === 'TimeoutError' ? 'timeout' : (err.cause?.code ?? err.cause?.message ?? err.name ?? 'Error')).slice(0, MAX_ERROR);
    }
    return { status, error };
  }
}
