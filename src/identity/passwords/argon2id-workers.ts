/**
 * Argon2id off the event loop, below it in priority: a few worker threads, each running
 * one `@node-rs/argon2` hash at a time with a raised nice value (Linux sets it per
 * thread), so a sign-in storm spends the CPU the event loop leaves and never delays a
 * gateway request or a page behind a hash. At most `threads` hashes run at once
 * (admission control); the rest wait in a bounded queue, and beyond it a hash is
 * refused with `unavailable` (503) instead of queueing without end.
 *
 * libuv's thread pool (the library's async API) has neither bound nor priority: its
 * threads compete with the event loop as equals, and it is shared with fs, dns and
 * WebCrypto work, which queued behind the hashes.
 */
import { availableParallelism } from 'node:os';
import { createRequire } from 'node:module';
import { Worker } from 'node:worker_threads';
import { PortcullisError } from '../../core/errors.js';

export interface Argon2idPoolOptions {
  /** Hashes run at once (default: the number of cores, at most 8: each holds the configured memoryCost, 19 MiB by default, while it runs). */
  threads?: number;
  /** Hashes that may wait for a thread (default 256, ~1.7 s of work on two cores). */
  maxQueued?: number;
  /** Nice value of the hashing threads, 0–19 (default 19: only what the event loop leaves); Linux only. */
  nice?: number;
}

/** Options of one job, as `@node-rs/argon2` takes them. */
export interface Argon2idJobOptions {
  algorithm: number;
  memoryCost: number;
  timeCost: number;
  parallelism: number;
}

type Job = { op: 'hash'; password: string; options: Argon2idJobOptions } | { op: 'verify'; stored: string; password: string };

interface Pending {
  job: Job;
  resolve: (v: string | boolean) => void;
  reject: (e: Error) => void;
}

// CommonJS in a worker of its own: no loader hooks (tsx) to start, and the same file in
// development and in the build.
const WORKER_SOURCE = `
const { parentPort, workerData } = require('node:worker_threads');
const { setPriority } = require('node:os');
const argon2 = require(workerData.module);
if (workerData.nice > 0) { try { setPriority(workerData.nice); } catch {} }
parentPort.on('message', (job) => {
  try {
    const value = job.op === 'hash' ? argon2.hashSync(job.password, job.options) : argon2.verifySync(job.stored, job.password);
    parentPort.postMessage({ ok: true, value });
  } catch (e) {
    parentPort.postMessage({ ok: false, message: String(e && e.message || e) });
  }
});
`;

class Thread {
  readonly worker: Worker;
  current: Pending | undefined;

  constructor(
    module: string,
    nice: number,
    private readonly onIdle: (t: Thread) => void,
    private readonly onExit: (t: Thread) => void,
  ) {
    this.worker = new Worker(WORKER_SOURCE, { eval: true, execArgv: [], workerData: { module, nice }, resourceLimits: { stackSizeMb: 4 } });
    this.worker.unref();
    this.worker.on('message', (m: { ok: boolean; value?: string | boolean; message?: string }) => {
      const p = this.current;
      this.current = undefined;
      this.worker.unref();
      if (p) {
        if (m.ok) p.resolve(m.value!);
        else p.reject(new Error(m.message));
      }
      this.onIdle(this);
    });
    this.worker.on('error', (e) => this.fail(e));
    this.worker.on('exit', (code) => this.fail(new Error(`argon2id worker exited (${code})`)));
  }

  run(p: Pending): void {
    this.current = p;
    // A job under way keeps the process alive; an idle thread does not.
    this.worker.ref();
    this.worker.postMessage(p.job);
  }

  private fail(e: Error): void {
    const p = this.current;
    this.current = undefined;
    // the sign-in cannot be decided: refused as unavailable (503), never as a wrong password
    p?.reject(new PortcullisError('unavailable', 'the password hasher failed: try again in a moment', { cause: e }));
    this.onExit(this);
  }
}

/**
 * @example
 * const pool = new Argon2idPool();
 * const ok = await pool.verify(storedPhc, password);
 */
export class Argon2idPool {
  private readonly size: number;
  private readonly maxQueued: number;
  private readonly nice: number;
  private readonly module: string;
  private readonly idle: Thread[] = [];
  private readonly all = new Set<Thread>();
  private readonly queue: Pending[] = [];
  private closed = false;

  constructor(opts: Argon2idPoolOptions = {}) {
    this.size = Math.max(1, opts.threads ?? Math.min(8, availableParallelism()));
    this.maxQueued = opts.maxQueued ?? 256;
    // Linux keeps a nice value per thread; elsewhere it would lower the whole process.
    this.nice = process.platform === 'linux' ? Math.min(19, Math.max(0, opts.nice ?? 19)) : 0;
    this.module = createRequire(import.meta.url).resolve('@node-rs/argon2');
  }

  hash(password: string, options: Argon2idJobOptions): Promise<string> {
    return this.submit({ op: 'hash', password, options }) as Promise<string>;
  }

  /** False on a mismatch; throws on a malformed hash (as `verifySync` does). */
  verify(stored: string, password: string): Promise<boolean> {
    return this.submit({ op: 'verify', stored, password }) as Promise<boolean>;
  }

  /** Hashes waiting for a thread, and hashes running. */
  get load(): { queued: number; running: number } {
    return { queued: this.queue.length, running: [...this.all].filter((t) => t.current).length };
  }

  /** Stops the threads; hashes not yet started fail with `unavailable`. */
  async close(): Promise<void> {
    this.closed = true;
    for (const p of this.queue.splice(0)) p.reject(new PortcullisError('unavailable', 'the password hasher is shut down'));
    await Promise.all([...this.all].map((t) => t.worker.terminate()));
  }

  private submit(job: Job): Promise<string | boolean> {
    if (this.closed) return Promise.reject(new PortcullisError('unavailable', 'the password hasher is shut down'));
    return new Promise((resolve, reject) => {
      const p: Pending = { job, resolve, reject };
      const t = this.takeThread();
      if (t) return t.run(p);
      if (this.queue.length >= this.maxQueued) {
        return reject(new PortcullisError('unavailable', 'too many sign-ins at once: try again in a moment'));
      }
      this.queue.push(p);
    });
  }

  private takeThread(): Thread | undefined {
    const t = this.idle.pop();
    if (t) return t;
    if (this.all.size >= this.size) return undefined;
    const n = new Thread(
      this.module,
      this.nice,
      (x) => this.release(x),
      (x) => this.drop(x),
    );
    this.all.add(n);
    return n;
  }

  private release(t: Thread): void {
    const next = this.queue.shift();
    if (next) t.run(next);
    else this.idle.push(t);
  }

  private drop(t: Thread): void {
    if (!this.all.delete(t)) return;
    const i = this.idle.indexOf(t);
    if (i >= 0) this.idle.splice(i, 1);
    // A thread that died (out of memory, terminated) is replaced for the jobs waiting.
    if (this.closed) return;
    const next = this.queue.shift();
    if (next) this.takeThread()!.run(next);
  }
}

let shared: Argon2idPool | undefined;

/** The process's pool (like libuv's thread pool, one per process), started on first use. */
export function sharedArgon2idPool(): Argon2idPool {
  shared ??= new Argon2idPool();
  return shared;
}

