/**
 * Cloud metadata through the local-use NAT64 prefix (64:ff9b:1::/48, RFC 8215) under
 * `webhooks.allowPrivateTargets`. The guard read an embedded IPv4 address only from the
 * well-known prefix 64:ff9b::/96, so `64:ff9b:1::a9fe:a9fe` (169.254.169.254 behind a
 * translator configured with 64:ff9b:1::/96, as IPv6-only clusters run one on the node) was
 * class `reserved`, which the opt-in lets through: a subscription to it was accepted and a
 * delivery connected. RFC 6052 §2.2 places the IPv4 address by prefix length (/48, /56, /64
 * or /96 within that /48); in any of those places a metadata address is `metadata`.
 */
import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { MemoryAuditSink } from '../../src/audit/sink.js';
import { FrozenClock } from '../../src/core/clock.js';
import { PortcullisError } from '../../src/core/errors.js';
import { silentLogger } from '../../src/core/logger.js';
import { addressClass, forbiddenHostClass, metadataClass } from '../../src/webhooks/target.js';
import { DeliveryWorker } from '../../src/webhooks/worker.js';
import { newMasterKey, openDeps } from './helpers.js';

const dir = mkdtempSync(join(tmpdir(), 'portcullis-ssrf-nat64-'));
after(() => rmSync(dir, { recursive: true, force: true }));
const W = { jitter: 0, timeoutMs: 3000, baseDelayMs: 1000, allowPrivateTargets: true, allowInsecureHttp: true };

/** 169.254.169.254 (a9fe:a9fe), 168.63.129.16 (a83f:8110) and 100.100.100.200 (6464:64c8) at each RFC 6052 place within 64:ff9b:1::/48 (the u octet, bits 64–71, zero). */
const METADATA = [
  '64:ff9b:1::a9fe:a9fe', // /96
  '64:ff9b:1:0:a9:fea9:fe00:0', // /64
  '64:ff9b:1:a9:fe:a9fe::', // /56
  '64:ff9b:1:a9fe:a9:fe00::', // /48
  '64:ff9b:1::a83f:8110',
  '64:ff9b:1:6464:64:c800::',
  '64:FF9B:0001:0000:0000:0000:A9FE:A9FE',
];

describe('attack: a cloud metadata address behind the local-use NAT64 prefix, under webhooks.allowPrivateTargets', () => {
  test('is class metadata, at every RFC 6052 place; other local-use NAT64 addresses keep their class', () => {
    for (const ip of METADATA) {
      assert.equal(addressClass(ip), 'metadata', ip);
      assert.equal(metadataClass(ip), 'metadata', ip);
      assert.equal(forbiddenHostClass(new URL(`http://[${ip}]/`).hostname), 'metadata', ip);
    }
    for (const ip of ['64:ff9b:1::a00:1', '64:ff9b:1::5db8:d822', '64:ff9b:1:ffff::1']) assert.equal(addressClass(ip), 'reserved', ip);
  });

  test('a subscription to one is webhook.target-forbidden; a local-use NAT64 address of a private one is accepted', async () => {
    const deps = await openDeps(`sqlite:${join(dir, 'sub.db')}`, newMasterKey(), new FrozenClock(Date.now()), 'ES256', undefined, true, true);
    try {
      for (const ip of METADATA) {
        const url = `http://[${ip}]/latest/meta-data/`;
        await assert.rejects(deps.webhooks.subscribe({ url, events: ['*'] }, 'admin'), (e: unknown) => e instanceof PortcullisError && e.code === 'webhook.target-forbidden' && e.status === 400, url);
      }
      assert.deepEqual(await deps.webhooks.list(), []);
      assert.ok((await deps.webhooks.subscribe({ url: 'http://[64:ff9b:1::a00:1]/in', events: ['*'] }, 'admin')).id);
    } finally {
      await deps.store.close();
    }
  });

  test('a name resolving to one is refused when connecting (target-forbidden) and audited as metadata', async () => {
    const clock = new FrozenClock(Date.now());
    const deps = await openDeps(`sqlite:${join(dir, 'rebind.db')}`, newMasterKey(), clock, 'ES256', undefined, true, true);
    try {
      const hook = await deps.webhooks.subscribe({ url: 'http://nat64.example/in', events: ['*'] }, 'admin');
      await deps.webhooks.enqueue('app.disabled', { time: clock.now(), type: 'app.disabled', actor: 'admin', clientId: 'app-1' });
      const audit = new MemoryAuditSink();
      const asked: string[] = [];
      const worker = new DeliveryWorker(deps.hooks, deps.signer, clock, silentLogger, {
        ...W,
        audit,
        resolve: (name, _o, cb) => {
          asked.push(name);
          cb(null, [{ address: '64:ff9b:1::a9fe:a9fe', family: 6 }]);
        },
      });
      assert.equal(await worker.runOnce(), 1);
      await worker.stop();
      assert.deepEqual(asked, ['nat64.example']);
      const [d] = await deps.webhooks.deliveries(hook.id);
      assert.deepEqual([d!.status, d!.lastStatus, d!.lastError], ['pending', null, 'target-forbidden']);
      const events = audit.events.filter((e) => e.type === 'webhook.target-forbidden');
      assert.deepEqual(events.map((e) => [e.data?.['webhookId'], e.data?.['addressClass']]), [[hook.id, 'metadata']]);
    } finally {
      await deps.store.close();
    }
  });
});
