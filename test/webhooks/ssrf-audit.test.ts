/**
 * A webhook delivery refused by the SSRF guard (`webhook.target-forbidden`: an IP literal
 * or a name that resolves, e.g. by DNS rebinding, to a loopback, private, link-local or
 * metadata address) is audited, not only written to the delivery log: with the webhook id
 * and the class of the refused address, never the URL (its host, path or query).
 * At most one event per webhook and minute, carrying how many refusals it stands for, so a
 * rebinding attacker cannot flood the trail.
 */
import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { lookup } from 'node:dns/promises';
import { mkdtempSync, rmSync } from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { MemoryAuditSink } from '../../src/audit/sink.js';
import { FrozenClock } from '../../src/core/clock.js';
import { silentLogger } from '../../src/core/logger.js';
import { addressClass, isPublicAddress } from '../../src/webhooks/target.js';
import { DeliveryWorker } from '../../src/webhooks/worker.js';
import { startTestNode, testConfig } from '../support/portcullis.js';
import { newMasterKey, openDeps, startReceiver } from './helpers.js';

const dir = mkdtempSync(join(tmpdir(), 'portcullis-ssrf-audit-'));
after(() => rmSync(dir, { recursive: true, force: true }));
const W = { jitter: 0, timeoutMs: 3000, baseDelayMs: 1000, maxAttempts: 100 };
const forbidden = (a: MemoryAuditSink) => a.events.filter((e) => e.type === 'webhook.target-forbidden');

describe('addressClass', () => {
  test('names the class of a refused address; IPv6 forms that embed IPv4 take the class of the embedded address', () => {
    const cases: Array<[string, string]> = [
      ['127.0.0.1', 'loopback'],
      ['::1', 'loopback'],
      ['::ffff:127.0.0.1', 'loopback'],
      ['10.1.2.3', 'private'],
      ['172.16.0.1', 'private'],
      ['192.168.1.1', 'private'],
      ['fd12:3456::1', 'private'],
      ['169.254.169.254', 'metadata'],
      ['fd00:ec2::254', 'metadata'],
      ['::ffff:169.254.169.254', 'metadata'],
      ['169.254.1.1', 'link-local'],
      ['fe80::1', 'link-local'],
      ['100.64.0.1', 'shared'],
      ['0.0.0.0', 'unspecified'],
      ['::', 'unspecified'],
      ['224.0.0.1', 'multicast'],
      ['ff02::1', 'multicast'],
      ['192.0.2.1', 'documentation'],
      ['2001:db8::1', 'documentation'],
      ['255.255.255.255', 'reserved'],
      ['198.18.0.1', 'reserved'],
      ['2002:7f00:1::1', 'reserved'],
    ];
    for (const [ip, cls] of cases) {
      assert.equal(isPublicAddress(ip), false, ip);
      assert.equal(addressClass(ip), cls, ip);
    }
    assert.equal(addressClass('8.8.8.8'), undefined);
  });
});

describe('attack: SSRF attempts at webhook delivery are audited, rate-limited per webhook', () => {
  test('deliveries to loopback (a secret in the URL query), metadata and private literals: one webhook.target-forbidden event per webhook with its address class, never the URL', async () => {
    const clock = new FrozenClock(Date.now());
    // plain http to the metadata and private literals needs allowInsecureHttp too (plain-http.ts)
    const deps = await openDeps(`sqlite:${join(dir, 'literal.db')}`, newMasterKey(), clock, 'ES256', undefined, true, true);
    const rx = await startReceiver();
    try {
      const port = new URL(rx.url).port;
      // registered while private targets were allowed; the default worker refuses them
      const loop = await deps.webhooks.subscribe({ url: `http://127.0.0.1:${port}/hooks/in?token=q-secret`, events: ['*'] }, 'admin');
      // a metadata address is refused even with the opt-in (ssrf.metadata-opt-in): stored before that rule
      const meta = { id: 'wh_metadata', url: 'http://169.254.169.254/latest/meta-data/', events: ['*'], description: null, createdAt: clock.now() };
      await deps.hooks.insertWebhook(meta);
      const priv = await deps.webhooks.subscribe({ url: 'http://10.0.0.5/hook', events: ['*'] }, 'admin');
      for (let i = 0; i < 3; i++) await deps.webhooks.enqueue('app.disabled', { time: clock.now(), type: 'app.disabled', actor: 'admin', clientId: `app-${i}` });
      const audit = new MemoryAuditSink();
      const worker = new DeliveryWorker(deps.hooks, deps.signer, clock, silentLogger, { ...W, audit });
      assert.equal(await worker.runOnce(), 9);
      assert.equal(rx.received.length, 0);
      const events = forbidden(audit);
      assert.deepEqual(
        events.map((e) => [e.data?.['webhookId'], e.data?.['addressClass'], e.data?.['count']]).sort(),
        [
          [loop.id, 'loopback', 1],
          [meta.id, 'metadata', 1],
          [priv.id, 'private', 1],
        ].sort(),
      );
      for (const e of events) {
        assert.equal(e.actor, 'system');
        assert.equal(e.reason, 'webhook.target-forbidden');
        assert.deepEqual(Object.keys(e.data ?? {}).sort(), ['addressClass', 'count', 'since', 'webhookId']);
        const text = JSON.stringify(e);
        for (const leak of ['q-secret', '/hooks/in', 'meta-data', '127.0.0.1', '169.254', '10.0.0.5']) assert.ok(!text.includes(leak), `${leak} in ${text}`);
      }
      await worker.stop();
    } finally {
      await rx.close();
      await deps.store.close();
    }
  });

  test('a flood of refused attempts costs at most one event per webhook and minute; the counts add up to every refusal', async () => {
    const clock = new FrozenClock(Date.now());
    const deps = await openDeps(`sqlite:${join(dir, 'flood.db')}`, newMasterKey(), clock);
    try {
      const hook = await deps.webhooks.subscribe({ url: 'http://127.0.0.1:59999/in', events: ['*'] }, 'admin');
      for (let i = 0; i < 5; i++) await deps.webhooks.enqueue('app.disabled', { time: clock.now(), type: 'app.disabled', actor: 'admin', clientId: `app-${i}` });
      const audit = new MemoryAuditSink();
      const worker = new DeliveryWorker(deps.hooks, deps.signer, clock, silentLogger, { ...W, baseDelayMs: 1000, maxDelayMs: 1000, maxAttempts: 1000, audit });
      let attempts = 0;
      // 2.5 minutes of retries every second: 150 ticks of 5 refused deliveries each
      for (let s = 0; s < 150; s++) {
        attempts += await worker.runOnce();
        clock.advance(1000);
      }
      attempts += await worker.runOnce();
      await worker.stop();
      assert.ok(attempts >= 700, `attempts: ${attempts}`);
      const events = forbidden(audit);
      assert.ok(events.length >= 2 && events.length <= 4, `${events.length} events`);
      for (let i = 1; i < events.length; i++) assert.ok(events[i]!.time - events[i - 1]!.time >= 60_000, 'one event a minute at most');
      assert.ok(events.every((e) => e.data?.['webhookId'] === hook.id && e.data?.['addressClass'] === 'loopback'));
      // every refusal is in some event once the last minute has passed (each tick reports what is due)
      clock.advance(60_000);
      assert.equal(
        events.reduce((n, e) => n + Number(e.data?.['count']), 0) + (await pendingReported(worker, audit, clock)),
        attempts,
      );
    } finally {
      await deps.store.close();
    }
  });

  test('DNS rebinding: a host name that resolves to loopback at delivery is refused and audited as loopback, naming no host', async () => {
    const name = hostname();
    const addrs = await lookup(name, { all: true });
    assert.ok(addrs.length > 0 && addrs.every((a) => !isPublicAddress(a.address)), `${name} resolves to ${JSON.stringify(addrs)}`);
    const clock = new FrozenClock(Date.now());
    // plain http to a name needs allowInsecureHttp (plain-http.ts): allowed here, so the address check is what refuses
    const deps = await openDeps(`sqlite:${join(dir, 'rebind.db')}`, newMasterKey(), clock, 'ES256', undefined, false, true);
    try {
      const hook = await deps.webhooks.subscribe({ url: `http://${name}:59999/hooks/in`, events: ['*'] }, 'admin');
      await deps.webhooks.enqueue('app.disabled', { time: clock.now(), type: 'app.disabled', actor: 'admin', clientId: 'app-1' });
      const audit = new MemoryAuditSink();
      const worker = new DeliveryWorker(deps.hooks, deps.signer, clock, silentLogger, { ...W, audit, allowInsecureHttp: true });
      await worker.runOnce();
      await worker.stop();
      const [d] = await deps.webhooks.deliveries(hook.id);
      assert.equal(d!.lastError, 'target-forbidden');
      const events = forbidden(audit);
      assert.equal(events.length, 1);
      assert.equal(events[0]!.data?.['webhookId'], hook.id);
      assert.equal(events[0]!.data?.['addressClass'], 'loopback');
      assert.ok(!JSON.stringify(events[0]).includes(name));
    } finally {
      await deps.store.close();
    }
  });
});

test('a node audits refused deliveries in its stored trail', async () => {
  const node = await startTestNode({ config: testConfig('webhooks: { allowInsecureHttp: true }') });
  try {
    const hook = await node.services.webhooks.subscribe({ url: `http://${hostname()}:59999/hooks/in`, events: ['*'] }, 'admin');
    await node.services.webhooks.enqueue('app.disabled', { time: Date.now(), type: 'app.disabled', actor: 'admin', clientId: 'app-1' });
    const until = Date.now() + 10_000;
    let rows: Array<{ data?: Record<string, unknown> | null }> = [];
    while (rows.length === 0 && Date.now() < until) {
      await new Promise((r) => setTimeout(r, 200));
      await node.services.audit.flush();
      rows = (await node.services.store.listAudit(0, 10_000)).filter((r) => r.type === 'webhook.target-forbidden');
    }
    assert.equal(rows.length, 1);
    assert.equal(rows[0]!.data?.['webhookId'], hook.id);
    assert.equal(rows[0]!.data?.['addressClass'], 'loopback');
  } finally {
    await node.stop();
  }
});

/** Reports what `worker` still holds back (as its next tick would) and returns how many refusals that was. */
async function pendingReported(worker: DeliveryWorker, audit: MemoryAuditSink, clock: FrozenClock): Promise<number> {
  const before = forbidden(audit).length;
  worker.reportPending(clock.now());
  return forbidden(audit)
    .slice(before)
    .reduce((n, e) => n + Number(e.data?.['count']), 0);
}
