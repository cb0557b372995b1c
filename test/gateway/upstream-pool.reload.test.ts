/**
 * A route reload (`setRoutes`) that removes an upstream: requests that matched a route of
 * it before the reload finish on it (on its pool), and its pool is closed once the last of
 * them ends, whatever way it ends. Before, a request still in its policy steps at the
 * reload asked for the pool after it and got a new undici Pool, kept open (with its
 * keep-alive connections) until some later reload.
 */
import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { PortcullisError } from '../../src/core/errors.js';
import type { PolicyStep } from '../../src/gateway/gateway.js';
import { route, send, startGateway, startUpstream, type Reply, type TestGateway, type Upstream } from './helpers.js';

/** An upstream that keeps idle connections for a minute and counts them. */
interface CountingUpstream {
  url: string;
  /** Connections accepted so far. */
  connections: number;
  open: Set<Socket>;
  close(): Promise<void>;
}

async function startCountingUpstream(): Promise<CountingUpstream> {
  const server = http.createServer((_req, res) => res.end('removed-upstream'));
  server.keepAliveTimeout = 60_000;
  const u: CountingUpstream = { url: '', connections: 0, open: new Set(), close: () => new Promise<void>((r) => (server.closeAllConnections(), server.close(() => r()))) };
  server.on('connection', (s: Socket) => {
    u.connections++;
    u.open.add(s);
    s.on('close', () => u.open.delete(s));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  u.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return u;
}

async function until(what: string, cond: () => boolean, ms = 3000): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) assert.fail(`timed out waiting until ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

describe('a route reload that removes an upstream while requests to it are in flight', () => {
  let removed: CountingUpstream;
  let kept: Upstream;
  let gw: TestGateway;
  /** Requests of route `old` held in their policy steps. */
  const held: Array<{ release(): void; deny(): void }> = [];
  const hold: PolicyStep = () =>
    new Promise<void>((resolve, reject) => held.push({ release: resolve, deny: () => reject(new PortcullisError('token.missing', 'denied while held')) }));
  const oldRoute = () => route({ name: 'old', match: { pathPrefix: '/old' }, upstream: removed.url });
  const newRoute = () => route({ name: 'new', match: { pathPrefix: '/new' }, upstream: kept.url });

  before(async () => {
    removed = await startCountingUpstream();
    kept = await startUpstream();
    gw = await startGateway([oldRoute()], { steps: (r) => (r.name === 'old' ? [hold] : []) });
  });
  after(async () => {
    await gw.close();
    await removed.close();
    await kept.close();
  });

  /** Sends a request to route `old` and waits until it is held. */
  async function holdOne(): Promise<{ reply: Promise<Reply>; gate: { release(): void; deny(): void } }> {
    const n = held.length;
    const reply = send(gw.url, { path: '/old/x' });
    await until('the request is held', () => held.length === n + 1);
    return { reply, gate: held[n]! };
  }

  it('a request held across the reload is served by the removed upstream, whose pool (and connection) is closed when it ends', async () => {
    const a = await holdOne();
    gw.gw.setRoutes([newRoute()]);
    a.gate.release();
    const r = await a.reply;
    assert.equal(r.status, 200);
    assert.equal(r.body, 'removed-upstream');
    await until('the removed upstream has no open connection from the gateway', () => removed.open.size === 0);
  });

  it('every request that matched before the reload is served on the one pool, which closes after the last (a denied one included)', async () => {
    gw.gw.setRoutes([oldRoute()]);
    const warm = await holdOne();
    warm.gate.release();
    assert.equal((await warm.reply).status, 200);
    const connections = removed.connections;
    const a = await holdOne();
    const b = await holdOne();
    const d = await holdOne();
    gw.gw.setRoutes([newRoute()]);
    assert.equal((await send(gw.url, { path: '/old/x' })).status, 404, 'the route itself is gone');
    d.gate.deny();
    assert.equal((await d.reply).status, 401);
    a.gate.release();
    assert.equal((await a.reply).status, 200);
    assert.equal(removed.connections, connections, 'the pool of before the reload served it: no new connection');
    assert.equal(removed.open.size, 1, 'its connection stays open while b is in flight');
    b.gate.release();
    assert.equal((await b.reply).status, 200);
    assert.equal(removed.connections, connections);
    await until('the removed upstream has no open connection from the gateway', () => removed.open.size === 0);
    assert.equal((await send(gw.url, { path: '/new/x' })).status, 200);
  });
});
