/**
 * Webhook SSRF under the opt-in: `webhooks.allowPrivateTargets: true` lets deliveries reach
 * an internal receiver (loopback, private, link-local), but never a cloud metadata endpoint
 * (class `metadata`: 169.254.169.254, fd00:ec2::254, fd20:ce::254, Azure's 168.63.129.16,
 * ECS and Alibaba's, in any spelling). A subscription naming one is refused
 * (`webhook.target-forbidden`), and a delivery, to a stored literal or to a name resolving
 * to one when it connects, is refused with `target-forbidden` and audited as `metadata`.
 */
import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { LookupAddress } from 'node:dns';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { MemoryAuditSink } from '../../src/audit/sink.js';
import { FrozenClock } from '../../src/core/clock.js';
import { PortcullisError } from '../../src/core/errors.js';
import { silentLogger } from '../../src/core/logger.js';
import { forbiddenHostClass, noMetadataLookupWith, type ResolveAll } from '../../src/webhooks/target.js';
import { DeliveryWorker } from '../../src/webhooks/worker.js';
import { newMasterKey, openDeps, startReceiver } from './helpers.js';

const dir = mkdtempSync(join(tmpdir(), 'portcullis-ssrf-metadata-'));
after(() => rmSync(dir, { recursive: true, force: true }));
const W = { jitter: 0, timeoutMs: 3000, baseDelayMs: 1000, allowPrivateTargets: true, allowInsecureHttp: true };
const forbidden = (a: MemoryAuditSink) => a.events.filter((e) => e.type === 'webhook.target-forbidden');

/** A resolver answering `answers[name]` (ENOTFOUND for any other name). */
function stubResolver(answers: Record<string, LookupAddress[]>): ResolveAll {
  return (name, _o, cb) => {
    const a = answers[name];
    if (a === undefined) return cb(Object.assign(new Error(`getaddrinfo ENOTFOUND ${name}`), { code: 'ENOTFOUND' }), []);
    cb(null, a);
  };
}

const METADATA_URLS = [
  'http://169.254.169.254/latest/meta-data/iam/security-credentials/',
  'http://2852039166/latest/meta-data/',
  'http://0xa9fea9fe/',
  'http://0251.0376.0251.0376/',
  'http://[::ffff:169.254.169.254]/',
  'http://[::ffff:a9fe:a9fe]/',
  'http://[64:ff9b::a9fe:a9fe]/',
  'http://[fd00:ec2::254]/latest/meta-data/',
  'http://[FD00:0EC2:0:0:0:0:0:0254]/',
  'http://[fd20:ce::254]/computeMetadata/v1/',
  'http://168.63.129.16/machine/?comp=goalstate',
  'http://169.254.170.2/v2/credentials/',
  'http://100.100.100.200/latest/meta-data/',
];

describe('attack: cloud metadata stays forbidden with webhooks.allowPrivateTargets', () => {
  test('a subscription to a metadata literal, in any spelling, is webhook.target-forbidden; loopback, private and other link-local ones are accepted', async () => {
    const deps = await openDeps(`sqlite:${join(dir, 'sub.db')}`, newMasterKey(), new FrozenClock(Date.now()), 'ES256', undefined, true, true);
    try {
      for (const url of METADATA_URLS) {
        await assert.rejects(deps.webhooks.subscribe({ url, events: ['*'] }, 'admin'), (e: unknown) => e instanceof PortcullisError && e.code === 'webhook.target-forbidden' && e.status === 400, url);
      }
      assert.deepEqual(await deps.webhooks.list(), []);
      for (const url of ['http://127.0.0.1:9001/in', 'http://10.0.0.5/hook', 'http://192.168.1.20/in', 'http://169.254.1.1/in', 'http://[fe80::1]/in', 'http://[fd12:3456::1]/in', 'http://localhost:9001/in', 'http://[::1]/in']) {
        assert.ok((await deps.webhooks.subscribe({ url, events: ['*'] }, 'admin')).id, url);
      }
    } finally {
      await deps.store.close();
    }
  });

  test('a delivery to a stored metadata literal is refused (target-forbidden) and audited as metadata', async () => {
    const clock = new FrozenClock(Date.now());
    const deps = await openDeps(`sqlite:${join(dir, 'literal.db')}`, newMasterKey(), clock, 'ES256', undefined, true, true);
    try {
      // stored before this rule: inserted as the service once accepted them
      const ids: string[] = [];
      for (const [i, url] of METADATA_URLS.entries()) {
        const id = `wh_meta${i}`;
        await deps.hooks.insertWebhook({ id, url: new URL(url).href, events: ['*'], description: null, createdAt: clock.now() });
        ids.push(id);
      }
      await deps.webhooks.enqueue('app.disabled', { time: clock.now(), type: 'app.disabled', actor: 'admin', clientId: 'app-1' });
      const audit = new MemoryAuditSink();
      const fetched: string[] = [];
      const spy = (async (u: string | URL | Request) => {
        fetched.push(String(u));
        return new Response('ok');
      }) as typeof fetch;
      const worker = new DeliveryWorker(deps.hooks, deps.signer, clock, silentLogger, { ...W, audit, fetch: spy });
      assert.equal(await worker.runOnce(), METADATA_URLS.length);
      await worker.stop();
      assert.deepEqual(fetched, [], 'nothing sent');
      for (const id of ids) {
        const [d] = await deps.webhooks.deliveries(id);
        assert.deepEqual([d!.status, d!.lastStatus, d!.lastError], ['pending', null, 'target-forbidden'], id);
      }
      const events = forbidden(audit);
      assert.deepEqual(events.map((e) => e.data?.['webhookId']).sort(), [...ids].sort());
      assert.ok(events.every((e) => e.data?.['addressClass'] === 'metadata' && e.reason === 'webhook.target-forbidden'));
    } finally {
      await deps.store.close();
    }
  });

  test('a name resolving to 169.254.169.254 (or with it among its addresses) is refused when connecting and audited as metadata; a name resolving to loopback is delivered', async () => {
    const clock = new FrozenClock(Date.now());
    const deps = await openDeps(`sqlite:${join(dir, 'rebind.db')}`, newMasterKey(), clock, 'ES256', undefined, true, true);
    const rx = await startReceiver();
    try {
      const port = new URL(rx.url).port;
      const resolve = stubResolver({
        'meta.example': [{ address: '169.254.169.254', family: 4 }],
        'mixed.example': [{ address: '127.0.0.1', family: 4 }, { address: '169.254.169.254', family: 4 }],
        'meta6.example': [{ address: 'fd00:ec2::254', family: 6 }],
        'internal.example': [{ address: '127.0.0.1', family: 4 }],
      });
      const meta = await deps.webhooks.subscribe({ url: `http://meta.example:${port}/hooks/in`, events: ['*'] }, 'admin');
      const mixed = await deps.webhooks.subscribe({ url: `http://mixed.example:${port}/hooks/in`, events: ['*'] }, 'admin');
      const meta6 = await deps.webhooks.subscribe({ url: `http://meta6.example:${port}/hooks/in`, events: ['*'] }, 'admin');
      const internal = await deps.webhooks.subscribe({ url: `http://internal.example:${port}/hooks/in`, events: ['*'] }, 'admin');
      await deps.webhooks.enqueue('app.disabled', { time: clock.now(), type: 'app.disabled', actor: 'admin', clientId: 'app-1' });
      const audit = new MemoryAuditSink();
      const worker = new DeliveryWorker(deps.hooks, deps.signer, clock, silentLogger, { ...W, audit, resolve });
      assert.equal(await worker.runOnce(), 4);
      await worker.stop();
      for (const hook of [meta, mixed, meta6]) {
        const [d] = await deps.webhooks.deliveries(hook.id);
        assert.deepEqual([d!.lastStatus, d!.lastError], [null, 'target-forbidden'], hook.url);
      }
      const [ok] = await deps.webhooks.deliveries(internal.id);
      assert.deepEqual([ok!.status, ok!.lastStatus], ['delivered', 200]);
      assert.equal(rx.received.length, 1, 'only the internal receiver was reached');
      assert.equal(rx.received[0]!.headers.host, `internal.example:${port}`);
      const events = forbidden(audit);
      assert.deepEqual(
        events.map((e) => [e.data?.['webhookId'], e.data?.['addressClass']]).sort(),
        [
          [meta.id, 'metadata'],
          [mixed.id, 'metadata'],
          [meta6.id, 'metadata'],
        ].sort(),
      );
      for (const e of events) assert.ok(!JSON.stringify(e).includes('.example') && !JSON.stringify(e).includes('169.254'));
    } finally {
      await rx.close();
      await deps.store.close();
    }
  });

  test('noMetadataLookupWith refuses metadata answers (target-forbidden, metadata) and passes private ones', async () => {
    for (const answer of [[{ address: '169.254.169.254', family: 4 }], [{ address: '::ffff:169.254.169.254', family: 6 }], [{ address: '10.0.0.1', family: 4 }, { address: '168.63.129.16', family: 4 }], [{ address: 'fd20:ce::254', family: 6 }]] satisfies LookupAddress[][]) {
      const lookup = noMetadataLookupWith((_h, _o, cb) => cb(null, answer));
      for (const all of [false, true]) {
        const [err, got] = await new Promise<[unknown, unknown]>((resolve) => lookup('meta.example', { all }, (e, a) => resolve([e, a])));
        assert.equal((err as { code?: string } | null)?.code, 'target-forbidden', JSON.stringify(answer));
        assert.equal((err as { addressClass?: string }).addressClass, 'metadata');
        assert.deepEqual(got, []);
      }
    }
    const lookup = noMetadataLookupWith((_h, _o, cb) => cb(null, [{ address: '10.0.0.1', family: 4 }, { address: '169.254.1.1', family: 4 }]));
    const one = await new Promise<unknown[]>((resolve) => lookup('internal.example', {}, (e, a, f) => resolve([e, a, f])));
    assert.deepEqual(one, [null, '10.0.0.1', 4]);
    const none = await new Promise<unknown>((resolve) => noMetadataLookupWith((_h, _o, cb) => cb(null, []))('empty.example', { all: true }, (e) => resolve(e)));
    assert.equal((none as { addressClass?: string }).addressClass, 'none');
  });

  test('forbiddenHostClass names metadata literals as metadata in every spelling', () => {
    for (const url of METADATA_URLS) assert.equal(forbiddenHostClass(new URL(url).hostname), 'metadata', url);
  });
});
