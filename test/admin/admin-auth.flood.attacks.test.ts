/**
 * A flood of admin requests with a missing or wrong token must not cost one audit row (a
 * durable write) each, nor grow the trail or the node's memory without bound: per client
 * address and window, the first failure is an `admin.denied` event, the rest are counted
 * into one `admin.denied-repeated` event when the window closes (or the node stops); past
 * `admin.failedAuth.throttleAfter` failures the address gets 429 `admin.throttled` with
 * `Retry-After` while the right token still passes.
 */
import assert from 'node:assert/strict';
import { request } from 'node:http';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import BetterSqlite3 from 'better-sqlite3';
import { MemoryAuditSink } from '../../src/audit/sink.js';
import { FrozenClock } from '../../src/core/clock.js';
import { AdminAuthFailures } from '../../src/http/admin-auth-failures.js';
import { startTestNode, type TestNode } from './node.js';

const WRONG = 'pca_' + 'W'.repeat(43);

/** The admin.* denial events stored so far. */
async function denials(t: TestNode) {
  await t.node.services.audit.flush();
  return (await t.node.services.store.tailAudit(1000)).filter((r) => r.type.startsWith('admin.denied'));
}

/** GET `path` on the admin plane from the loopback address `from` (127.0.0.2, …). */
function getFrom(t: TestNode, from: string, path: string, token: string): Promise<{ status: number; code?: string }> {
  return new Promise((resolve, reject) => {
    const req = request(`${t.admin}${path}`, { localAddress: from, headers: { authorization: `Bearer ${token}` } }, (res) => {
      let text = '';
      res.setEncoding('utf8').on('data', (c: string) => (text += c));
      res.on('end', () => resolve({ status: res.statusCode!, code: (JSON.parse(text) as { code?: string }).code }));
    });
    req.on('error', reject).end();
  });
}

describe('attack: a flood of unauthenticated admin requests', () => {
  test('40 requests with a wrong or no token from one address → 40 × 401, one admin.denied row; the count is one admin.denied-repeated row once the window closes', async () => {
    const clock = new FrozenClock(Date.UTC(2030, 0, 1));
    const t = await startTestNode({ clock });
    try {
      for (let i = 0; i < 40; i++) {
        const r = await t.api('/v1/apps', { token: i % 2 ? WRONG : null });
        assert.equal(r.status, 401);
        assert.equal(r.body.code, 'admin.unauthorized');
      }
      const during = await denials(t);
      assert.deepEqual(
        during.map((r) => [r.type, (r.data as { address: string }).address]),
        [['admin.denied', '127.0.0.1']],
        'one row for the whole window, naming the address',
      );
      clock.advance(60_000);
      // the next failure after the window reports the closed window, then opens a new one
      assert.equal((await t.api('/v1/keys', { token: WRONG })).status, 401);
      const after = await denials(t);
      assert.equal(after.length, 3);
      assert.equal(after[1]!.type, 'admin.denied-repeated');
      assert.equal(after[1]!.reason, 'admin.unauthorized');
      assert.deepEqual(after[1]!.data, { address: '127.0.0.1', count: 40, throttled: 0, since: Date.UTC(2030, 0, 1), method: 'GET', route: '/v1/apps', credential: 'invalid' });
      assert.equal(after[2]!.type, 'admin.denied');
      assert.ok(!JSON.stringify(after).includes(WRONG), 'the presented token is never stored');
    } finally {
      await t.close();
    }
  });

  test('past 100 failures in the window (the default) → 429 admin.throttled with Retry-After for a wrong or missing token until the window closes, while the right token still passes; other addresses are not throttled', async () => {
    const clock = new FrozenClock(Date.UTC(2030, 0, 1));
    const t = await startTestNode({ clock });
    try {
      for (let i = 0; i < 100; i++) assert.equal((await t.api('/v1/apps', { token: WRONG })).status, 401);
      clock.advance(20_000);
      const r = await t.api('/v1/apps', { token: WRONG });
      assert.equal(r.status, 429);
      assert.equal(r.body.code, 'admin.throttled');
      assert.equal(r.body.retryAfterMs, 40_000);
      assert.equal(r.headers.get('retry-after'), '40');
      assert.equal((await t.api('/v1/apps')).status, 200, 'the administrator at the throttled address is not locked out');
      const missing = await t.api('/v1/apps', { token: null });
      assert.equal(missing.status, 429, 'a request without a token is throttled too');
      assert.equal(missing.body.code, 'admin.throttled');
      assert.equal((await getFrom(t, '127.0.0.2', '/v1/apps', t.adminToken)).status, 200, 'another address is heard');
      clock.advance(40_000);
      assert.equal((await t.api('/v1/apps')).status, 200, 'heard again once the window has closed');
      await t.node.close();
      const db = new BetterSqlite3(join(t.dir, 'portcullis.db'), { readonly: true });
      const rows = db.prepare("select type, data from audit_log where type like 'admin.denied%' order by seq").all() as Array<{ type: string; data: string }>;
      db.close();
      assert.deepEqual(
        rows.map((x) => [x.type, JSON.parse(x.data).count ?? null, JSON.parse(x.data).throttled ?? null]),
        [
          ['admin.denied', null, null],
          ['admin.denied-repeated', 100, 2],
        ],
        'the window still open at shutdown is reported then, with the requests refused by 429',
      );
    } finally {
      await t.close();
    }
  });
});

describe('admin auth failures: the table', () => {
  const limits = { window: 60_000, throttleAfter: 10, maxAddresses: 100 };

  test('attack: failures from 100 000 addresses (a spoofed-source flood) keep at most maxAddresses entries and cost at most one event per entry and one for the rest', () => {
    const audit = new MemoryAuditSink();
    const clock = new FrozenClock(0);
    const f = new AdminAuthFailures(audit, clock, limits);
    for (let i = 0; i < 100_000; i++) f.failed(`10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}`, { method: 'GET', route: '/v1/apps', credential: 'invalid' });
    assert.equal(f.size, 100);
    assert.equal(audit.events.length, 101);
    assert.equal((audit.events.at(-1)!.data as { address: string | null }).address, null, 'the rest share one entry');
    for (let i = 0; i < 100_000; i++) assert.equal(f.retryAfter(`10.${(i >> 16) & 255}.${(i >> 8) & 255}.${(i + 7) & 255}`), 0, 'an address beyond the table is never throttled');
    clock.advance(60_000);
    f.sweep();
    assert.equal(f.size, 0, 'closed windows are forgotten');
    const repeated = audit.events.filter((e) => e.type === 'admin.denied-repeated');
    assert.equal(repeated.length, 1, 'only the shared entry had more than one failure');
    assert.equal((repeated[0]!.data as { count: number }).count, 100_000 - 100);
  });

  test('the sweep writes admin.denied-repeated when a window closes, and nothing for an address that failed once', () => {
    const audit = new MemoryAuditSink();
    const clock = new FrozenClock(0);
    const f = new AdminAuthFailures(audit, clock, limits);
    for (let i = 0; i < 12; i++) f.failed('192.0.2.7', { method: 'POST', route: '/v1/apps', credential: 'missing' });
    f.failed('192.0.2.8', { method: 'GET', route: '/v1/keys', credential: 'invalid' });
    assert.equal(f.retryAfter('192.0.2.7'), 60);
    clock.advance(59_999);
    f.sweep();
    assert.equal(audit.events.length, 2, 'nothing before the window closes');
    clock.advance(1);
    f.sweep();
    assert.deepEqual(
      audit.events.map((e) => [e.type, (e.data as { address: string }).address]),
      [
        ['admin.denied', '192.0.2.7'],
        ['admin.denied', '192.0.2.8'],
        ['admin.denied-repeated', '192.0.2.7'],
      ],
    );
    assert.equal(f.retryAfter('192.0.2.7'), 0);
  });

  test('IPv6 clients are counted by their /64: another address of the same network is throttled with it', () => {
    const f = new AdminAuthFailures(new MemoryAuditSink(), new FrozenClock(0), limits);
    for (let i = 0; i < 10; i++) f.failed(`2001:db8:1:2::${i + 1}`, { method: 'GET', route: null, credential: 'invalid' });
    assert.equal(f.retryAfter('2001:db8:1:2:ffff::1'), 60);
    assert.equal(f.retryAfter('2001:db8:1:3::1'), 0);
  });
});
