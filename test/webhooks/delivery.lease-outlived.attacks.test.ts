/**
 * A delivery attempt that outlives its lease: another claim takes the row, the attempt's
 * outcome is never recorded, and before this the attempt count only rose when one was,
 * so a receiver that always answers after the lease lapses was sent the delivery without
 * limit. An attempt now counts when it is claimed, and a worker whose lease is not longer
 * than its attempt timeout (plus a margin) is refused at construction (config.invalid).
 */
import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FrozenClock } from '../../src/core/clock.js';
import { PortcullisError } from '../../src/core/errors.js';
import { silentLogger } from '../../src/core/logger.js';
import { DeliveryWorker } from '../../src/webhooks/worker.js';
import { newMasterKey, openDeps } from './helpers.js';

const dir = mkdtempSync(join(tmpdir(), 'portcullis-webhooks-lease-'));
after(() => rmSync(dir, { recursive: true, force: true }));

describe('webhook delivery lease outlived', () => {
  test('attack: an attempt that always outlives its lease is sent at most maxAttempts times, then the delivery fails', async () => {
    const clock = new FrozenClock(Date.now());
    const deps = await openDeps(`sqlite:${join(dir, 'outlived.db')}`, newMasterKey(), clock);
    const leaseMs = 30_000;
    try {
      const hook = await deps.webhooks.subscribe({ url: 'http://127.0.0.1:9/in', events: ['app.tokens-revoked'] }, 'admin');
      await deps.webhooks.enqueue('app.tokens-revoked', { time: clock.now(), type: 'app.tokens-revoked', actor: 'admin', clientId: 'app-1' });
      let sent = 0;
      // each attempt answers only after its lease lapsed and another node (which then dies) claimed the row
      const slow = (async () => {
        sent++;
        clock.advance(leaseMs);
        await deps.store.claimDueDeliveries(clock.now(), 10, 'node-b', leaseMs);
        clock.advance(leaseMs);
        return new Response('late', { status: 500 });
      }) as typeof fetch;
      const worker = new DeliveryWorker(deps.hooks, deps.signer, clock, silentLogger, { jitter: 0, baseDelayMs: 1000, maxAttempts: 4, leaseMs, timeoutMs: 5000, allowPrivateTargets: true, fetch: slow });
      for (let i = 0; i < 10; i++) {
        await worker.runOnce();
        clock.advance(leaseMs);
      }
      assert.ok(sent <= 4, `sent ${sent} times`);
      const [d] = await deps.webhooks.deliveries(hook.id);
      assert.equal(d!.status, 'failed');
      assert.equal(d!.lastError, 'lease-lapsed');
      assert.equal(await worker.runOnce(), 0);
    } finally {
      await deps.store.close();
    }
  });

  test('a claimed attempt counts at claim time, recorded or not; recording it does not count it twice', async () => {
    const clock = new FrozenClock(Date.now());
    const deps = await openDeps(`sqlite:${join(dir, 'count.db')}`, newMasterKey(), clock);
    try {
      await deps.webhooks.subscribe({ url: 'http://127.0.0.1:9/in', events: ['app.tokens-revoked'] }, 'admin');
      await deps.webhooks.enqueue('app.tokens-revoked', { time: clock.now(), type: 'app.tokens-revoked', actor: 'admin', clientId: 'app-1' });
      const [a] = await deps.store.claimDueDeliveries(clock.now(), 10, 'node-a', 30_000);
      assert.equal(a!.attempts, 1);
      const [b] = await deps.store.claimDueDeliveries(clock.now() + 30_000, 10, 'node-b', 30_000);
      assert.equal(b!.attempts, 2);
      assert.equal(await deps.store.recordAttempt(b!.id, 'node-b', b!.leaseUntil, { status: 'pending', nextAttemptAt: clock.now(), lastStatus: 500, lastError: 'HTTP 500', at: clock.now() }), true);
      assert.equal((await deps.store.getDelivery(b!.id))!.attempts, 2);
    } finally {
      await deps.store.close();
    }
  });

  test('a lease not longer than the attempt timeout plus a margin is refused (config.invalid naming leaseMs and timeoutMs)', async () => {
    const clock = new FrozenClock(Date.now());
    const deps = await openDeps(`sqlite:${join(dir, 'config.db')}`, newMasterKey(), clock);
    try {
      for (const o of [{ leaseMs: 10_000, timeoutMs: 10_000 }, { leaseMs: 5_000, timeoutMs: 10_000 }, { timeoutMs: 60_000 }, { leaseMs: 10_000 }, { leaseMs: 14_999, timeoutMs: 10_000 }]) {
        assert.throws(
          () => new DeliveryWorker(deps.hooks, deps.signer, clock, silentLogger, o),
          (e: unknown) => e instanceof PortcullisError && e.code === 'config.invalid' && /leaseMs/.test(e.message) && /timeoutMs/.test(e.message),
          JSON.stringify(o),
        );
      }
      for (const o of [{}, { leaseMs: 15_000, timeoutMs: 10_000 }, { leaseMs: 30_000, timeoutMs: 5000 }]) {
        await new DeliveryWorker(deps.hooks, deps.signer, clock, silentLogger, o).stop();
      }
    } finally {
      await deps.store.close();
    }
  });
});
