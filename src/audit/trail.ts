/**
 * The audit trail: an append-only table whose rows are hash-chained
 * (hash = SHA-256(prevHash ‖ canonical row)), so a changed, removed or inserted row
 * breaks the chain (`portcullis audit verify`). Events are queued and written in
 * batches in the background: no request waits on a database write. `flush()` waits
 * for everything queued so far (admin changes flush before they answer).
 */
import { hash } from 'node:crypto';
import type { Logger } from '../core/logger.js';
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
  /** The first row whose link or hash does not verify. */
  brokenAt?: number;
  reason?: string;
}

/** Walks the whole chain from the first row. */
export async function verifyAuditChain(store: AuditStore, pageSize = 1000): Promise<VerifyResult> {
  let prev = GENESIS;
  let expectSeq = 1;
  let rows = 0;
  for (;;) {
    const page: AuditRow[] = await store.listAudit(expectSeq - 1, pageSize);
    if (page.length === 0) return { ok: true, rows };
    for (const r of page) {
      if (r.seq !== expectSeq) return { ok: false, rows, brokenAt: expectSeq, reason: `row ${expectSeq} is missing` };
      if (r.prevHash !== prev) return { ok: false, rows, brokenAt: r.seq, reason: `row ${r.seq} does not link to row ${r.seq - 1}` };
      if (chainHash(prev, r.seq, r) !== r.hash) return { ok: false, rows, brokenAt: r.seq, reason: `row ${r.seq} was altered` };
      prev = r.hash;
      expectSeq++;
      rows++;
    }
  }
}

export class AuditTrail implements AuditSink {
  private queue: AuditEventInput[] = [];
  private writing: Promise<void> = Promise.resolve();
  private timer: NodeJS.Timeout | undefined;
  private dropped = 0;

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

  record(event: AuditEventInput): void {
    for (const l of this.listeners) {
      try {
        l(event);
      } catch (err) {
        this.logger.error({ err, event: event.type }, 'audit listener failed');
      }
    }
    if (this.queue.length >= (this.opts.maxQueue ?? 100_000)) {
      this.dropped++;
      return;
    }
    this.queue.push(event);
    if (this.queue.length >= (this.opts.maxBatch ?? 500)) void this.flushOwn();
    else if (!this.timer) {
      this.timer = setTimeout(() => void this.flushOwn(), this.opts.flushIntervalMs ?? 100);
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

  /** Writes everything queued so far (here and on the peers); resolves when it is stored. */
  flush(): Promise<void> {
    const own = this.flushOwn();
    if (this.peers.length === 0) return own;
    return Promise.all([own, ...this.peers.map((p) => p().catch((err: unknown) => this.logger.warn({ err }, 'a peer could not flush its audit events')))]).then(() => undefined);
  }

  private flushOwn(): Promise<void> {
    if (this.timer) {
      clearTimeout(this.timer);
      this.timer = undefined;
    }
    const batch = this.queue;
    this.queue = [];
    this.writing = this.writing.then(async () => {
      if (this.dropped) {
        batch.unshift({ time: Date.now(), type: 'audit.dropped', actor: 'system', data: { count: this.dropped } });
        this.dropped = 0;
      }
      if (batch.length === 0) return;
      try {
        await this.store.appendAudit(batch, chainHash);
      } catch (err) {
        this.logger.error({ err, events: batch.length }, 'could not write audit events; retrying with the next flush');
        this.queue.unshift(...batch);
      }
    });
    return this.writing;
  }
}
