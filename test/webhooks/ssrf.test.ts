/**
 * Webhook SSRF (review #9): by default a subscription may not name a loopback, private,
 * link-local (cloud metadata), unique-local, unspecified or other special-use address,
 * and every delivery checks the address its host name resolves to when it connects (DNS
 * rebinding). A refused delivery is logged as `target-forbidden` only, never with the
 * socket error that would make the delivery log a port scanner. The opt-in
 * `allowPrivateTargets` lets them through.
 */
import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { lookup } from 'node:dns/promises';
import { mkdtempSync, rmSync } from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { FrozenClock } from '../../src/core/clock.js';
import { PortcullisError } from '../../src/core/errors.js';
import { silentLogger } from '../../src/core/logger.js';
import { randomId } from '../../src/core/ids.js';
import { isPublicAddress, publicOnlyLookup } from '../../src/webhooks/target.js';
import { DeliveryWorker } from '../../src/webhooks/worker.js';
import { newMasterKey, openDeps, startReceiver } from './helpers.js';

const dir = mkdtempSync(join(tmpdir(), 'portcullis-ssrf-'));
after(() => rmSync(dir, { recursive: true, force: true }));
const W = { jitter: 0, timeoutMs: 3000, baseDelayMs: 1000 };

describe('isPublicAddress', () => {
  test('special-use IPv4 and IPv6 addresses are not public, embedded IPv4 forms follow the embedded address', () => {
    for (const ip of ['127.0.0.1', '127.1.2.3', '10.1.2.3', '172.16.0.1', '172.31.255.255', '192.168.1.1', '169.254.169.254', '100.64.0.1', '0.0.0.0', '255.255.255.255', '224.0.0.1', '192.0.2.1', '198.18.0.1', '::', '::1', 'fe80::1', 'fc00::1', 'fd12:3456::1', 'ff02::1', '::ffff:127.0.0.1', '::ffff:7f00:1', '::ffff:169.254.169.254', '64:ff9b::a00:1', '2002:7f00:1::1', '2001::1', '2001:db8::1', 'fec0::1', 'not-an-ip']) {
      assert.equal(isPublicAddress(ip), false, ip);
    }
    for (const ip of ['93.184.215.14', '8.8.8.8', '172.32.0.1', '2606:4700::1111', '::ffff:8.8.8.8', '64:ff9b::808:808']) assert.equal(isPublicAddress(ip), true, ip);
  });
});

describe('subscriptions: non-public destinations refused without the opt-in', () => {
  test('loopback, metadata, private, ULA, unspecified, localhost and numeric tricks: webhook.target-forbidden; public names accepted', async () => {
    const deps = await openDeps(`sqlite:${join(dir, 'sub.db')}`, newMasterKey(), new FrozenClock(Date.now()), 'ES256', undefined, false);
    try {
      for (const url of ['http://127.0.0.1:6379/', 'http://169.254.169.254/latest/meta-data/', 'http://10.0.0.5/hook', 'http://[::1]:8080/', 'http://[fd00::1]/', 'http://0x7f000001/', 'http://2130706433/', 'http://0.0.0.0/', 'http://localhost:9001/hooks', 'http://api.localhost/', 'http://[::ffff:127.0.0.1]/', 'https://192.168.0.10/']) {
        await assert.rejects(deps.webhooks.subscribe({ url, events: ['*'] }, 'admin'), (e: unknown) => e instanceof PortcullisError && e.code === 'webhook.target-forbidden' && e.status === 400, url);
      }
      assert.ok((await deps.webhooks.subscribe({ url: 'https://hooks.example.com/in', events: ['*'] }, 'admin')).id);
    } finally {
      await deps.store.close();
    }
  });
});

describe('delivery: the address is checked when connecting, and the log says only target-forbidden', () => {
  test('a hook to 127.0.0.1 (registered while private targets were allowed) is not delivered by a default worker; no socket detail is logged', async () => {
    const clock = new FrozenClock(Date.now());
    const url = `sqlite:${join(dir, 'literal.db')}`;
    const deps = await openDeps(url, newMasterKey(), clock);
    const rx = await startReceiver();
    const closed = await startReceiver();
    await closed.close();
    try {
      const open = await deps.webhooks.subscribe({ url: rx.url, events: ['*'] }, 'admin');
      const dead = await deps.webhooks.subscribe({ url: closed.url, events: ['*'] }, 'admin');
      await deps.webhooks.enqueue('app.disabled', { time: clock.now(), type: 'app.disabled', actor: 'admin', clientId: 'app-1' });
      const worker = new DeliveryWorker(deps.hooks, deps.signer, clock, silentLogger, W);
      assert.equal(await worker.runOnce(), 2);
      await worker.stop();
      assert.equal(rx.received.length, 0, 'nothing reached the loopback receiver');
      const [a] = await deps.webhooks.deliveries(open.id);
      const [b] = await deps.webhooks.deliveries(dead.id);
      // a listening port and a closed one look the same: no ECONNREFUSED oracle
      assert.deepEqual([a!.status, a!.lastStatus, a!.lastError], ['pending', null, 'target-forbidden']);
      assert.deepEqual([b!.status, b!.lastStatus, b!.lastError], ['pending', null, 'target-forbidden']);
    } finally {
      await rx.close();
      await deps.store.close();
    }
  });

  test('DNS rebinding: a host name resolving to loopback is refused at connect time, though the URL passed the subscription check', async () => {
    const name = hostname();
    // precondition of this machine: its own name resolves to a loopback address (/etc/hosts)
    const addrs = await lookup(name, { all: true });
    assert.ok(addrs.length > 0 && addrs.every((a) => !isPublicAddress(a.address)), `${name} resolves to ${JSON.stringify(addrs)}`);
    const clock = new FrozenClock(Date.now());
    // plain http to a name needs allowInsecureHttp (plain-http.ts): allowed here, so the address check is what refuses
    const deps = await openDeps(`sqlite:${join(dir, 'rebind.db')}`, newMasterKey(), clock, 'ES256', undefined, false, true);
    const rx = await startReceiver();
    try {
      const port = new URL(rx.url).port;
      // the name is not a literal, so registration accepts it, as it would a name that resolved to a public address then
      const hook = await deps.webhooks.subscribe({ url: `http://${name}:${port}/hooks/in`, events: ['*'] }, 'admin');
      await deps.webhooks.enqueue('app.disabled', { time: clock.now(), type: 'app.disabled', actor: 'admin', clientId: 'app-1' });
      const worker = new DeliveryWorker(deps.hooks, deps.signer, clock, silentLogger, { ...W, allowInsecureHttp: true });
      await worker.runOnce();
      await worker.stop();
      assert.equal(rx.received.length, 0);
      const [d] = await deps.webhooks.deliveries(hook.id);
      assert.deepEqual([d!.lastStatus, d!.lastError], [null, 'target-forbidden']);
      // the same delivery with the opt-in goes through
      clock.advance(60_000);
      const allowed = new DeliveryWorker(deps.hooks, deps.signer, clock, silentLogger, { ...W, allowPrivateTargets: true, allowInsecureHttp: true, owner: randomId(4) });
      await allowed.runOnce();
      await allowed.stop();
      assert.equal(rx.received.length, 1);
    } finally {
      await rx.close();
      await deps.store.close();
    }
  });

  test('publicOnlyLookup refuses localhost and passes the resolved address otherwise', async () => {
    const err = await new Promise<unknown>((resolve) => publicOnlyLookup('localhost', {}, (e) => resolve(e)));
    assert.equal((err as { code?: string }).code, 'target-forbidden');
  });
});
