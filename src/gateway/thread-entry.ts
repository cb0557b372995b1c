/**
 * The gateway thread's entry (see thread.ts): a gateway-only node on the main thread's
 * config, reporting its URL, answering for its metrics, and closing on request.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { startPortcullis } from '../app.js';
import { PortcullisError } from '../core/errors.js';
import { BridgedEphemeralStore } from '../store/bridge/ephemeral.js';
import type { FromThread, GatewayThreadData, ToThread } from './thread.js';

const data = workerData as GatewayThreadData;
const port = parentPort!;
const send = (m: FromThread): void => port.postMessage(m);

try {
  const node = await startPortcullis({
    configFile: data.configFile,
    env: data.env,
    ephemeralPorts: data.ephemeralPorts,
    gatewayThread: {
      ...(data.listen !== undefined ? { listen: data.listen } : {}),
      ...(data.ephemeral !== undefined ? { ephemeral: new BridgedEphemeralStore(data.ephemeral as never) } : {}),
    },
  });
  const answer = (id: number, p: Promise<unknown>): void => {
    p.then(
      (value) => send({ type: 'reply', id, value }),
      (e: unknown) => send({ type: 'reply', id, error: e instanceof Error ? e.message : 'failed' }),
    );
  };
  port.on('message', (m: ToThread) => {
    if (m.type === 'close') {
      void node.close().finally(() => port.close());
      return;
    }
    if (m.what === 'metrics') answer(m.id, node.services.metrics.getMetricsAsJSON());
    else if (m.what === 'reconcile') answer(m.id, node.reconcile());
    else if (m.what === 'flush-audit') answer(m.id, node.services.audit.flush());
    else answer(m.id, node.services.events.apply(m.event));
  });
  send({ type: 'listening', url: node.urls.gateway! });
} catch (e) {
  const err = e instanceof PortcullisError ? e : new PortcullisError('internal', 'the gateway thread failed to start', { cause: e });
  send({ type: 'failed', code: err.code, message: err.message });
  port.close();
}
