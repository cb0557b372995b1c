/**
 * Upstream availability in the audit trail: a dead, hanging or resetting upstream is
 * one `upstream.unavailable` event per route and window (not one per request), and its
 * return is one `upstream.recovered` event with the number of requests that failed.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { AuditEventInput } from '../../src/audit/store.js';
import { problem, route, send, startGateway, startUpstream, NOW, type TestGateway } from './helpers.js';

const upstreamEvents = (gw: TestGateway): AuditEventInput[] => gw.audit.events.filter((e) => e.type.startsWith('upstream.'));

async function freePort(): Promise<number> {
  const probe = http.createServer();
  await new Promise<void>((r) => probe.listen(0, '127.0.0.1', r));
  const port = (probe.address() as AddressInfo).port;
  await new Promise<void>((r) => probe.close(() => r()));
  return port;
}

async function listenOn(port: number): Promise<http.Server> {
  const server = http.createServer((_req, res) => res.end('back'));
  await new Promise<void>((r) => server.listen(port, '127.0.0.1', r));
  return server;
}

describe('upstream availability audit', () => {
  it('a dead upstream: 5 failing requests → one upstream.unavailable (code, count); back up → one upstream.recovered with the 5 failures; no credentials or query of the upstream URL in the events', async () => {
    const port = await freePort();
    // the schema refuses such an upstream; should one get past it, events still never carry its credentials or query
    const gw = await startGateway([{ ...route({ name: 'dead', match: { pathPrefix: '/' }, upstream: `http://127.0.0.1:${port}/base` }), upstream: `http://ops:hunter2@127.0.0.1:${port}/base?api_key=s3cr3t-q` }]);
    let back: http.Server | undefined;
    try {
      for (let i = 0; i < 5; i++) {
        const r = await send(gw.url, { path: `/x${i}` });
        assert.equal(r.status, 502);
        assert.equal(problem(r).code, 'upstream.unavailable');
      }
      const down = upstreamEvents(gw);
      assert.equal(down.length, 1, JSON.stringify(down));
      assert.equal(down[0]!.type, 'upstream.unavailable');
      assert.equal(down[0]!.actor, 'system');
      assert.equal(down[0]!.route, 'dead');
      assert.equal(down[0]!.reason, 'upstream.unavailable');
      assert.equal(down[0]!.time, NOW);
      assert.equal(down[0]!.data!['count'], 1);
      assert.equal(down[0]!.data!['cause'], 'ECONNREFUSED');
      assert.equal(down[0]!.data!['upstream'], `http://127.0.0.1:${port}`);

      back = await listenOn(port);
      gw.clock.advance(5_000);
      for (let i = 0; i < 3; i++) assert.equal((await send(gw.url, { path: '/y' })).status, 200);
      const all = upstreamEvents(gw);
      assert.equal(all.length, 2, JSON.stringify(all));
      const up = all[1]!;
      assert.equal(up.type, 'upstream.recovered');
      assert.equal(up.route, 'dead');
      assert.equal(up.time, NOW + 5_000);
      assert.equal(up.data!['failed'], 5);
      assert.equal(up.data!['since'], NOW);
      assert.equal(up.data!['upstream'], `http://127.0.0.1:${port}`);
      const text = JSON.stringify(gw.audit.events);
      for (const secret of ['hunter2', 'ops:', 's3cr3t-q', 'api_key', '/base']) assert.ok(!text.includes(secret), `${secret} is in an audit event`);
    } finally {
      back?.closeAllConnections();
      back?.close();
      await gw.close();
    }
  });

  it('while the upstream stays down: at most one upstream.unavailable per minute, each with the running count; the recovery counts every failure', async () => {
    const port = await freePort();
    const gw = await startGateway([route({ name: 'dead', match: { pathPrefix: '/' }, upstream: `http://127.0.0.1:${port}` })]);
    let back: http.Server | undefined;
    try {
      const fail = async (n: number) => {
        for (let i = 0; i < n; i++) assert.equal((await send(gw.url)).status, 502);
      };
      await fail(3);
      gw.clock.advance(30_000);
      await fail(2);
      assert.equal(upstreamEvents(gw).length, 1, 'nothing new within the minute');
      gw.clock.advance(30_000);
      await fail(4);
      const down = upstreamEvents(gw);
      assert.deepEqual(
        down.map((e) => [e.type, e.time, e.data!['count'], e.data!['since']]),
        [
          ['upstream.unavailable', NOW, 1, NOW],
          ['upstream.unavailable', NOW + 60_000, 6, NOW],
        ],
      );
      back = await listenOn(port);
      assert.equal((await send(gw.url)).status, 200);
      const up = upstreamEvents(gw).slice(2);
      assert.deepEqual(
        up.map((e) => [e.type, e.data!['failed']]),
        [['upstream.recovered', 9]],
      );
    } finally {
      back?.closeAllConnections();
      back?.close();
      await gw.close();
    }
  });

  it('an upstream that does not answer in time → upstream.unavailable with reason upstream.timeout; answering again → upstream.recovered', async () => {
    let hang = true;
    const upstream = await startUpstream((_req, res) => {
      if (!hang) res.end('ok');
    });
    const gw = await startGateway([route({ name: 'slow', match: { pathPrefix: '/' }, upstream: upstream.url, timeout: '200ms' })]);
    try {
      for (let i = 0; i < 2; i++) assert.equal((await send(gw.url)).status, 504);
      hang = false;
      assert.equal((await send(gw.url)).status, 200);
      assert.deepEqual(
        upstreamEvents(gw).map((e) => [e.type, e.reason, e.data!['count'] ?? e.data!['failed']]),
        [
          ['upstream.unavailable', 'upstream.timeout', 1],
          ['upstream.recovered', null, 2],
        ],
      );
    } finally {
      await gw.close();
      await upstream.close();
    }
  });

  it('attack on the audit trail: an upstream that flaps (resets every other request) gives one unavailable and one recovered per minute, not one per request; the failures within the minute are reported when it ends', async () => {
    const upstream = await startUpstream((req, res) => {
      if (req.url === '/reset') req.socket.destroy();
      else res.end('ok');
    });
    const gw = await startGateway([route({ name: 'flaky', match: { pathPrefix: '/' }, upstream: upstream.url })]);
    try {
      for (let i = 0; i < 4; i++) {
        assert.equal((await send(gw.url, { path: '/reset' })).status, 502);
        assert.equal((await send(gw.url, { path: '/ok' })).status, 200);
      }
      assert.deepEqual(
        upstreamEvents(gw).map((e) => [e.type, e.reason, e.data!['count'] ?? e.data!['failed']]),
        [
          ['upstream.unavailable', 'upstream.unavailable', 1],
          ['upstream.recovered', null, 1],
        ],
      );
      gw.clock.advance(60_000);
      assert.equal((await send(gw.url, { path: '/ok' })).status, 200);
      assert.equal((await send(gw.url, { path: '/ok' })).status, 200);
      assert.deepEqual(
        upstreamEvents(gw)
          .slice(2)
          .map((e) => [e.type, e.time, e.data!['count'] ?? e.data!['failed'], e.data!['since']]),
        [
          ['upstream.unavailable', NOW + 60_000, 3, NOW],
          ['upstream.recovered', NOW + 60_000, 3, NOW],
        ],
      );
    } finally {
      await gw.close();
      await upstream.close();
    }
  });
});
