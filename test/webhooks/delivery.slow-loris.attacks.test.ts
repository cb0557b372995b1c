/**
 * A receiver that answers a byte at a time (slow loris), in the response head or in an
 * endless body, holds a delivery attempt no longer than the per-attempt timeout; the
 * attempt is recorded as `timeout` (or by its status), nothing of the body is recorded.
 */
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FrozenClock } from '../../src/core/clock.js';
import { silentLogger } from '../../src/core/logger.js';
import { DeliveryWorker } from '../../src/webhooks/worker.js';
import { newMasterKey, openDeps } from './helpers.js';

const dir = mkdtempSync(join(tmpdir(), 'portcullis-slowloris-'));
after(() => rmSync(dir, { recursive: true, force: true }));

/** Answers every request with `head` then one byte of `drip` every 100 ms, forever. */
async function startTrickler(head: string, drip: string): Promise<{ url: string; close(): Promise<void> }> {
  const sockets = new Set<Socket>();
  const timers = new Set<NodeJS.Timeout>();
  const server = createServer((s) => {
    sockets.add(s);
    s.on('error', () => undefined);
    s.once('data', () => {
      s.write(head);
      let i = 0;
      const t = setInterval(() => s.write(drip[i++ % drip.length]!), 100);
      timers.add(t);
      s.on('close', () => clearInterval(t));
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as { port: number };
  return {
    url: `http://127.0.0.1:${port}/in`,
    close: async () => {
      for (const t of timers) clearInterval(t);
      for (const s of sockets) s.destroy();
      await new Promise<void>((r) => server.close(() => r()));
    },
  };
}

test('a receiver trickling its response head or an endless body holds an attempt only until the timeout', async () => {
  const clock = new FrozenClock(Date.now());
  const deps = await openDeps(`sqlite:${join(dir, 'loris.db')}`, newMasterKey(), clock);
  const headLoris = await startTrickler('HTTP/1.1 200 OK\r\n', 'X-Drip: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\r\n');
  const bodyLoris = await startTrickler('HTTP/1.1 500 Oops\r\nContent-Type: text/plain\r\nTransfer-Encoding: chunked\r\n\r\n', '1\r\nx\r\n');
  try {
    const a = await deps.webhooks.subscribe({ url: headLoris.url, events: ['*'] }, 'admin');
    const b = await deps.webhooks.subscribe({ url: bodyLoris.url, events: ['*'] }, 'admin');
    await deps.webhooks.enqueue('app.disabled', { time: clock.now(), type: 'app.disabled', actor: 'admin', clientId: 'app-1' });
    const worker = new DeliveryWorker(deps.hooks, deps.signer, clock, silentLogger, { jitter: 0, timeoutMs: 1000, allowPrivateTargets: true });
    const t0 = performance.now();
    assert.equal(await worker.runOnce(), 2);
    const took = performance.now() - t0;
    await worker.stop();
    assert.ok(took < 3000, `the attempts took ${Math.round(took)} ms`);
    const [da] = await deps.webhooks.deliveries(a.id);
    const [db] = await deps.webhooks.deliveries(b.id);
    assert.deepEqual([da!.status, da!.lastStatus, da!.lastError], ['pending', null, 'timeout']);
    assert.deepEqual([db!.status, db!.lastStatus, db!.lastError], ['pending', 500, 'HTTP 500']);
  } finally {
    await headLoris.close();
    await bodyLoris.close();
    await deps.store.close();
  }
});
