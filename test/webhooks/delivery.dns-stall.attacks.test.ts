/**
 * A receiver whose name server never answers. The connect-time check resolves with
 * `dns.lookup`, a getaddrinfo call that holds one of libuv's four pool threads until the
 * system resolver gives up (seconds, whatever the attempt's timeout), the pool that also
 * hashes passwords, reads files and resolves every other name of the node. Each attempt
 * under way to the subscription (up to `perWebhook`) connected with its own lookup, so one
 * such receiver held every thread of the pool. Concurrent lookups of one name share one
 * call: the receiver holds one thread, and every attempt waiting on it gets its answer.
 */
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import type { LookupAddress } from 'node:dns';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FrozenClock } from '../../src/core/clock.js';
import { silentLogger } from '../../src/core/logger.js';
import { DeliveryWorker } from '../../src/webhooks/worker.js';
import { newMasterKey, openDeps, until } from './helpers.js';

const dir = mkdtempSync(join(tmpdir(), 'portcullis-dns-stall-'));
after(() => rmSync(dir, { recursive: true, force: true }));

test('attack: attempts to a name whose lookup hangs share one lookup, and each ends with its answer', async () => {
  const clock = new FrozenClock(Date.now());
  const deps = await openDeps(`sqlite:${join(dir, 'stall.db')}`, newMasterKey(), clock, 'ES256', undefined, false, false);
  try {
    const hook = await deps.webhooks.subscribe({ url: 'https://stall.example/in', events: ['*'] }, 'admin');
    for (let i = 0; i < 5; i++) await deps.webhooks.enqueue('app.disabled', { time: clock.now(), type: 'app.disabled', actor: 'admin', clientId: `app-${i}` });
    const held: Array<(err: NodeJS.ErrnoException | null, a: LookupAddress[]) => void> = [];
    const worker = new DeliveryWorker(deps.hooks, deps.signer, clock, silentLogger, { jitter: 0, timeoutMs: 20_000, resolve: (_name, _o, cb) => void held.push(cb) });
    const run = worker.runOnce();
    assert.ok(await until(() => held.length > 0, 5000), 'a lookup was asked');
    // every attempt is under way (each would have asked by now)
    await new Promise((r) => setTimeout(r, 500));
    assert.equal(held.length, 1, `one lookup for the five attempts, not ${held.length}`);
    const err = Object.assign(new Error('getaddrinfo EAI_AGAIN stall.example'), { code: 'EAI_AGAIN' });
    for (const cb of held) cb(err, []);
    assert.equal(await run, 5);
    await worker.stop();
    const ds = await deps.webhooks.deliveries(hook.id);
    assert.deepEqual(
      ds.map((d) => [d.status, d.lastError]),
      ds.map(() => ['pending', 'EAI_AGAIN']),
    );
  } finally {
    await deps.store.close();
  }
});
