/**
 * The gateway plane on a thread of its own (`gateway.thread`, the default when a node
 * serves the gateway beside another plane). Sign-ins cost the identity plane's event
 * loop milliseconds of protocol work each; on a shared loop, gateway requests queued
 * behind a storm of them. On its own thread the gateway keeps its latency whatever the
 * identity plane does, and the node uses a second core.
 *
 * The thread is a gateway-only node on the same config: its own connection to the
 * durable store (SQLite in WAL mode takes several), its own key ring and revocation
 * set, kept current by the cluster events and the reconcile timer. With
 * `ephemeral: memory` its ephemeral store is the main thread's, through a MessagePort
 * (store/bridge/ephemeral.ts), so nonces, counters and revocation messages are shared
 * as across nodes through Redis; with Redis it connects itself. Key rotation, webhook
 * delivery and purges stay on the main thread.
 *
 * If the thread dies, the gateway listener is gone with it (clients are refused, never
 * let through), `/readyz` answers 503, and the thread is started again after a pause.
 *
 * A thread serves only once the main thread says so (`serve`): events emitted while it
 * started (after its own read of the store) make the main thread have it re-read the
 * store first, so no change stored before a thread serves is missing from it.
 *
 * An admin change is acknowledged only once it is in force on the thread (`apply`). When
 * the thread fails to apply it, it is told to re-read everything from the store; when
 * that fails too, the thread refuses every request (`gateway.not-in-sync`) and retries
 * until a re-read succeeds; a thread that does not answer in time is stopped and started
 * again (a new thread reads the store before it serves). Either way the change is
 * answered `change.not-in-force`, and audited.
 */
import { MessageChannel, Worker } from 'node:worker_threads';
import type { Registry } from 'prom-client';
import type { AuditSink } from '../audit/sink.js';
import type { EphemeralStore } from '../core/ephemeral.js';
import type { ClusterEvent } from '../core/events.js';
import { PortcullisError } from '../core/errors.js';
import { workerEntry } from '../core/worker-entry.js';
import type { Logger } from '../core/logger.js';
import { serveEphemeral } from '../store/bridge/ephemeral.js';

/** A registry's metrics as `getMetricsAsJSON` gives them (what prom-client aggregates). */
export type MetricsJson = Awaited<ReturnType<Registry['getMetricsAsJSON']>>;

/** What the main thread hands the gateway thread. */
export interface GatewayThreadData {
  configFile: string;
  env: Record<string, string | undefined>;
  /** Listen here (`host:port`) instead of `listen.gateway`: a restarted thread takes its predecessor's port. */
  listen: string | undefined;
  ephemeralPorts: boolean;
  /** The main thread's ephemeral store, when it is `memory`. */
  ephemeral: MessagePort | undefined;
  /** The main thread's event bus id: it hands the thread its events itself, so their published copies are skipped. */
  eventsOf: string;
}

/** What the main thread asks of the gateway thread, and the answers. */
export type ThreadCall =
  | { what: 'metrics' }
  /** Re-read everything from the store; on failure the thread refuses every request until a later re-read succeeds. */
  | { what: 'reconcile' }
  | { what: 'flush-audit' }
  /** Open the gate: the main thread has made sure the thread has every change stored so far. */
  | { what: 'serve' }
  /** Apply the event; the reply is an error when any part of applying it failed. */
  | { what: 'event'; event: ClusterEvent };

/** Messages from the gateway thread. */
export type FromThread =
  | { type: 'listening'; url: string }
  | { type: 'failed'; code: string; message: string }
  /** The thread refused requests after a failed re-read, and a later re-read succeeded: it serves again. */
  | { type: 'in-sync' }
  /** A re-read failed (one the main thread did not ask for: an event from another node's): the thread refuses every request. */
  | { type: 'out-of-sync' }
  /** The thread's own store connection: why it cannot read or write (`store.unavailable`, `store.not-writable`), or nothing once it can. */
  | { type: 'store'; problem?: { code: string; message: string; details?: Record<string, unknown> } }
  | { type: 'reply'; id: number; value?: unknown; error?: string };

/** Messages to the gateway thread. */
export type ToThread = { type: 'close' } | ({ type: 'call'; id: number } & ThreadCall);

export interface GatewayThread {
  /** The gateway's base URL. */
  readonly url: string;
  /** Whether the thread is serving (false while it is being restarted, or refuses requests until it has re-read the store). */
  readonly alive: boolean;
  /**
   * For /readyz: throws why the thread is not ready — restarting (`unavailable`), refusing
   * requests until it has re-read the store (`gateway.not-in-sync`), or its own store
   * connection cannot read (`store.unavailable`) or write (`store.not-writable`).
   */
  check(): void;
  /** The thread's Prometheus metrics, for the admin plane's /metrics. */
  metrics(): Promise<MetricsJson>;
  /**
   * Applies a cluster event the main thread emitted, resolving once it is in force on
   * the thread, so an acknowledged change (a revocation, a new app key) holds at the
   * gateway. While the thread restarts this resolves at once: a new thread serves only
   * after it has read the store after this event. When the thread cannot confirm the
   * event (it fails to apply it and to re-read the store, or does not answer in time),
   * this rejects with `change.not-in-force`, and the thread serves nothing until it has
   * re-read the store.
   */
  apply(event: ClusterEvent): Promise<void>;
  /** Re-reads apps, revocations and keys on the thread (on failure it refuses requests until a re-read succeeds). */
  reconcile(): Promise<void>;
  /** Writes the thread's queued audit events. */
  flushAudit(): Promise<void>;
  /** Stops the thread: in-flight requests finish, its audit events are written. */
  close(): Promise<void>;
  /** Stops the thread at once, as a crash would; it is started again after the pause. */
  terminate(): Promise<void>;
}

export interface GatewayThreadOptions {
  configFile: string;
  env: NodeJS.ProcessEnv;
  ephemeralPorts: boolean;
  /** Bridged to the thread when it is the in-memory store. */
  ephemeral: EphemeralStore | undefined;
  logger: Logger;
  /** Where a change the thread could not confirm is recorded. */
  audit: AuditSink;
  /** The node's events: the thread is their peer from before it starts (`apply`). */
  events: { readonly node: string; addPeer(apply: (e: ClusterEvent) => Promise<void>): void };
  /** Pause before a dead thread is started again (default 1 s). */
  restartDelayMs?: number;
}

const CALL_TIMEOUT_MS = 10_000;

interface Running {
  worker: Worker;
  exited: Promise<number>;
}

/** A call the thread did not carry out; `answered` when the thread itself said so (it is alive and listening to us). */
class CallFailed extends PortcullisError {
  constructor(
    message: string,
    readonly answered: boolean,
  ) {
    super('unavailable', message);
  }
}

/**
 * Starts the gateway thread and waits until it listens.
 *
 * @example
 * const gw = await startGatewayThread({ configFile, env: process.env, ephemeralPorts: false, ephemeral: s.ephemeral, logger, audit: s.audit, events: s.events });
 * urls.gateway = gw.url;
 */
export async function startGatewayThread(opts: GatewayThreadOptions): Promise<GatewayThread> {
  const { logger } = opts;
  let running: Running | undefined;
  let url = '';
  let listenAt: string | undefined;
  let closing = false;
  let restartTimer: NodeJS.Timeout | undefined;
  let nextId = 1;
  /** The running thread refuses requests after a failed re-read (until it says `in-sync`). */
  let held = false;
  /** What a thread last said of its store connection. */
  let storeProblem: { worker: Worker; error: PortcullisError } | undefined;
  /** Events were emitted while no thread was running: a starting thread re-reads the store before it serves. */
  let missed = false;
  const waiting = new Map<number, { resolve(v: unknown): void; reject(e: Error): void }>();

  const spawn = (): Promise<Running> =>
    new Promise((resolve, reject) => {
      let stopBridge: (() => Promise<void>) | undefined;
      let port: MessagePort | undefined;
      if (opts.ephemeral !== undefined) {
        const channel = new MessageChannel();
        stopBridge = serveEphemeral(opts.ephemeral, channel.port1);
        port = channel.port2 as unknown as MessagePort;
      }
      const data: GatewayThreadData = { configFile: opts.configFile, env: { ...opts.env }, listen: listenAt, ephemeralPorts: opts.ephemeralPorts && listenAt === undefined, ephemeral: port, eventsOf: opts.events.node };
      const e = workerEntry(new URL('./thread-entry.js', import.meta.url));
      const worker = new Worker(e.file, { eval: e.eval, workerData: data, transferList: port ? [port as never] : [], name: 'portcullis-gateway' });
      const exited = new Promise<number>((done) => worker.once('exit', done));
      let started = false;
      worker.on('message', (m: FromThread) => {
        if (m.type === 'listening') {
          started = true;
          url = m.url;
          const u = new URL(m.url);
          listenAt = `${u.hostname}:${u.port}`;
          resolve({ worker, exited });
        } else if (m.type === 'failed') {
          if (!started) reject(new PortcullisError(m.code as never, m.message));
        } else if (m.type === 'reply') {
          const w = waiting.get(m.id);
          waiting.delete(m.id);
          if (m.error === undefined) w?.resolve(m.value);
          else w?.reject(new CallFailed(`the gateway thread could not answer: ${m.error}`, true));
        } else if (m.type === 'in-sync') {
          if (running?.worker === worker) held = false;
          logger.info('the gateway thread re-read the store and serves again');
        } else if (m.type === 'out-of-sync') {
          if (running?.worker === worker) held = true;
        } else if (m.type === 'store') {
          if (m.problem === undefined) {
            if (storeProblem?.worker === worker) storeProblem = undefined;
          } else storeProblem = { worker, error: new PortcullisError(m.problem.code as never, m.problem.message, { expose: true, ...(m.problem.details ? { details: m.problem.details } : {}) }) };
        }
      });
      worker.on('error', (err) => {
        // the cause goes to the log (its redaction applies), not into the error a CLI prints
        logger.error({ err }, started ? 'the gateway thread failed' : 'the gateway thread failed to start');
        if (!started) reject(new PortcullisError('internal', 'the gateway thread failed to start (the log says why)', { cause: err }));
      });
      worker.once('exit', (code) => {
        const wasRunning = running?.worker === worker;
        if (wasRunning) {
          running = undefined;
          held = false;
        }
        for (const w of waiting.values()) w.reject(new CallFailed('the gateway thread stopped', false));
        waiting.clear();
        void stopBridge?.().catch(() => undefined);
        if (!started) {
          reject(new PortcullisError('internal', `the gateway thread exited (code ${code}) before it listened`));
          return;
        }
        if (closing || !wasRunning) return;
        logger.error({ code }, 'the gateway thread stopped; starting it again');
        restartTimer = setTimeout(restart, opts.restartDelayMs ?? 1000);
        restartTimer.unref();
      });
    });

  /**
   * Lets a thread that listens (its gate closed) serve: when events were emitted since it
   * may have read the store, it re-reads the store first, until none came meanwhile. A
   * thread that cannot is stopped.
   */
  const bringIn = async (r: Running): Promise<void> => {
    try {
      while (missed) {
        missed = false;
        await callOn(r, { what: 'reconcile' });
      }
    } catch (e) {
      missed = true;
      await r.worker.terminate();
      throw e;
    }
    if (closing) {
      await r.worker.terminate();
      return;
    }
    // (no event can come between the last check of `missed` and this: the next one goes to r)
    running = r;
    held = false;
    await callOn(r, { what: 'serve' }).catch(async (err: unknown) => {
      logger.error({ err }, 'the gateway thread did not take the order to serve; stopping it');
      await r.worker.terminate();
    });
  };

  const restart = (): void => {
    if (closing) return;
    spawn().then(bringIn).then(
      () => {
        if (!closing) logger.info({ url }, 'the gateway thread is serving again');
      },
      (err: unknown) => {
        logger.error({ err }, 'the gateway thread did not start; trying again');
        restartTimer = setTimeout(restart, opts.restartDelayMs ?? 1000);
        restartTimer.unref();
      },
    );
  };

  /** Asks the running thread; a thread that does not answer within CALL_TIMEOUT_MS is unavailable (an admin change never waits on it for ever). */
  const call = (c: ThreadCall): Promise<unknown> => {
    const r = running;
    if (r === undefined) return Promise.reject(new CallFailed('the gateway thread is restarting', false));
    return callOn(r, c);
  };
  const callOn = (r: Running, c: ThreadCall): Promise<unknown> => {
    const id = nextId++;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        waiting.delete(id);
        reject(new CallFailed(`the gateway thread did not answer within ${CALL_TIMEOUT_MS} ms`, false));
      }, CALL_TIMEOUT_MS);
      timer.unref();
      waiting.set(id, {
        resolve: (v) => (clearTimeout(timer), resolve(v)),
        reject: (e) => (clearTimeout(timer), reject(e)),
      });
      r.worker.postMessage({ type: 'call', id, ...c } satisfies ToThread);
    });
  };

  /**
   * The thread could not confirm `event`: it refuses requests until it has re-read the
   * store (`held`), or, when it did not answer, it is stopped and started again (a new
   * thread reads the store before it serves; this waits until it has stopped). Audited;
   * the caller gets `change.not-in-force`.
   */
  const notInForce = async (event: ClusterEvent, r: Running, cause: CallFailed): Promise<PortcullisError> => {
    const gateway = cause.answered && running === r ? 'refusing' : 'restarting';
    if (gateway === 'refusing') held = true;
    else {
      await r.worker.terminate();
      await r.exited;
    }
    logger.error({ err: cause, event: event.type, gateway }, 'the gateway thread could not confirm an admin change; it serves nothing until it has read the store');
    opts.audit.record({ time: Date.now(), type: 'gateway.change-not-in-force', actor: 'system', clientId: 'clientId' in event ? event.clientId : null, reason: 'change.not-in-force', data: { event: event.type, gateway, thread: cause.answered ? 'failed' : 'did-not-answer' } });
    return new PortcullisError('change.not-in-force', `the change is stored, but the gateway could not confirm it is in force: the gateway refuses every request until it has read it from the store (${gateway === 'refusing' ? 'it is retrying' : 'it is being restarted'})`, { cause, expose: true });
  };

  const apply = async (event: ClusterEvent): Promise<void> => {
    const r = running;
    // a thread that is not serving re-reads the store before it serves
    if (r === undefined) {
      missed = true;
      return;
    }
    try {
      await call({ what: 'event', event });
      return;
    } catch (e) {
      const failed = e as CallFailed;
      // a thread that did not answer cannot be told to hold either
      if (!failed.answered) throw await notInForce(event, r, failed);
      logger.warn({ err: failed, event: event.type }, 'the gateway thread could not apply an admin change; it re-reads the store');
    }
    try {
      await call({ what: 'reconcile' });
    } catch (e) {
      throw await notInForce(event, r, e as CallFailed);
    }
  };
  // from before the first thread starts: a change stored while it starts reaches it too
  opts.events.addPeer(apply);
  await bringIn(await spawn());

  return {
    get url() {
      return url;
    },
    get alive() {
      return running !== undefined && !held;
    },
    check: () => {
      if (running === undefined) throw new PortcullisError('unavailable', 'the gateway thread is restarting');
      if (held) throw new PortcullisError('gateway.not-in-sync', 'the gateway thread refuses requests until it has re-read the store', { expose: true });
      if (storeProblem?.worker === running.worker) throw storeProblem.error;
    },
    metrics: () => {
      if (running === undefined) return Promise.reject(new PortcullisError('unavailable', 'the gateway thread is restarting'));
      return call({ what: 'metrics' }) as Promise<MetricsJson>;
    },
    apply,
    reconcile: async () => {
      const r = running;
      if (r === undefined) return;
      try {
        await call({ what: 'reconcile' });
      } catch (e) {
        if ((e as CallFailed).answered && running === r) held = true;
        throw e;
      }
    },
    flushAudit: async () => {
      if (running !== undefined) await call({ what: 'flush-audit' });
    },
    terminate: async () => {
      await running?.worker.terminate();
    },
    close: async () => {
      closing = true;
      if (restartTimer) clearTimeout(restartTimer);
      const r = running;
      running = undefined;
      if (r === undefined) return;
      r.worker.postMessage({ type: 'close' } satisfies ToThread);
      // a thread that does not finish in time is stopped
      const timer = setTimeout(() => void r.worker.terminate(), 30_000);
      timer.unref();
      await r.exited;
      clearTimeout(timer);
    },
  };
}
