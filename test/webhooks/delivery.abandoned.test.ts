/**
 * A delivery given up after its last attempt: the subscriber never gets the event, and
 * before this only a log line said so. It is now audited as `webhook.delivery-abandoned`
 * (subscription and delivery ids, event type, attempts, last error code and the URL's
 * origin, never the URL nor anything the receiver sent) and counted in the worker's
 * `stats.abandoned` (/metrics), once: only the worker whose conditional write of `failed`
 * applies records it, so two nodes' workers never both do.
 */
import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { MemoryAuditSink } from '../../src/audit/sink.js';
import { FrozenClock } from '../../src/core/clock.js';
import { silentLogger } from '../../src/core/logger.js';
import { fetch as undiciFetch } from 'undici';
import { DeliveryWorker, type DeliveryWorkerOptions } from '../../src/webhooks/worker.js';
import { newMasterKey, openDeps } from './helpers.js';

const dir = mkdtempSync(join(tmpdir(), 'portcullis-webhooks-abandoned-'));
after(() => rmSync(dir, { recursive: true, force: true }));

const RECEIVER_SAYS = 'receiver-said-this';
const URL_SECRET = 'tok3n-in-the-url';

/** A receiver that answers every request 500, with a body and a header of its own. */
async function alwaysFailing(): Promise<{ url: string; origin: string; hits: () => number; close(): Promise<void> }> {
  let hits = 0;
  const server: Server = createServer((req, res) => {
    req.resume();
    req.on('end', () => {
      hits++;
      res.writeHead(500, { 'x-detail': RECEIVER_SAYS, 'content-type': 'text/plain' });
      res.end(`${RECEIVER_SAYS}: database down`);
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    url: `${origin}/hooks/${URL_SECRET}?token=${URL_SECRET}`,
    origin,
    hits: () => hits,
    close: () =>
      new Promise<void>((r) => {
        server.close(() => r());
        server.closeAllConnections();
      }),
  };
}

const OPTS: DeliveryWorkerOptions = { baseDelayMs: 1000, maxDelayMs: 60_000, jitter: 0, timeoutMs: 5000, leaseMs: 30_000, maxAttempts: 3, allowPrivateTargets: true };
const abandoned = (sink: MemoryAuditSink) => sink.events.filter((e) => e.type === 'webhook.delivery-abandoned');

describe('webhook delivery abandoned', () => {
  test('a delivery to a receiver that always answers 500 is given up after maxAttempts: one webhook.delivery-abandoned with ids, event, attempts and error code, never the URL or the answer; counted once', async () => {
    const clock = new FrozenClock(Date.now());
    const deps = await openDeps(`sqlite:${join(dir, 'one.db')}`, newMasterKey(), clock);
    const rx = await alwaysFailing();
    const audit = new MemoryAuditSink();
    const worker = new DeliveryWorker(deps.hooks, deps.signer, clock, silentLogger, { ...OPTS, audit });
    try {
      const hook = await deps.webhooks.subscribe({ url: rx.url, events: ['app.tokens-revoked'] }, 'admin');
      await deps.webhooks.enqueue('app.tokens-revoked', { time: clock.now(), type: 'app.tokens-revoked', actor: 'admin', clientId: 'app-1' });
      for (let i = 1; i <= 2; i++) {
        assert.equal(await worker.runOnce(), 1);
        assert.equal(abandoned(audit).length, 0, `nothing given up after attempt ${i}`);
        assert.equal(worker.stats.abandoned, 0);
        clock.advance(60_000);
      }
      assert.equal(await worker.runOnce(), 1);
      assert.equal(rx.hits(), 3);
      const [d] = await deps.webhooks.deliveries(hook.id);
      assert.equal(d!.status, 'failed');

      const events = abandoned(audit);
      assert.equal(events.length, 1);
      const e = events[0]!;
      assert.equal(e.actor, 'system');
      assert.equal(e.clientId, null);
      assert.equal(e.reason, 'webhook.delivery-abandoned');
      assert.equal(e.time, clock.now());
      assert.deepEqual(e.data, { webhookId: hook.id, deliveryId: d!.id, event: 'app.tokens-revoked', attempts: 3, lastError: 'HTTP 500', origin: rx.origin });
      const text = JSON.stringify(e);
      assert.ok(!text.includes(URL_SECRET), 'no path or query of the URL');
      assert.ok(!text.includes('/hooks'), 'no path of the URL');
      assert.ok(!text.includes(RECEIVER_SAYS), 'nothing the receiver sent');
      assert.equal(worker.stats.abandoned, 1);

      for (let i = 0; i < 3; i++) {
        clock.advance(3_600_000);
        assert.equal(await worker.runOnce(), 0);
      }
      assert.equal(abandoned(audit).length, 1);
      assert.equal(worker.stats.abandoned, 1);
    } finally {
      await worker.stop();
      await rx.close();
      await deps.store.close();
    }
  });

  test('two workers: one whose last attempt outlives its lease while the other gives the delivery up records nothing; exactly one event, from the worker whose write applied', async () => {
    const clock = new FrozenClock(Date.now());
    const deps = await openDeps(`sqlite:${join(dir, 'two.db')}`, newMasterKey(), clock);
    const rx = await alwaysFailing();
    const auditA = new MemoryAuditSink();
    const auditB = new MemoryAuditSink();
    const b = new DeliveryWorker(deps.hooks, deps.signer, clock, silentLogger, { ...OPTS, audit: auditB, owner: 'node-b' });
    let late = false;
    // node A's last attempt: sent for real, but its answer comes after its lease lapsed and node B claimed the row
    const slowFetch = (async (url: string, init: RequestInit) => {
      if (late) {
        clock.advance(OPTS.leaseMs!);
        assert.equal(await b.runOnce(), 1);
      }
      return (undiciFetch as unknown as typeof fetch)(url, init);
    }) as typeof fetch;
    const a = new DeliveryWorker(deps.hooks, deps.signer, clock, silentLogger, { ...OPTS, audit: auditA, owner: 'node-a', fetch: slowFetch });
    try {
      const hook = await deps.webhooks.subscribe({ url: rx.url, events: ['app.tokens-revoked'] }, 'admin');
      await deps.webhooks.enqueue('app.tokens-revoked', { time: clock.now(), type: 'app.tokens-revoked', actor: 'admin', clientId: 'app-1' });
      for (let i = 0; i < 2; i++) {
        assert.equal(await a.runOnce(), 1);
        clock.advance(60_000);
      }
      late = true;
      assert.equal(await a.runOnce(), 1);
      assert.equal(rx.hits(), 3, 'node B claimed past maxAttempts and did not send');
      const [d] = await deps.webhooks.deliveries(hook.id);
      assert.equal(d!.status, 'failed');
      assert.equal(d!.lastError, 'lease-lapsed');

      assert.equal(abandoned(auditA).length, 0, 'node A lost its claim: its failed write did not apply');
      assert.equal(a.stats.abandoned, 0);
      const events = abandoned(auditB);
      assert.equal(events.length, 1);
      assert.deepEqual(events[0]!.data, { webhookId: hook.id, deliveryId: d!.id, event: 'app.tokens-revoked', attempts: 4, lastError: 'lease-lapsed', origin: null });
      assert.equal(b.stats.abandoned, 1);
    } finally {
      await a.stop();
      await b.stop();
      await rx.close();
      await deps.store.close();
    }
  });
});
