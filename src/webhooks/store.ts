/** What webhooks need from durable storage: subscriptions and a delivery queue that is also the delivery log. */
import type { CreatedCursor, PageRequest } from '../core/page.js';

/** A subscription as it is created. */
export interface NewWebhook {
  id: string;
  /** http(s) URL the events are POSTed to. */
  url: string;
  /** Event types the subscription receives (see `WEBHOOK_EVENT_TYPES`). */
  events: string[];
  description: string | null;
  createdAt: number;
}

/** A subscription as stored: what it was created with, and whether it is disabled. */
export interface WebhookRecord extends NewWebhook {
  /** Deliveries abandoned in a row since the last one delivered (or since it was enabled). */
  consecutiveAbandoned: number;
  /** When it was disabled for abandoned deliveries (epoch ms), null while active: no event is queued for it. */
  disabledAt: number | null;
  /** Why it was disabled (a sentence for operators, no URL), null while active. */
  disabledReason: string | null;
}

/** What counting an abandoned delivery did (WebhookStore.recordAbandoned). */
export interface AbandonedCount {
  /** The count after this one (0 when the subscription is gone). */
  consecutive: number;
  /** This call disabled the subscription; true for exactly one caller, on any node. */
  disabled: boolean;
}

/** A subscription as the queueing of events sees it. */
export type WebhookEvents = Pick<WebhookRecord, 'id' | 'events'>;

export type DeliveryStatus = 'pending' | 'delivered' | 'failed';

export interface DeliveryRecord {
  id: string;
  webhookId: string;
  eventId: string;
  eventType: string;
  /** The JSON body sent (the same bytes on every attempt). */
  payload: string;
  status: DeliveryStatus;
  /** Attempts claimed so far (one counts when claimed, whether its outcome is recorded or not). */
  attempts: number;
  /** When the next attempt is due (epoch ms); meaningful while pending. */
  nextAttemptAt: number;
  /** A claimed row is not claimed again before this instant (epoch ms); 0 when free. */
  leaseUntil: number;
  leaseOwner: string | null;
  /** HTTP status of the last attempt, or null when it got no answer. */
  lastStatus: number | null;
  lastError: string | null;
  createdAt: number;
  updatedAt: number;
  deliveredAt: number | null;
}

/** The outcome of one attempt, written only by the worker that holds the claim. */
export interface AttemptResult {
  status: DeliveryStatus;
  nextAttemptAt: number;
  lastStatus: number | null;
  lastError: string | null;
  at: number;
}

/** A per-subscription cap on one claim (the worker's places per subscription). */
export interface DeliveryCap {
  /** Most places one subscription may hold. */
  perWebhook: number;
  /** Places each subscription holds already (the caller's attempts under way); none when absent. */
  held?: ReadonlyMap<string, number>;
}

export interface WebhookStore {
  insertWebhook(w: NewWebhook): Promise<void>;
  getWebhook(id: string): Promise<WebhookRecord | undefined>;
  /** Oldest first (createdAt, then id); one page of them when `page` is given. */
  listWebhooks(page?: PageRequest): Promise<WebhookRecord[]>;
  /** Each active (not disabled) subscription's id and event types, oldest first: what queueing an event needs, without the (sealed) URL. */
  listWebhookEvents(): Promise<WebhookEvents[]>;
  /** Deletes the subscription and its deliveries (pending ones are never sent); false when there was none. */
  deleteWebhook(id: string): Promise<boolean>;
  /**
   * Counts one more abandoned delivery of the subscription; when the count reaches `limit`
   * and it is not disabled yet, disables it (`disabledAt` = `at`, `disabledReason` = `reason`)
   * and ends its pending deliveries (`failed`, `webhook-disabled`). Race-safe: of concurrent
   * callers on any node, exactly one gets `disabled: true`.
   */
  recordAbandoned(id: string, limit: number, at: number, reason: string): Promise<AbandonedCount>;
  /** A delivery to the subscription succeeded: its count of abandoned deliveries goes back to 0. */
  recordDelivered(id: string): Promise<void>;
  /** Enables a disabled subscription (count back to 0); false when it was not disabled or does not exist. */
  enableWebhook(id: string): Promise<boolean>;

  /** Queues deliveries (status pending, attempts 0). */
  insertDeliveries(deliveries: DeliveryRecord[]): Promise<void>;
  /**
   * Claims up to `limit` pending deliveries due at `now` whose lease has lapsed, for
   * `owner` until `now + leaseMs`, each counted as an attempt (`attempts` + 1) in the same
   * write, so one whose outcome is never recorded still counts. Race-safe: under concurrent callers on any node, a
   * row is claimed by exactly one of them (compare-and-set on the lease). The
   * returned records carry the new lease. With `cap`, at most `cap.perWebhook` minus
   * `cap.held` of a subscription are claimed: a subscription at its cap is passed over for
   * the next-due rows of the others, earliest due first across them and within each; and
   * the rows read do not grow with a subscription's backlog.
   */
  claimDueDeliveries(now: number, limit: number, owner: string, leaseMs: number, cap?: DeliveryCap): Promise<DeliveryRecord[]>;
  /**
   * Records the outcome of a claimed attempt (counted when claimed) and releases the lease; applies only while
   * `owner` still holds the claim it got (`leaseUntil`). Returns false otherwise.
   */
  recordAttempt(id: string, owner: string, leaseUntil: number, result: AttemptResult): Promise<boolean>;
  getDelivery(id: string): Promise<DeliveryRecord | undefined>;
  /** Newest first (createdAt, then id, descending); only those older than `older` (the previous page's last) when given. */
  listDeliveries(webhookId: string, limit: number, older?: CreatedCursor): Promise<DeliveryRecord[]>;
  /** Deletes the deliveries that ended (delivered or failed) before `before` (epoch ms); returns how many. Pending ones stay. */
  purgeDeliveries(before: number): Promise<number>;
}

/** The durable store's side: a subscription's stored URL can be rewritten (sealed-urls.ts seals rows kept in clear). */
export interface WebhookUrlStore extends WebhookStore {
  setWebhookUrl(id: string, url: string): Promise<void>;
}
