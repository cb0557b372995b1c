/**
 * Webhooks over plain HTTP (webhooks/plain-http.ts): a delivery carries the event and its
 * signature, so an `http:` URL is refused (`webhook.insecure-url`) unless the deployment
 * opts in with `webhooks.allowInsecureHttp`, or the host is a loopback IP literal; the
 * worker checks again before every delivery, so a row stored before the rule (or under
 * another configuration) is never sent in clear.
 *
 * A NAT64 address embedding a loopback one (`64:ff9b::7f00:1`, RFC 6052) counted as a loopback
 * literal, since it takes the embedded address's class for the SSRF guard; but it is routed
 * to a NAT64 translator, off the host, so it is refused as plain http like any other host.
 */
import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FrozenClock } from '../../src/core/clock.js';
import { PortcullisError } from '../../src/core/errors.js';
import { silentLogger } from '../../src/core/logger.js';
import { refusedPlainHttp } from '../../src/webhooks/plain-http.js';
import { DeliveryWorker } from '../../src/webhooks/worker.js';
import { startTestNode, testConfig } from '../support/portcullis.js';
import { newMasterKey, openDeps, startReceiver } from './helpers.js';

const dir = mkdtempSync(join(tmpdir(), 'portcullis-plain-http-'));
after(() => rmSync(dir, { recursive: true, force: true }));
const W = { jitter: 0, timeoutMs: 3000, baseDelayMs: 1000, allowPrivateTargets: true };
const insecure = (url: string) => (e: unknown) => e instanceof PortcullisError && e.code === 'webhook.insecure-url' && e.status === 400;

describe('subscriptions: plain http is refused unless allowed', () => {
  test('http to a public name, to a private address, or to localhost by name: webhook.insecure-url, even with private targets allowed', async () => {
    for (const allowPrivateTargets of [false, true]) {
      const deps = await openDeps(`sqlite:${join(dir, `sub-${allowPrivateTargets}.db`)}`, newMasterKey(), new FrozenClock(Date.now()), 'ES256', undefined, allowPrivateTargets);
      try {
        const urls = ['http://hooks.example.com/in', 'http://93.184.215.14/in', 'http://[2606:4700::1111]/in', 'HTTP://hooks.example.com:443/in'];
        if (allowPrivateTargets) urls.push('http://10.0.0.5/hook', 'http://192.168.1.20:8080/in', 'http://localhost:9001/in', 'http://api.localhost/in');
        for (const url of urls) await assert.rejects(deps.webhooks.subscribe({ url, events: ['*'] }, 'admin'), insecure(url), url);
        assert.deepEqual(await deps.webhooks.list(), []);
        assert.ok((await deps.webhooks.subscribe({ url: 'https://hooks.example.com/in', events: ['*'] }, 'admin')).id);
      } finally {
        await deps.store.close();
      }
    }
  });

  test('a loopback IP literal may be plain http where private targets are allowed (the traffic never leaves the host)', async () => {
    const deps = await openDeps(`sqlite:${join(dir, 'loopback.db')}`, newMasterKey(), new FrozenClock(Date.now()));
    try {
      for (const url of ['http://127.0.0.1:9001/in', 'http://127.1.2.3/in', 'http://[::1]:9001/in', 'http://[::ffff:127.0.0.1]/in']) assert.ok((await deps.webhooks.subscribe({ url, events: ['*'] }, 'admin')).id, url);
    } finally {
      await deps.store.close();
    }
  });

  test('attack: http to a NAT64 address embedding 127.0.0.1 (routed off the host to the translator) → webhook.insecure-url, even with private targets allowed', async () => {
    const nat64 = ['http://[64:ff9b::7f00:1]/', 'http://[64:ff9b::127.0.0.1]:9001/in', 'http://[64:ff9b::7f01:203]/in', 'http://[64:ff9b:0:0:0:0:7f00:1]/in'];
    for (const url of nat64) assert.equal(refusedPlainHttp(new URL(url), false), true, url);
    const deps = await openDeps(`sqlite:${join(dir, 'nat64.db')}`, newMasterKey(), new FrozenClock(Date.now()), 'ES256', undefined, true);
    try {
      for (const url of nat64) await assert.rejects(deps.webhooks.subscribe({ url, events: ['*'] }, 'admin'), insecure(url), url);
      assert.deepEqual(await deps.webhooks.list(), []);
    } finally {
      await deps.store.close();
    }
  });

  test('webhooks.allowInsecureHttp admits plain http to a public name', async () => {
    const deps = await openDeps(`sqlite:${join(dir, 'allowed.db')}`, newMasterKey(), new FrozenClock(Date.now()), 'ES256', undefined, false, true);
    try {
      assert.ok((await deps.webhooks.subscribe({ url: 'http://hooks.example.com/in', events: ['*'] }, 'admin')).id);
    } finally {
      await deps.store.close();
    }
  });

  test('a node refuses http by default and takes webhooks.allowInsecureHttp from its configuration', async () => {
    const strict = await startTestNode();
    try {
      await assert.rejects(strict.services.webhooks.subscribe({ url: 'http://hooks.example.com/in', events: ['*'] }, 'admin'), insecure('default node'));
    } finally {
      await strict.stop();
    }
    const lax = await startTestNode({ config: testConfig('webhooks: { allowInsecureHttp: true }') });
    try {
      assert.ok((await lax.services.webhooks.subscribe({ url: 'http://hooks.example.com/in', events: ['*'] }, 'admin')).id);
    } finally {
      await lax.stop();
    }
  });
});

describe('delivery: the worker checks again before sending', () => {
  test('attack: an http row to a NAT64 address embedding 127.0.0.1 is not sent: insecure-url in the log', async () => {
    const clock = new FrozenClock(Date.now());
    const deps = await openDeps(`sqlite:${join(dir, 'legacy-nat64.db')}`, newMasterKey(), clock);
    try {
      await deps.hooks.insertWebhook({ id: 'wh_nat64', url: 'http://[64:ff9b::7f00:1]/', events: ['*'], description: null, createdAt: clock.now() });
      await deps.webhooks.enqueue('app.disabled', { time: clock.now(), type: 'app.disabled', actor: 'admin', clientId: 'app-1' });
      const worker = new DeliveryWorker(deps.hooks, deps.signer, clock, silentLogger, { ...W, timeoutMs: 500 });
      assert.equal(await worker.runOnce(), 1);
      await worker.stop();
      const [d] = await deps.webhooks.deliveries('wh_nat64');
      assert.deepEqual([d!.status, d!.attempts, d!.lastStatus, d!.lastError], ['pending', 1, null, 'insecure-url']);
    } finally {
      await deps.store.close();
    }
  });

  test('an http row stored before the rule is not sent: insecure-url in the log, nothing at the receiver; sent once the deployment allows it', async () => {
    const clock = new FrozenClock(Date.now());
    const deps = await openDeps(`sqlite:${join(dir, 'legacy.db')}`, newMasterKey(), clock);
    const rx = await startReceiver();
    try {
      // as an older version stored it: a name, not a loopback literal
      const url = rx.url.replace('127.0.0.1', 'localhost');
      await deps.hooks.insertWebhook({ id: 'wh_legacy', url, events: ['*'], description: null, createdAt: clock.now() });
      await deps.hooks.insertWebhook({ id: 'wh_lan', url: 'http://10.0.0.5/hook', events: ['*'], description: null, createdAt: clock.now() });
      await deps.webhooks.enqueue('app.disabled', { time: clock.now(), type: 'app.disabled', actor: 'admin', clientId: 'app-1' });
      const worker = new DeliveryWorker(deps.hooks, deps.signer, clock, silentLogger, W);
      assert.equal(await worker.runOnce(), 2);
      await worker.stop();
      assert.equal(rx.received.length, 0, 'nothing sent in clear');
      for (const id of ['wh_legacy', 'wh_lan']) {
        const [d] = await deps.webhooks.deliveries(id);
        assert.deepEqual([d!.status, d!.attempts, d!.lastStatus, d!.lastError], ['pending', 1, null, 'insecure-url'], id);
      }
      clock.advance(60_000);
      const allowed = new DeliveryWorker(deps.hooks, deps.signer, clock, silentLogger, { ...W, allowInsecureHttp: true, timeoutMs: 500, leaseMs: 6000 });
      await allowed.runOnce();
      await allowed.stop();
      assert.equal(rx.received.length, 1);
      assert.equal((await deps.webhooks.deliveries('wh_legacy'))[0]!.status, 'delivered');
    } finally {
      await rx.close();
      await deps.store.close();
    }
  });
});
