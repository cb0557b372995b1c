/**
 * The audit trail: an append-only table whose rows are hash-chained
 * (hash = SHA-256(prevHash ‖ canonical row)), so a changed, removed or inserted row
 * breaks the chain (`portcullis audit verify`). The hash has no key; the chain's recorded
 * head carries an HMAC under the audit key (head-key.ts), so a chain rewritten and
 * recomputed by someone without that key does not verify either. Events are queued and written in
 * batches in the background: no request waits on a database write. `flush()` waits
 * for everything queued so far (admin changes flush before they answer), and rejects when
 * an event of the change that flushes was dropped because the queue was full, so such a
 * change is not acknowledged as stored (change.ts says which events are a change's).
 */
import { hash } from 'node:crypto';
import { PortcullisError } from '../core/errors.js';
import type { Logger } from '../core/logger.js';
import { currentChange, type Change } from './change.js';
import type { AuditHeadKey, RecordedHead } from './head-key.js';
import type { AuditSink } from './sink.js';
import type { AuditEventInput, AuditRow, AuditStore } from './store.js';

export const GENESIS = '0'.repeat(64);

/** Canonical JSON: keys sorted, so every adapter and verifier hashes the same bytes. */
export function canonical(value: unknown): string {
  if (value === null || typeof value !== 'object') return JSON.stringify(value ?? null);
  if (Array.isArray(value)) return `[${value.map(canonical).join(',')}]`;
  // Object.keys order sorted by UTF-16 code units, members whose value is undefined left out
  const keys = Object.keys(value).sort();
  let out = '{';
  for (const k of keys) {
    const v = (value as Record<string, unknown>)[k];
    if (v === undefined) continue;
    if (out.length > 1) out += ',';
    out += `${JSON.stringify(k)}:${canonical(v)}`;
  }
  return `${out}}`;
}

export function chainHash(prevHash: string, seq: number, e: AuditEventInput): string {
  // canonical({ seq, time, type, actor, clientId, route, reason, data }) written out with
  // its keys already in order (the same bytes; a test holds the two together): it runs once
  // per event on the event loop
  const body = `{"actor":${JSON.stringify(e.actor)},"clientId":${JSON.stringify(e.clientId ?? null)},"data":${canonical(e.data ?? null)},"reason":${JSON.stringify(e.reason ?? null)},"route":${JSON.stringify(e.route ?? null)},"seq":${JSON.stringify(seq)},"time":${JSON.stringify(e.time)},"type":${JSON.stringify(e.type)}}`;
  return hash('sha256', `${prevHash}\n${body}`, 'hex');
}

export interface VerifyResult {
  ok: boolean;
  rows: number;
  /**
   * When not ok: `audit.trail-missing` when the whole trail was deleted (no row and no
   * recorded head, or an empty trail beside objects whose creation is audited),
   * `audit.head-forged` when the recorded head is not authenticated by the audit key (the
   * chain up to it may have been rewritten and recomputed), else `audit.chain-broken`.
   */
  code?: 'audit.chain-broken' | 'audit.trail-missing' | 'audit.head-forged';
  /** The first row whose link or hash does not verify (for `audit.head-forged`, the row the head names). */
  brokenAt?: number;
  reason?: string;
  /** When ok and the trail is not empty: the newest row verified (record it elsewhere to detect a rewrite of the whole table later). */
  head?: { seq: number; hash: string };
}

const broken = (rows: number, brokenAt: number, reason: string, code: VerifyResult['code'] = 'audit.chain-broken'): VerifyResult => ({ ok: false, rows, code, brokenAt, reason });

/** The recorded head, `altered` when its seq does not read back (edited beyond 2^53). */
async function readHead(store: AuditStore): Promise<RecordedHead | null | 'altered'> {
  try {
    return await store.auditHead();
  } catch (e) {
    if (!(e instanceof PortcullisError) || e.code !== 'audit.chain-broken') throw e;
    return 'altered';
  }
}

function forged(rows: number, head: RecordedHead): VerifyResult {
  const why = head.mac === null ? 'has no MAC and is not the head recorded when the audit key was made' : 'carries a MAC that does not verify under the audit key';
  return broken(rows, head.seq, `the recorded head of the chain (audit_head, row ${head.seq}) ${why}: it was not written by Portcullis, so rows 1 to ${head.seq} may have been rewritten and their hashes recomputed`, 'audit.head-forged');
}

/**
 * Walks the whole chain from the first row, and checks that it reaches the head recorded
 * with the newest append (`auditHead`), so rows removed from the end are detected too, and
 * that this head is authenticated by `headKey` (its MAC, compared in constant time; see
 * head-key.ts), so a chain rewritten and recomputed by someone without the key is detected.
 * The head is read first; rows appended while the walk runs are verified against the head
 * read again after it, so rows added past the head without the key are detected as well.
 * An empty trail verifies only with the head a store starts with (seq 0) and no object in
 * the store whose creation is audited: else its rows (and head) were deleted. A row before
 * row 1 (seq zero, negative or null), which the walk never reaches, was inserted (`brokenAt` 0).
 *
 * What it cannot detect: the whole trail set back to an earlier state that Portcullis
 * itself wrote (rows and head restored from an older copy). A node's audit anchor
 * (anchor.ts), kept outside the database, detects that: its start and the admin API's
 * verify check it after this.
 *
 * @example
 * const r = await verifyAuditChain(store, headKey);
 * if (!r.ok) console.error(r.code, r.reason); // 'audit.head-forged', 'the recorded head … (row 42) …'
 */
export async function verifyAuditChain(store: AuditStore, headKey: AuditHeadKey, pageSize = 1000): Promise<VerifyResult> {
  const first = await readHead(store);
  let head = first === 'altered' ? null : first;
  let prev = GENESIS;
  let expectSeq = 1;
  let rows = 0;
  let limit = pageSize;
  /** Walks rows from `expectSeq` up to `until`; a VerifyResult when one does not verify. */
  const walk = async (until: number): Promise<VerifyResult | undefined> => {
    for (;;) {
      let page: AuditRow[];
      try {
        page = await store.listAudit(expectSeq - 1, Math.min(limit, until - expectSeq + 1));
      } catch (e) {
        const bad = unreadableRow(e);
        if (bad === undefined) throw e;
        // the rows before it one at a time, so that an earlier broken row is still the one named
        if (limit > 1) {
          limit = 1;
          continue;
        }
        if (bad.seq !== expectSeq) return broken(rows, expectSeq, `row ${expectSeq} is missing`);
        return broken(rows, expectSeq, `row ${expectSeq} was altered (its ${bad.column} does not read back)`);
      }
      if (page.length === 0) return undefined;
      for (const r of page) {
        if (r.seq > until) return undefined;
        if (r.seq !== expectSeq) return broken(rows, expectSeq, `row ${expectSeq} is missing`);
        if (r.prevHash !== prev) return broken(rows, r.seq, `row ${r.seq} does not link to row ${r.seq - 1}`);
        if (chainHash(prev, r.seq, r) !== r.hash) return broken(rows, r.seq, `row ${r.seq} was altered`);
        if (head !== null && r.seq === head.seq && r.hash !== head.hash) return broken(rows, r.seq, `row ${r.seq} is not the row the recorded head names`);
        prev = r.hash;
        expectSeq++;
        rows++;
      }
      if (expectSeq > until) return undefined;
    }
  };
  const failed = await walk(Number.MAX_SAFE_INTEGER);
  if (failed) return failed;
  if (first === 'altered') return broken(rows, rows, 'the recorded head of the chain (audit_head) was altered (its seq does not read back), so removed rows cannot be ruled out');
  if (rows === 0 && (head === null || head.seq === 0)) {
    const held = await store.auditedObjects();
    const beside = held.length ? ` while the store holds ${held.join(', ')}, whose creation is audited` : '';
    if (head === null) return broken(0, 1, `the trail has no row and no recorded head (audit_head)${beside}: both were deleted`, 'audit.trail-missing');
    if (held.length) return broken(0, 1, `the trail is empty${beside}: its rows were deleted`, 'audit.trail-missing');
    if (!headKey.authenticates(head)) return forged(rows, head);
    return (await rowsBeforeChain(store, rows)) ?? { ok: true, rows };
  }
  if (head === null) return broken(rows, rows, 'the recorded head of the chain (audit_head) is missing, so removed rows cannot be ruled out');
  if (rows < head.seq) return broken(rows, rows + 1, `rows ${rows + 1} to ${head.seq} were removed (the recorded head is row ${head.seq})`);
  if (!headKey.authenticates(head)) return forged(rows, head);
  if (rows > head.seq) {
    // rows past the head read first: appended while the walk ran (the head moved with them, in their transaction), or added without the key
    const later = await readHead(store);
    if (later === 'altered') return broken(rows, rows, 'the recorded head of the chain (audit_head) was altered (its seq does not read back), so removed rows cannot be ruled out');
    if (later === null) return broken(rows, rows, 'the recorded head of the chain (audit_head) is missing, so removed rows cannot be ruled out');
    if (!headKey.authenticates(later)) return forged(rows, later);
    if (later.seq < rows) return broken(rows, later.seq + 1, `rows ${later.seq + 1} to ${rows} lie past the recorded head (row ${later.seq}): they were added without the audit key`);
    if (later.seq === rows && later.hash !== prev) return broken(rows, rows, `row ${rows} is not the row the recorded head names`);
    head = later;
    if (later.seq > rows) {
      const again = await walk(later.seq);
      if (again) return again;
      if (rows < later.seq) return broken(rows, rows + 1, `rows ${rows + 1} to ${later.seq} were removed (the recorded head is row ${later.seq})`);
    }
  }
  return (await rowsBeforeChain(store, rows)) ?? { ok: true, rows, head: { seq: rows, hash: prev } };
}

/** Rows that lie before row 1, where the walk never looks but a listing of the newest rows shows them. */
async function rowsBeforeChain(store: AuditStore, rows: number): Promise<VerifyResult | undefined> {
  const n = await store.auditRowsBeforeChain();
  if (n === 0) return undefined;
  return broken(rows, 0, n === 1 ? '1 row lies outside the chain (its seq is not 1 or more): it was inserted' : `${n} rows lie outside the chain (their seq is not 1 or more): they were inserted`);
}

/** A row the store could not read back because it was altered (`audit.chain-broken` naming its seq and column). */
function unreadableRow(e: unknown): { seq: number; column: string } | undefined {
  if (!(e instanceof PortcullisError) || e.code !== 'audit.chain-broken') return undefined;
  const { seq, column } = e.details ?? {};
  return typeof seq === 'number' && typeof column === 'string' ? { seq, column } : undefined;
}

/** A failure of the store as a whole, which no event caused (AuditStore.appendAudit). */
function storeWide(e: unknown): boolean {
  return e instanceof PortcullisError && e.code === 'store.unavailable' && e.details?.['retryable'] === true;
}

/** Counters of the trail, for metrics and tests. */
export interface AuditTrailStats {
  /** Events stored (failure markers included). */
  written: number;
  /** Events the store refused on their own, each stored as an `audit.unstorable` marker instead. */
  unstorable: number;
  /** Writes that failed as a whole (store unreachable): their events were kept, in order, for the next attempt. */
  failedWrites: number;
  /** Events dropped because the queue was full. */
  dropped: number;
}

/** Retry of held events when nothing else triggers a flush: 1 s, doubling up to 30 s. */
const RETRY_MIN_MS = 1000;
const RETRY_MAX_MS = 30_000;

/**
 * The failure marker stored in place of an event the store refuses on its own, whatever
 * is wrong with it: only facts that are certainly storable (its type, made storable by
 * the store, and the driver's error code), never the event's values.
 */
export function unstorableMarker(e: AuditEventInput, err: unknown, now: number): AuditEventInput {
  const code = (err as { code?: unknown } | null)?.code;
  return {
    time: Number.isSafeInteger(e.time) ? e.time : now,
    type: 'audit.unstorable',
    actor: 'system',
    data: { type: typeof e.type === 'string' ? e.type.slice(0, 200) : null, error: typeof code === 'string' ? code.slice(0, 100) : null },
  };
}

export class AuditTrail implements AuditSink {
  private queue: AuditEventInput[] = [];
  /** Events a failed write gave back: written before anything queued after them. */
  private held: AuditEventInput[] = [];
  private writing: Promise<void> = Promise.resolve();
  private timer: NodeJS.Timeout | undefined;
  private retryTimer: NodeJS.Timeout | undefined;
  private retryMs = RETRY_MIN_MS;
  private dropped = 0;
  /**
   * Drops (counted as `stats.dropped`) that a finished `flush()` outside any change has
   * answered for: such a flush rejects for the drops after this up to its start, as one of
   * them may be the event of its caller. A flush inside a change (change.ts) answers for
   * that change's own drops instead. Only flushes pay for it; `record` just counts.
   */
  private dropsAnswered = 0;
  readonly stats: AuditTrailStats = { written: 0, unstorable: 0, failedWrites: 0, dropped: 0 };

  constructor(
    private readonly store: AuditStore,
    private readonly logger: Logger,
    private readonly opts: { flushIntervalMs?: number; maxBatch?: number; maxQueue?: number } = {},
  ) {}

  private readonly listeners: Array<(event: AuditEventInput) => void> = [];

  /** Calls `listener` synchronously with every recorded event (webhooks); it must not block or throw. */
  onRecord(listener: (event: AuditEventInput) => void): void {
    this.listeners.push(listener);
  }

  /** Events recorded and not stored yet. */
  get pending(): number {
    return this.queue.length + this.held.length;
  }

  record(event: AuditEventInput): void {
    for (const l of this.listeners) {
      try {
        l(event);
      } catch (err) {
        this.logger.error({ err, event: event.type }, 'audit listener failed');
      }
    }
    if (this.pending >= (this.opts.maxQueue ?? 100_000)) {
      this.dropped++;
      this.stats.dropped++;
      const change = currentChange();
      change?.set(this, (change.get(this) ?? 0) + 1);
      return;
    }
    this.queue.push(event);
    if (this.queue.length >= (this.opts.maxBatch ?? 500)) this.flushInBackground();
    else if (!this.timer) {
      this.timer = setTimeout(() => this.flushInBackground(), this.opts.flushIntervalMs ?? 100);
      this.timer.unref();
    }
  }

  private readonly peers: Array<() => Promise<void>> = [];

  /**
   * Adds another part of this node with its own trail (the gateway thread): `flush`
   * writes its queued events too, so what this node recorded before a flush is stored
   * when the flush resolves.
   */
  addPeer(flush: () => Promise<void>): void {
    this.peers.push(flush);
  }

  /**
   * Writes everything queued so far (here and on the peers, then what the peers recorded
   * here meanwhile); resolves when it is stored, rejects with `audit.unavailable` when this node's events could not be
   * (they stay queued, in order, and are written when the store is back), or when an
   * event the waiting change recorded was dropped (queue full), so that change is not
   * acknowledged (the others are written all the same, after an `audit.dropped` marker
   * with the count). Inside a change (change.ts) that is any of its own events, up to
   * this flush's end, whatever other flushes ran meanwhile; outside one, any event dropped
   * since the last flush outside a change to finish began, as its caller's may be among them.
   */
  flush(): Promise<void> {
    const change = currentChange();
    return change !== undefined ? this.flushAll().then(() => this.answerChange(change)) : this.flushUnscoped();
  }

  /**
   * This node's events and the peers'. What a peer records here while it flushes (the
   * webhook service's `webhook.enqueue-failed` for deliveries it could not write) is
   * written before this resolves: an acknowledged change has the record that its
   * subscribers missed the event, not only the event.
   */
  private async flushAll(): Promise<void> {
    if (this.peers.length === 0) return this.flushOwn();
    await Promise.all([this.flushOwn(), ...this.peers.map((p) => p().catch((err: unknown) => this.logger.warn({ err }, 'a peer could not flush its audit events')))]);
    await this.flushOwn();
  }

  /** Rejects when `change` had an event dropped here (queue full); read once the write is done, so a drop of its own made meanwhile counts too. */
  private answerChange(change: Change): void {
    const n = change.get(this) ?? 0;
    if (n > 0) throw new PortcullisError('audit.unavailable', `${n} audit event${n === 1 ? ' of this change was' : 's of this change were'} dropped because the audit queue was full (the durable store was unreachable for long), so the change is not recorded as stored`, { details: { dropped: n } });
  }

  private flushUnscoped(): Promise<void> {
    const since = this.dropsAnswered;
    const upTo = this.stats.dropped;
    return this.flushAll().then(
      () => {
        this.dropsAnswered = Math.max(this.dropsAnswered, upTo);
        if (upTo > since) {
          const n = upTo - since;
          throw new PortcullisError('audit.unavailable', `${n} audit event${n === 1 ? ' was' : 's were'} dropped before this flush because the audit queue was full (the durable store was unreachable for long), so an event recorded before it may not be stored`, { details: { dropped: n } });
        }
      },
      (err: unknown) => {
        this.dropsAnswered = Math.max(this.dropsAnswered, upTo);
        throw err;
      },
    );
  }

  private flushInBackground(): void {
    // the failure is logged and counted where it happens; the events are held for the next attempt
    this.flushOwn().catch(() => undefined);
  }

  private flushOwn(): Promise<void> {
    if (this.timer) {
      clearTimeout(this.timer);
      this.timer = undefined;
    }
    const batch = this.queue;
    this.queue = [];
    // each link writes what earlier links gave back first, then its own batch: order is kept
    const link = this.writing.then(() => this.write(batch));
    this.writing = link.catch(() => undefined);
    return link;
  }

  private async write(batch: AuditEventInput[]): Promise<void> {
    const events = this.held.length === 0 ? batch : this.held.concat(batch);
    this.held = [];
    if (this.dropped) {
      events.unshift({ time: Date.now(), type: 'audit.dropped', actor: 'system', data: { count: this.dropped } });
      this.dropped = 0;
    }
    if (events.length === 0) return;
    try {
      await this.store.appendAudit(events, chainHash);
      this.stored(events.length);
      return;
    } catch (err) {
      // the store as a whole (its lock held elsewhere, a timeout): trying each event would wait that long again per try
      if (storeWide(err)) {
        this.hold(events, err);
        throw new PortcullisError('audit.unavailable', 'the audit trail could not write its events to the durable store', { cause: err });
      }
      // else one event may be what the store refuses (poison), or the store is down: tell them apart one by one
    }
    for (let i = 0; i < events.length; i++) {
      const e = events[i]!;
      let refused: unknown;
      let storedIt = false;
      // twice: a failure that passes (a dropped connection) must not cost the event
      for (let attempt = 0; attempt < 2 && !storedIt; attempt++) {
        try {
          await this.store.appendAudit([e], chainHash);
          storedIt = true;
        } catch (err) {
          refused = err;
        }
      }
      if (storedIt) {
        this.stored(1);
        continue;
      }
      try {
        // stored in its place, the marker shows the store works and refuses only this event
        await this.store.appendAudit([unstorableMarker(e, refused, Date.now())], chainHash);
      } catch (err) {
        this.hold(events.slice(i), err);
        throw new PortcullisError('audit.unavailable', 'the audit trail could not write its events to the durable store', { cause: err });
      }
      this.stored(1);
      this.stats.unstorable++;
      this.logger.error({ err: refused, event: e.type }, 'audit event refused by the store: stored an audit.unstorable marker in its place');
    }
  }

  private stored(n: number): void {
    this.stats.written += n;
    this.retryMs = RETRY_MIN_MS;
  }

  /** Keeps events a failed write gave back ahead of everything queued later, and retries them even if nothing else is recorded. */
  private hold(events: AuditEventInput[], err: unknown): void {
    this.held = events;
    this.stats.failedWrites++;
    this.logger.error({ err, events: events.length }, 'could not write audit events; they are kept in order and retried');
    if (this.retryTimer === undefined) {
      this.retryTimer = setTimeout(() => {
        this.retryTimer = undefined;
        this.flushInBackground();
      }, this.retryMs);
      this.retryTimer.unref();
      this.retryMs = Math.min(this.retryMs * 2, RETRY_MAX_MS);
    }
  }
}
