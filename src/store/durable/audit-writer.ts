/**
 * Audit appends for a SQLite file, on a thread of their own. better-sqlite3 is
 * synchronous: on the main thread, every audit batch's inserts, its chain hashes and
 * its `synchronous=FULL` commit (an fsync: milliseconds on a real disk) ran on the
 * event loop, where each request of the node waited behind them. Audited operations
 * (transit calls, token issuance, sign-ins) paid it per event. Here a worker with its
 * own connection to the same file (WAL takes several; lock waits are retried on a
 * timer, see sqlite-driver.ts) appends what the main thread posts, in order, and a
 * batch resolves when it is committed — as before, only later for nobody.
 *
 * If the thread dies, the batches it had not answered are refused (`store.unavailable`):
 * the trail holds them and retries in order (trail.ts), and the next append starts a
 * new thread. A batch committed whose answer was lost is appended again by that retry:
 * at least once, as a PostgreSQL commit whose acknowledgement is lost.
 */
import { Worker } from 'node:worker_threads';
import type { AuditHeadKey, AuditHeadKeyMaterial } from '../../audit/head-key.js';
import type { AuditEventInput } from '../../audit/store.js';
import { PortcullisError, type ErrorCode } from '../../core/errors.js';
import { workerEntry } from '../../core/worker-entry.js';

/** Messages to the writer thread. */
export type ToAuditWriter = { type: 'append'; id: number; events: AuditEventInput[] } | { type: 'head-key'; key: AuditHeadKeyMaterial } | { type: 'close' };

/** What the writer thread starts with: the file, and the audit key when it is set (a KeyObject: cloned to the thread, never printed). */
export interface AuditWriterData {
  path: string;
  headKey?: AuditHeadKeyMaterial;
}

/** Messages from the writer thread. */
/** `fault`: the driver code when the storage itself failed (write-faults.ts `storageFault`). */
export type FromAuditWriter = { type: 'ready' } | { type: 'failed'; code: string; message: string; fault?: string } | { type: 'done'; id: number; error?: { code: string; message: string; retryable?: true; fault?: string } };

const CLOSE_TIMEOUT_MS = 10_000;

interface Waiting {
  resolve(): void;
  reject(e: Error): void;
}

export class SqliteAuditWriter {
  private worker: Worker | undefined;
  private exited: Promise<number> | undefined;
  private nextId = 1;
  private readonly waiting = new Map<number, Waiting>();
  private closed = false;
  /** Why the running thread could not open the file: it is ending, and what is posted to it meanwhile is refused with this. */
  private failure: PortcullisError | undefined;
  private headKey: AuditHeadKey | undefined;
  /** Threads started so far (a restart after a crash counts). */
  starts = 0;
  /** Sees each failure of the thread, its driver code as the cause's `code` (the store's write-fault tracking). */
  onFailure: ((e: PortcullisError) => void) | undefined;

  constructor(private readonly path: string) {}

  /**
   * Appends `events` after every batch posted before; resolves once they are committed.
   *
   * @example
   * await writer.append([{ time: Date.now(), type: 'transit.encrypt', actor: 'admin', data: { key: 'orders' } }]);
   */
  append(events: AuditEventInput[]): Promise<void> {
    if (this.closed) return Promise.reject(new PortcullisError('store.unavailable', 'durable store is closed (appendAudit)'));
    if (this.failure !== undefined) return Promise.reject(this.failure);
    const worker = this.worker ?? this.start();
    const id = this.nextId++;
    return new Promise<void>((resolve, reject) => {
      try {
        worker.postMessage({ type: 'append', id, events } satisfies ToAuditWriter);
      } catch {
        // a value structured clone cannot copy (a function in `data`): send what the table would hold, its JSON
        worker.postMessage({ type: 'append', id, events: events.map(asJson) } satisfies ToAuditWriter);
      }
      if (this.waiting.size === 0) worker.ref();
      this.waiting.set(id, { resolve, reject });
    });
  }

  /**
   * Authenticates the heads the thread records with `key` from now on: batches posted
   * after this call are appended with it (the thread takes messages in order), and a
   * thread started later gets it at start.
   */
  useHeadKey(key: AuditHeadKey): void {
    this.headKey = key;
    this.worker?.postMessage({ type: 'head-key', key: key.material } satisfies ToAuditWriter);
  }

  /** The thread, if it runs (tests end it to see a crash handled). */
  get thread(): Worker | undefined {
    return this.worker;
  }

  /** Lets the batches already posted commit, then ends the thread. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    const worker = this.worker;
    if (worker === undefined) return;
    worker.postMessage({ type: 'close' } satisfies ToAuditWriter);
    const timer = setTimeout(() => void worker.terminate(), CLOSE_TIMEOUT_MS);
    await this.exited;
    clearTimeout(timer);
  }

  private start(): Worker {
    const e = workerEntry(new URL('./audit-writer-thread.js', import.meta.url));
    const workerData: AuditWriterData = this.headKey === undefined ? { path: this.path } : { path: this.path, headKey: this.headKey.material };
    const worker = new Worker(e.file, { eval: e.eval, workerData, name: 'portcullis-audit-writer' });
    this.starts++;
    this.worker = worker;
    // idle, the thread does not keep the process alive; with batches in flight it does
    worker.unref();
    worker.on('message', (m: FromAuditWriter) => {
      if (m.type === 'failed') {
        // the thread could not open the file and ends: what it was sent is refused for that reason (a -wal replaced, a full disk),
        // not as merely lost; the next append after it ended starts a new thread
        const err = threadError(m);
        if (this.worker === worker) this.failure = err;
        this.onFailure?.(err);
        const refused = [...this.waiting.values()];
        this.waiting.clear();
        worker.unref();
        for (const w of refused) w.reject(err);
        return;
      }
      if (m.type !== 'done') return;
      const w = this.waiting.get(m.id);
      this.waiting.delete(m.id);
      if (this.waiting.size === 0) worker.unref();
      if (m.error === undefined) return w?.resolve();
      const err = threadError(m.error);
      this.onFailure?.(err);
      w?.reject(err);
    });
    // an uncaught error ends the thread: 'exit' follows, and refuses what it had not answered
    worker.on('error', () => undefined);
    this.exited = new Promise<number>((done) =>
      worker.once('exit', (code) => {
        if (this.worker === worker) {
          this.worker = undefined;
          this.failure = undefined;
        }
        const lost = [...this.waiting.values()];
        this.waiting.clear();
        for (const w of lost) w.reject(new PortcullisError('store.unavailable', 'the audit writer thread stopped before it committed the batch'));
        done(code);
      }),
    );
    return worker;
  }
}

function threadError(e: { code: string; message: string; retryable?: true; fault?: string }): PortcullisError {
  return new PortcullisError(e.code as ErrorCode, e.message, {
    ...(e.retryable ? { details: { retryable: true } } : {}),
    ...(e.fault !== undefined ? { cause: Object.assign(new Error(e.message), { code: e.fault }) } : {}),
  });
}

function asJson(e: AuditEventInput): AuditEventInput {
  return e.data == null ? e : { ...e, data: JSON.parse(JSON.stringify(e.data)) as Record<string, unknown> };
}
