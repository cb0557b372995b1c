/**
 * An ephemeral store across threads: `serveEphemeral` answers a MessagePort with the
 * store of one thread (the node's main thread, owner of the `memory` store), and
 * `BridgedEphemeralStore` is that store as seen from another thread (the gateway
 * thread). Every operation is one message each way; pub/sub messages are forwarded
 * to the subscribing thread, so a revocation published on either side reaches both
 * at once, as it does across nodes through Redis.
 *
 * Errors keep their PortcullisError code. A store whose other side is gone fails
 * closed: every pending and later call is rejected with `unavailable`.
 */
import type { MessagePort } from 'node:worker_threads';
import type { EphemeralStore, WindowTake } from '../../core/ephemeral.js';
import { ERRORS, PortcullisError, type ErrorCode } from '../../core/errors.js';

type Op =
  | { op: 'consumeOnce'; key: string; ttlMs: number }
  | { op: 'consumeOnceMadeAt'; key: string; ttlMs: number; madeAt: number }
  | { op: 'advance'; key: string; next: number; ttlMs: number; to: number | undefined }
  | { op: 'increment'; key: string; ttlMs: number; by: number | undefined }
  | { op: 'takeInWindow'; key: string; windowMs: number; limit: number }
  | { op: 'releaseInWindow'; key: string; event: string }
  | { op: 'get'; key: string }
  | { op: 'set'; key: string; value: string; ttlMs: number }
  | { op: 'delete'; key: string }
  | { op: 'publish'; channel: string; message: string }
  | { op: 'subscribe'; channel: string; sub: number }
  | { op: 'unsubscribe'; sub: number }
  | { op: 'ping' };

type Request = Op & { id: number };

type Reply = { id: number; value?: unknown; error?: { code: string; message: string } } | { sub: number; message: string };

/** The wire form of a failure: a PortcullisError keeps its code, anything else is `internal`. */
function errorOf(e: unknown): { code: string; message: string } {
  if (e instanceof PortcullisError) return { code: e.code, message: e.message };
  return { code: 'internal', message: 'ephemeral store operation failed' };
}

/**
 * Serves `store` on `port` until the port closes; returns a function that stops
 * serving and drops the subscriptions made through it.
 *
 * @example
 * const { port1, port2 } = new MessageChannel();
 * const stop = serveEphemeral(services.ephemeral, port1);
 * new Worker(entry, { workerData: { ephemeral: port2 }, transferList: [port2] });
 */
export function serveEphemeral(store: EphemeralStore, port: MessagePort): () => Promise<void> {
  const subs = new Map<number, Promise<() => Promise<void>>>();
  const reply = (r: Reply): void => port.postMessage(r);
  const run = (m: Request): Promise<unknown> => {
    switch (m.op) {
      case 'consumeOnce':
        return store.consumeOnce(m.key, m.ttlMs);
      case 'consumeOnceMadeAt':
        return store.consumeOnceMadeAt(m.key, m.ttlMs, m.madeAt);
      case 'advance':
        return store.advance(m.key, m.next, m.ttlMs, m.to);
      case 'increment':
        return store.increment(m.key, m.ttlMs, m.by);
      case 'takeInWindow':
        return store.takeInWindow(m.key, m.windowMs, m.limit);
      case 'releaseInWindow':
        return store.releaseInWindow(m.key, m.event);
      case 'get':
        return store.get(m.key);
      case 'set':
        return store.set(m.key, m.value, m.ttlMs);
      case 'delete':
        return store.delete(m.key);
      case 'publish':
        return store.publish(m.channel, m.message);
      case 'subscribe': {
        const p = store.subscribe(m.channel, (message) => reply({ sub: m.sub, message }));
        subs.set(m.sub, p);
        return p.then(() => undefined);
      }
      case 'unsubscribe': {
        const p = subs.get(m.sub);
        subs.delete(m.sub);
        return p === undefined ? Promise.resolve() : p.then((off) => off());
      }
      case 'ping':
        return store.ping();
    }
  };
  const onMessage = (m: Request): void => {
    let p: Promise<unknown>;
    try {
      p = run(m);
    } catch (e) {
      p = Promise.reject(e);
    }
    p.then(
      (value) => reply({ id: m.id, value }),
      (e: unknown) => reply({ id: m.id, error: errorOf(e) }),
    );
  };
  port.on('message', onMessage);
  return async () => {
    port.off('message', onMessage);
    const all = [...subs.values()];
    subs.clear();
    await Promise.all(all.map((p) => p.then((off) => off()).catch(() => undefined)));
    port.close();
  };
}

const gone = (): PortcullisError => new PortcullisError('unavailable', 'the ephemeral store is not reachable from this thread');

/**
 * The ephemeral store of another thread, through the port `serveEphemeral` answers.
 *
 * @example
 * const ephemeral = new BridgedEphemeralStore(workerData.ephemeral);
 */
export class BridgedEphemeralStore implements EphemeralStore {
  private next = 1;
  private readonly pending = new Map<number, { resolve(v: unknown): void; reject(e: Error): void }>();
  private readonly listeners = new Map<number, (message: string) => void>();
  private closed = false;

  constructor(private readonly port: MessagePort) {
    port.on('message', (r: Reply) => {
      if ('sub' in r) {
        const fn = this.listeners.get(r.sub);
        if (fn === undefined) return;
        try {
          fn(r.message);
        } catch {
          // a subscriber's failure is its own
        }
        return;
      }
      const p = this.pending.get(r.id);
      if (p === undefined) return;
      this.pending.delete(r.id);
      if (this.pending.size === 0) port.unref();
      if (r.error === undefined) p.resolve(r.value);
      else {
        // own names only: `in` takes an inherited one (`constructor`, `toString`) for a code
        const code = (Object.hasOwn(ERRORS, r.error.code) ? r.error.code : 'internal') as ErrorCode;
        p.reject(new PortcullisError(code, r.error.message));
      }
    });
    port.on('close', () => this.fail());
    // the port holds the thread open only while an answer is awaited
    port.unref();
  }

  private fail(): void {
    this.closed = true;
    for (const p of this.pending.values()) p.reject(gone());
    this.pending.clear();
    this.listeners.clear();
  }

  private call<T>(op: Op): Promise<T> {
    if (this.closed) return Promise.reject(gone());
    const id = this.next++;
    return new Promise<T>((resolve, reject) => {
      if (this.pending.size === 0) this.port.ref();
      this.pending.set(id, { resolve: resolve as (v: unknown) => void, reject });
      this.port.postMessage({ ...op, id });
    });
  }

  consumeOnce(key: string, ttlMs: number): Promise<boolean> {
    return this.call({ op: 'consumeOnce', key, ttlMs });
  }

  consumeOnceMadeAt(key: string, ttlMs: number, madeAt: number): Promise<'first' | 'used' | 'unknown'> {
    return this.call({ op: 'consumeOnceMadeAt', key, ttlMs, madeAt });
  }

  advance(key: string, next: number, ttlMs: number, to?: number): Promise<boolean> {
    return this.call({ op: 'advance', key, next, ttlMs, to });
  }

  increment(key: string, ttlMs: number, by?: number): Promise<number> {
    return this.call({ op: 'increment', key, ttlMs, by });
  }

  takeInWindow(key: string, windowMs: number, limit: number): Promise<WindowTake> {
    return this.call({ op: 'takeInWindow', key, windowMs, limit });
  }

  releaseInWindow(key: string, id: string): Promise<void> {
    // `id` on the wire is the request's
    return this.call({ op: 'releaseInWindow', key, event: id });
  }

  get(key: string): Promise<string | undefined> {
    return this.call({ op: 'get', key });
  }

  set(key: string, value: string, ttlMs: number): Promise<void> {
    return this.call({ op: 'set', key, value, ttlMs });
  }

  delete(key: string): Promise<void> {
    return this.call({ op: 'delete', key });
  }

  publish(channel: string, message: string): Promise<void> {
    return this.call({ op: 'publish', channel, message });
  }

  async subscribe(channel: string, onMessage: (message: string) => void): Promise<() => Promise<void>> {
    const sub = this.next++;
    this.listeners.set(sub, onMessage);
    try {
      await this.call({ op: 'subscribe', channel, sub });
    } catch (e) {
      this.listeners.delete(sub);
      throw e;
    }
    return async () => {
      if (!this.listeners.delete(sub)) return;
      await this.call({ op: 'unsubscribe', sub }).catch(() => undefined);
    };
  }

  ping(): Promise<void> {
    return this.call({ op: 'ping' });
  }

  /** Stops using the other side's store (which stays open for its own thread). */
  async close(): Promise<void> {
    if (this.closed) return;
    const subs = [...this.listeners.keys()];
    await Promise.all(subs.map((sub) => this.call({ op: 'unsubscribe', sub }).catch(() => undefined)));
    this.fail();
    this.port.close();
  }
}
