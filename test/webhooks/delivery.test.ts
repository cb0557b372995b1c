/**
 * The delivery worker against a local HTTP receiver, on a real SQLite file with a
 * frozen clock: signed requests (verified by the SDK and by http-message-signatures),
 * retries with growing delays, giving up, a restart in the middle of a retry, and
 * leases that keep two workers from sending the same attempt.
 */
import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createPublicKey } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createVerifier, httpbis } from 'http-message-signatures';
import { FrozenClock } from '../../src/core/clock.js';
import { PortcullisError } from '../../src/core/errors.js';
import { silentLogger } from '../../src/core/logger.js';
import { verifyWebhook } from '../../src/sdk/index.js';
import { DeliveryWorker, type DeliveryWorkerOptions } from '../../src/webhooks/worker.js';
import type { AuditEventInput } from '../../src/audit/store.js';
import { newMasterKey, openDeps, startReceiver, type Deps, type Receiver } from './helpers.js';

const dir = mkdtempSync(join(tmpdir(), 'portcullis-webhooks-'));
after(() => rmSync(dir, { recursive: true, force: true }));

// the receivers listen on 127.0.0.1: the explicit opt-in (test/webhooks/ssrf.test.ts covers the default)
const FAST: DeliveryWorkerOptions = { baseDelayMs: 1000, maxDelayMs: 60_000, jitter: 0, timeoutMs: 5000, leaseMs: 30_000, allowPrivateTargets: true };
const revoked = (clock: FrozenClock): AuditEventInput => ({ time: clock.now(), type: 'app.tokens-revoked', actor: 'admin', clientId: 'app-1' });

async function rejectsCode(p: Promise<unknown>, code: string): Promise<void> {
  await assert.rejects(p, (e: unknown) => e instanceof PortcullisError && e.code === code);
}

describe('webhook delivery', () => {
  let n = 0;
  let clock: FrozenClock;
  let deps: Deps;
  let rx: Receiver;
  let dbUrl: string;
  const master = newMasterKey();

  const setup = async (script: number[] = []) => {
    clock = new FrozenClock(Date.now());
    dbUrl = `sqlite:${join(dir, `d${++n}.db`)}`;
    deps = await openDeps(dbUrl, master, clock);
    rx = await startReceiver('/hooks/in', script);
  };
  const teardown = async () => {
    await rx.close();
    await deps.store.close();
  };
  const jwks = () => deps.keys.jwks() as { keys: Array<{ kty: string; kid?: string }> };

  test('a signed webhook verifies with the SDK (JWKS keys) and with http-message-signatures; the body is the event', async () => {
    await setup();
    try {
      const hook = await deps.webhooks.subscribe({ url: rx.url, events: ['app.tokens-revoked'] }, 'admin');
      assert.equal(await deps.webhooks.enqueue('app.tokens-revoked', revoked(clock)), 1);
      const worker = new DeliveryWorker(deps.hooks, deps.signer, clock, silentLogger, FAST);
      assert.equal(await worker.runOnce(), 1);
      assert.equal(rx.received.length, 1);
      const got = rx.received[0]!;
      assert.equal(got.method, 'POST');
      assert.equal(got.headers['content-type'], 'application/json');
      assert.match(String(got.headers['signature-input']), /^sig1=\("@method" "@target-uri" "content-digest" "content-type" "portcullis-delivery"\);created=\d+;keyid="[^"]+";nonce="[A-Za-z0-9_-]{22}";tag="portcullis-webhook"$/);

      const v = await verifyWebhook(rx.asRequest(got), { keys: jwks() });
      assert.equal(v.keyid, deps.keys.signingKey().kid);
      assert.equal(v.alg, 'ecdsa-p256-sha256');
      assert.equal(v.event.type, 'app.tokens-revoked');
      assert.equal(v.event.client_id, 'app-1');
      assert.match(v.event.id, /^evt_/);

      // An implementation nobody here wrote agrees.
      const pub = createPublicKey({ key: jwks().keys[0] as import('node:crypto').JsonWebKey, format: 'jwk' });
      const keyLookup = async (p: { keyid?: string }) => (p.keyid === v.keyid ? { id: v.keyid!, algs: ['ecdsa-p256-sha256' as const], verify: createVerifier(pub, 'ecdsa-p256-sha256') } : null);
      const asMessage = { method: got.method, url: rx.url, headers: Object.fromEntries(Object.entries(got.headers).map(([k, val]) => [k, String(val)])) };
      assert.equal(await httpbis.verifyMessage({ keyLookup }, asMessage), true);
      assert.equal(await httpbis.verifyMessage({ keyLookup }, { ...asMessage, url: rx.url + '?x=1' }), false);

      const log = await deps.webhooks.deliveries(hook.id);
      assert.equal(log.length, 1);
      assert.equal(log[0]!.status, 'delivered');
      assert.equal(log[0]!.attempts, 1);
      assert.equal(log[0]!.lastStatus, 200);
    } finally {
      await teardown();
    }
  });

  test('attack: a tampered webhook body fails verifyWebhook with digest.mismatch; a changed content-type with signature.invalid; another tag with signature.wrong-tag', async () => {
    await setup();
    try {
      await deps.webhooks.subscribe({ url: rx.url, events: ['*'] }, 'admin');
      await deps.webhooks.enqueue('app.tokens-revoked', revoked(clock));
      await new DeliveryWorker(deps.hooks, deps.signer, clock, silentLogger, FAST).runOnce();
      const got = rx.received[0]!;
      const tampered = { ...got, body: Buffer.from(got.body.toString().replace('app-1', 'app-2')) };
      await rejectsCode(verifyWebhook(rx.asRequest(tampered), { keys: jwks() }), 'digest.mismatch');
      const retyped = { ...got, headers: { ...got.headers, 'content-type': 'text/plain' } };
      await rejectsCode(verifyWebhook(rx.asRequest(retyped), { keys: jwks() }), 'signature.invalid');
      const retagged = { ...got, headers: { ...got.headers, 'signature-input': String(got.headers['signature-input']).replace('portcullis-webhook', 'other') } };
      await rejectsCode(verifyWebhook(rx.asRequest(retagged), { keys: jwks() }), 'signature.wrong-tag');
      // replayed to another URL of the receiver
      const moved = rx.asRequest(got);
      await rejectsCode(verifyWebhook(moved, { keys: jwks(), url: rx.url.replace('/hooks/in', '/hooks/other') }), 'signature.invalid');
      // signed by a key that is not in the JWKS
      await rejectsCode(verifyWebhook(rx.asRequest(got), { keys: { keys: [] } }), 'signature.unknown-key');
    } finally {
      await teardown();
    }
  });

  test('a receiver that fails twice then succeeds gets three attempts, 1 s then 2 s apart; the log records each outcome', async () => {
    await setup([500, 503]);
    try {
      const hook = await deps.webhooks.subscribe({ url: rx.url, events: ['app.tokens-revoked'] }, 'admin');
      await deps.webhooks.enqueue('app.tokens-revoked', revoked(clock));
      const worker = new DeliveryWorker(deps.hooks, deps.signer, clock, silentLogger, FAST);
      const t0 = clock.now();
      const sentAt: number[] = [];
      const tick = async () => {
        const before = rx.received.length;
        const n = await worker.runOnce();
        if (rx.received.length > before) sentAt.push(clock.now() - t0);
        return n;
      };

      assert.equal(await tick(), 1);
      let [d] = await deps.webhooks.deliveries(hook.id);
      assert.deepEqual([d!.status, d!.attempts, d!.lastStatus, d!.lastError, d!.nextAttemptAt - t0], ['pending', 1, 500, 'HTTP 500', 1000]);
      assert.equal(await tick(), 0, 'not due before its delay');
      clock.advance(1000);
      assert.equal(await tick(), 1);
      [d] = await deps.webhooks.deliveries(hook.id);
      assert.deepEqual([d!.status, d!.attempts, d!.lastStatus, d!.nextAttemptAt - t0], ['pending', 2, 503, 3000]);
      clock.advance(1000);
      assert.equal(await tick(), 0, 'the second delay (2 s) is longer than the first');
      clock.advance(1000);
      assert.equal(await tick(), 1);
      [d] = await deps.webhooks.deliveries(hook.id);
      assert.deepEqual([d!.status, d!.attempts, d!.lastStatus, d!.lastError, d!.deliveredAt! - t0], ['delivered', 3, 200, null, 3000]);

      assert.deepEqual(sentAt, [0, 1000, 3000]);
      assert.equal(rx.received.length, 3);
      const bodies = new Set(rx.received.map((r) => r.body.toString()));
      assert.equal(bodies.size, 1, 'every attempt carries the same event (same id)');
      assert.equal(await tick(), 0, 'a delivered event is not sent again');
    } finally {
      await teardown();
    }
  });

  test('after maxAttempts failures the delivery is failed and never sent again', async () => {
    await setup([500, 500, 500, 500]);
    try {
      const hook = await deps.webhooks.subscribe({ url: rx.url, events: ['app.tokens-revoked'] }, 'admin');
      await deps.webhooks.enqueue('app.tokens-revoked', revoked(clock));
      const worker = new DeliveryWorker(deps.hooks, deps.signer, clock, silentLogger, { ...FAST, maxAttempts: 3 });
      for (let i = 0; i < 6; i++) {
        await worker.runOnce();
        clock.advance(10_000);
      }
      const [d] = await deps.webhooks.deliveries(hook.id);
      assert.deepEqual([d!.status, d!.attempts, d!.lastError], ['failed', 3, 'HTTP 500']);
      assert.equal(rx.received.length, 3);
    } finally {
      await teardown();
    }
  });

  test('an unreachable receiver is logged with the connection error and retried; a redirect is not followed and counts as a failure', async () => {
    await setup([302]);
    try {
      const closed = await startReceiver();
      await closed.close();
      const dead = await deps.webhooks.subscribe({ url: closed.url, events: ['app.tokens-revoked'] }, 'admin');
      const redirecting = await deps.webhooks.subscribe({ url: rx.url, events: ['app.tokens-revoked'] }, 'admin');
      await deps.webhooks.enqueue('app.tokens-revoked', revoked(clock));
      await new DeliveryWorker(deps.hooks, deps.signer, clock, silentLogger, FAST).runOnce();
      const [d] = await deps.webhooks.deliveries(dead.id);
      assert.deepEqual([d!.status, d!.attempts, d!.lastStatus, d!.lastError], ['pending', 1, null, 'ECONNREFUSED']);
      const [r] = await deps.webhooks.deliveries(redirecting.id);
      assert.deepEqual([r!.status, r!.lastStatus, r!.lastError], ['pending', 302, 'HTTP 302']);
    } finally {
      await teardown();
    }
  });

  test('a restart in the middle of the retries keeps the pending delivery: a new process on the same file delivers it', async () => {
    await setup([500]);
    try {
      const hook = await deps.webhooks.subscribe({ url: rx.url, events: ['app.tokens-revoked'] }, 'admin');
      await deps.webhooks.enqueue('app.tokens-revoked', revoked(clock));
      await new DeliveryWorker(deps.hooks, deps.signer, clock, silentLogger, FAST).runOnce();
      assert.equal(rx.received.length, 1);
      await deps.store.close();

      deps = await openDeps(dbUrl, master, clock);
      const [pending] = await deps.webhooks.deliveries(hook.id);
      assert.deepEqual([pending!.status, pending!.attempts], ['pending', 1]);
      clock.advance(1000);
      assert.equal(await new DeliveryWorker(deps.hooks, deps.signer, clock, silentLogger, FAST).runOnce(), 1);
      const [d] = await deps.webhooks.deliveries(hook.id);
      assert.deepEqual([d!.status, d!.attempts], ['delivered', 2]);
      assert.equal(rx.received.length, 2);
      await verifyWebhook(rx.asRequest(rx.received[1]!), { keys: jwks() });
    } finally {
      await teardown();
    }
  });

  test('leases: a delivery claimed by one worker is not claimed by another until the lease lapses, and the stale worker cannot record its attempt', async () => {
    await setup();
    try {
      await deps.webhooks.subscribe({ url: rx.url, events: ['app.tokens-revoked'] }, 'admin');
      await deps.webhooks.enqueue('app.tokens-revoked', revoked(clock));
      const now = clock.now();
      const [claimedA] = await deps.store.claimDueDeliveries(now, 10, 'worker-a', 30_000);
      assert.ok(claimedA);
      assert.deepEqual(await deps.store.claimDueDeliveries(now + 29_999, 10, 'worker-b', 30_000), []);
      const [claimedB] = await deps.store.claimDueDeliveries(now + 30_000, 10, 'worker-b', 30_000);
      assert.equal(claimedB?.id, claimedA.id);
      const result = { status: 'delivered' as const, nextAttemptAt: now, lastStatus: 200, lastError: null, at: now + 30_001 };
      assert.equal(await deps.store.recordAttempt(claimedA.id, 'worker-a', claimedA.leaseUntil, result), false);
      assert.equal(await deps.store.recordAttempt(claimedB.id, 'worker-b', claimedB.leaseUntil, result), true);
      // both claims count: worker-a may have sent its attempt though it could not record it
      assert.equal((await deps.store.getDelivery(claimedA.id))!.attempts, 2);
    } finally {
      await teardown();
    }
  });

  test('subscriptions: only matching event types are queued; unknown types, non-http URLs and URLs with credentials are refused (request.invalid)', async () => {
    await setup();
    try {
      const a = await deps.webhooks.subscribe({ url: rx.url, events: ['app.disabled'] }, 'admin');
      const all = await deps.webhooks.subscribe({ url: rx.url, events: ['*'] }, 'admin');
      assert.equal(await deps.webhooks.enqueue('app.tokens-revoked', revoked(clock)), 1);
      assert.equal((await deps.webhooks.deliveries(a.id)).length, 0);
      assert.equal((await deps.webhooks.deliveries(all.id)).length, 1);
      await rejectsCode(deps.webhooks.subscribe({ url: rx.url, events: ['user.everything'] }, 'admin'), 'request.invalid');
      await rejectsCode(deps.webhooks.subscribe({ url: 'file:///etc/passwd', events: ['*'] }, 'admin'), 'request.invalid');
      await rejectsCode(deps.webhooks.subscribe({ url: 'https://user:pw@hooks.example/x', events: ['*'] }, 'admin'), 'request.invalid');
      await deps.webhooks.remove(all.id, 'admin');
      await rejectsCode(deps.webhooks.deliveries(all.id), 'not-found');
      assert.equal(await deps.store.getDelivery((await deps.store.listDeliveries(all.id, 10))[0]?.id ?? 'none'), undefined);
    } finally {
      await teardown();
    }
  });
});

test('backoff jitter never passes the documented cap (maxDelayMs), and still spreads the delays at the cap', () => {
  const clock = new FrozenClock(Date.now());
  const w = new DeliveryWorker({} as never, {} as never, clock, silentLogger, { baseDelayMs: 10_000, maxDelayMs: 3_600_000, jitter: 0.1, allowPrivateTargets: true });
  const atCap = Array.from({ length: 200 }, () => w.delayAfter(12));
  assert.ok(atCap.every((d) => d <= 3_600_000 && d >= 3_240_000), `max ${Math.max(...atCap)}`);
  assert.ok(new Set(atCap).size > 1, 'spread at the cap');
  const early = Array.from({ length: 200 }, () => w.delayAfter(1));
  assert.ok(early.every((d) => d >= 10_000 && d <= 11_000));
});

test('a subscription URL with an empty query ("…/in?") is signed as it is sent: the receiver verifies it', async () => {
  const clock = new FrozenClock(Date.now());
  const deps = await openDeps(`sqlite:${join(dir, 'empty-query.db')}`, newMasterKey(), clock);
  const rx = await startReceiver();
  try {
    await deps.webhooks.subscribe({ url: `${rx.url}?`, events: ['*'] }, 'admin');
    await deps.webhooks.enqueue('app.tokens-revoked', revoked(clock));
    await new DeliveryWorker(deps.hooks, deps.signer, clock, silentLogger, FAST).runOnce();
    assert.equal(rx.received.length, 1);
    const { event } = await verifyWebhook(rx.asRequest(rx.received[0]!), { keys: deps.keys.jwks() as { keys: Array<{ kty: string; kid?: string }> } });
    assert.equal((event as { type: string }).type, 'app.tokens-revoked');
  } finally {
    await rx.close();
    await deps.store.close();
  }
});
