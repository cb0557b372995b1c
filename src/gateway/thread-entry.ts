/**
 * The gateway thread's entry (see thread.ts): a gateway-only node on the main thread's
 * config, reporting its URL, answering for its metrics, applying the main thread's
 * events, and closing on request.
 *
 * The gateway's gate is closed until the main thread says `serve`: the thread read the
 * store as it started, but a change may have been stored after that read, and the main
 * thread first has it re-read the store then. A re-read (`reconcile`) that fails closes
 * the gate as well: every request is refused until a re-read that began after the last
 * failure succeeds (one is tried every second); the main thread is told, so `/readyz`
 * answers 503 meanwhile. So it is when the thread's own store connection cannot read (its
 * periodic re-read failed) or write (write-faults.ts): the main thread's `/readyz` says so,
 * naming the cause when the store was taken for down (`reason` PG_AUTH_FAILED…, breaker.ts).
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { parentPort, workerData } from 'node:worker_threads';
import { startPortcullis } from '../app.js';
import { PortcullisError } from '../core/errors.js';
import { BridgedEphemeralStore } from '../store/bridge/ephemeral.js';
import { GatewayGate } from './gate.js';
import { StoreRereader } from './in-force.js';
import type { FromThread, GatewayThreadData, ToThread } from './thread.js';

const data = workerData as GatewayThreadData;
const port = parentPort!;
const send = (m: FromThread): void => port.postMessage(m);
const RETRY_MS = 1000;

/**
 * Tests only (PORTCULLIS_TEST=1): `PORTCULLIS_TEST_GATEWAY_THREAD_FAULTS` names a JSON
 * file, read at each use, whose `apply` / `reconcile` make the thread's event
 * application / store re-read fail (`true`) or block the thread for 15 s (`"hang"`);
 * `listening: ms` delays the thread's report that it listens; `"reconcile-read": "hold"`
 * holds a re-read after it has read the store and before it installs what it read
 * (the thread meanwhile applies events), creates `<file>.read` then, and lets it go on
 * once the file no longer says `hold`.
 */
function testFaults(): ((what: 'apply' | 'reconcile' | 'reconcile-read' | 'listening') => void | Promise<void>) | undefined {
  const file = process.env.PORTCULLIS_TEST === '1' ? data.env.PORTCULLIS_TEST_GATEWAY_THREAD_FAULTS : undefined;
  if (file === undefined) return undefined;
  const read = (): Record<string, unknown> => {
    try {
      return JSON.parse(readFileSync(file, 'utf8')) as Record<string, unknown>;
    } catch {
      return {};
    }
  };
  return (what) => {
    const faults = read();
    if (faults[what] === 'hang') Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 15_000);
    if (faults[what] === true) throw new Error(`injected ${what} failure`);
    if (what === 'listening' && typeof faults[what] === 'number') return new Promise((done) => setTimeout(done, faults[what] as number));
    if (what === 'reconcile-read' && faults[what] === 'hold') {
      writeFileSync(`${file}.read`, '');
      return (async () => {
        while (read()[what] === 'hold') await new Promise((done) => setTimeout(done, 10));
      })();
    }
  };
}

const READ_FAILED = 'the gateway thread cannot read apps, revocations and keys from the store';

/**
 * What `/readyz` says of a failed re-read: the cause when the store names one that may be
 * shown (a store taken for down: `reason` PG_AUTH_FAILED…, `driverCode`), else only that it failed.
 */
function readFailure(err: unknown): { code: string; message: string; details?: Record<string, unknown> } {
  if (!(err instanceof PortcullisError) || !err.expose || err.details?.['reason'] === undefined) return { code: 'store.unavailable', message: READ_FAILED };
  return { code: err.code, message: `${READ_FAILED}: ${err.message}`, details: { ...err.details } };
}

try {
  const NOT_CONFIRMED = 'the main thread has not confirmed that it has every change stored since it started';
  const gate = new GatewayGate(NOT_CONFIRMED);
  const faults = testFaults();
  type Problem = { code: string; message: string; details?: Record<string, unknown> };
  let readProblem: Problem | undefined;
  let writeProblem: Problem | undefined;
  let told: string | undefined;
  const tellStore = (): void => {
    const problem = writeProblem ?? readProblem;
    const key = problem === undefined ? '' : `${problem.code} ${problem.message}`;
    if (key === told) return;
    told = key;
    send(problem === undefined ? { type: 'store' } : { type: 'store', problem });
  };
  const node = await startPortcullis({
    configFile: data.configFile,
    env: data.env,
    ephemeralPorts: data.ephemeralPorts,
    gatewayThread: {
      gate,
      eventsOf: data.eventsOf,
      ...(data.listen !== undefined ? { listen: data.listen } : {}),
      ...(data.ephemeral !== undefined ? { ephemeral: new BridgedEphemeralStore(data.ephemeral as never) } : {}),
      ...(faults !== undefined ? { faults } : {}),
      reconciled: (err) => {
        readProblem = err === undefined ? undefined : readFailure(err);
        tellStore();
      },
    },
  });
  node.services.store.onWriteFault((fault) => {
    writeProblem = fault === undefined ? undefined : { code: fault.code, message: `the gateway thread's store connection: ${fault.message}`, ...(fault.details ? { details: fault.details } : {}) };
    tellStore();
  });
  let served = false;
  const update = (): void => (served && rereader.inSync ? gate.open() : gate.close(served ? 're-reading apps, revocations and keys failed' : NOT_CONFIRMED));
  /** Re-reads the store; opens the gate only after a re-read that no failure overtook. */
  const rereader = new StoreRereader({
    reread: () => node.reconcile(),
    retryMs: RETRY_MS,
    onChange: (inSync) => {
      update();
      send({ type: inSync ? 'in-sync' : 'out-of-sync' });
    },
  });
  const reread = (): Promise<void> => rereader.run();
  // events from other nodes missed while the thread's own subscription was down
  node.services.events.resyncWhileMissing(reread);
  // An event from another node (the thread's own subscription) that fails here has no caller to tell: the thread
  // re-reads the store, and while it cannot, its gate stays closed (fail closed), as for the main thread's events.
  node.services.events.onRemoteFailure((e) => {
    reread().catch((err: unknown) => {
      node.services.audit.record({ time: Date.now(), type: 'gateway.change-not-in-force', actor: 'system', clientId: 'clientId' in e ? e.clientId : null, reason: 'change.not-in-force', data: { event: e.type, gateway: 'refusing', thread: 'gateway', via: 'subscription' } });
      node.services.logger.error({ err, event: e.type }, 'the gateway thread could not apply an event from another node nor re-read the store; it refuses requests until it has');
    });
  });
  const answer = (id: number, p: Promise<unknown>): void => {
    p.then(
      (value) => send({ type: 'reply', id, value }),
      (e: unknown) => send({ type: 'reply', id, error: e instanceof Error ? e.message : 'failed' }),
    );
  };
  port.on('message', (m: ToThread) => {
    if (m.type === 'close') {
      rereader.stop();
      void node.close().finally(() => port.close());
      return;
    }
    if (m.what === 'metrics') answer(m.id, node.services.metrics.getMetricsAsJSON());
    else if (m.what === 'reconcile') answer(m.id, reread());
    else if (m.what === 'serve') {
      served = true;
      update();
      answer(m.id, Promise.resolve());
    } else if (m.what === 'flush-audit') answer(m.id, node.services.audit.flush());
    else answer(m.id, node.services.events.apply(m.event));
  });
  await faults?.('listening');
  send({ type: 'listening', url: node.urls.gateway! });
} catch (e) {
  const err = e instanceof PortcullisError ? e : new PortcullisError('internal', 'the gateway thread failed to start', { cause: e });
  send({ type: 'failed', code: err.code, message: err.message });
  port.close();
}
