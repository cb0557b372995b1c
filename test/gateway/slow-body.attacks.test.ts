/**
 * Slow request bodies and a full upstream pool. Bodies above the buffering limit (or
 * chunked) stream into a pooled upstream connection as they arrive; a client that
 * trickles one held that connection until the listener's requestTimeout, and with
 * `connectionsPerUpstream` such clients every other request queued without limit. The
 * route timeout now runs from dispatch to the response head: a trickled body is answered
 * 408 request.timeout (freeing its connection), a queued request 504 upstream.timeout.
 */
import assert from 'node:assert/strict';
import net from 'node:net';
import { after, before, describe, it } from 'node:test';
import { problem, route, send, startGateway, startUpstream, type TestGateway, type Upstream } from './helpers.js';

describe('slow streamed bodies cannot hold the upstream pool', () => {
  let upstream: Upstream;
  let gw: TestGateway;
  const socks: net.Socket[] = [];
  let hang: Array<() => void> = [];

  before(async () => {
    upstream = await startUpstream((req, res) => {
      if (req.url === '/slow/hang') {
        hang.push(() => res.end('late'));
        return;
      }
      req.resume();
      req.on('end', () => res.end('ok'));
      req.on('error', () => {});
    });
    gw = await startGateway(
      [
        route({ name: 'up', match: { pathPrefix: '/up' }, upstream: upstream.url, timeout: '700ms' }),
        // the same upstream (one pool), with a longer timeout
        route({ name: 'slow', match: { pathPrefix: '/slow' }, upstream: upstream.url, timeout: '5s' }),
      ],
      { gateway: { connectionsPerUpstream: 2, requestTimeout: '30s' } },
    );
  });
  after(async () => {
    for (const s of socks) s.destroy();
    for (const h of hang) h();
    await gw.close();
    await upstream.close();
  });

  /** Starts a streamed upload that sends one byte of 100000 and returns what the gateway answers on it. */
  function trickle(): Promise<string> {
    return new Promise((resolve) => {
      const s = net.connect(gw.port, '127.0.0.1');
      socks.push(s);
      let buf = '';
      s.on('error', () => {});
      s.on('data', (c: Buffer) => (buf += c.toString('latin1')));
      s.on('close', () => resolve(buf));
      setTimeout(() => resolve(buf), 5000);
      s.write('POST /up/upload HTTP/1.1\r\nHost: a\r\nContent-Length: 100000\r\n\r\nx');
    });
  }

  it('a body trickled past the route timeout is answered 408 request.timeout and the connection is closed', { timeout: 8000 }, async () => {
    const t0 = Date.now();
    const out = await trickle();
    assert.match(out, /^HTTP\/1\.1 408 /, out);
    assert.match(out, /"code":"request.timeout"/);
    assert.match(out, /connection: close/i);
    assert.ok(Date.now() - t0 < 3000, `answered after ${Date.now() - t0} ms`);
    assert.ok(gw.audit.events.some((e) => e.type === 'gateway.denied' && e.reason === 'request.timeout' && e.route === 'up'));
  });

  it('while two trickled bodies hold the pool, a queued request gets its answer within the route timeout, and the pool serves again after', { timeout: 10_000 }, async () => {
    const uploads = [trickle(), trickle()];
    await new Promise((r) => setTimeout(r, 200));
    const t0 = Date.now();
    const victim = await send(gw.url, { path: '/up/health' });
    const waited = Date.now() - t0;
    assert.ok(waited < 2000, `the queued request waited ${waited} ms`);
    // queued behind the uploads (504), or sent once they were cut off (200): never left waiting
    assert.ok(victim.status === 504 || victim.status === 200, `${victim.status} ${victim.body}`);
    if (victim.status === 504) assert.equal(problem(victim).code, 'upstream.timeout');
    for (const out of await Promise.all(uploads)) assert.match(out, /^HTTP\/1\.1 408 /);
    const after = await send(gw.url, { path: '/up/health' });
    assert.equal(after.status, 200);
    assert.equal(after.body, 'ok');
  });

  it('a request queued behind upstreams that do not answer is answered 504 upstream.timeout within the route timeout', { timeout: 10_000 }, async () => {
    const healthBefore = upstream.seen.filter((s) => s.url === '/up/health').length;
    const hung = [send(gw.url, { path: '/slow/hang' }), send(gw.url, { path: '/slow/hang' })];
    await new Promise((r) => setTimeout(r, 100));
    const t0 = Date.now();
    const queued = await send(gw.url, { path: '/up/health' });
    assert.equal(queued.status, 504);
    assert.equal(problem(queued).code, 'upstream.timeout');
    assert.ok(Date.now() - t0 < 1500, `answered after ${Date.now() - t0} ms`);
    const h = hang;
    hang = [];
    for (const f of h) f();
    for (const r of await Promise.all(hung)) assert.equal(r.status, 200);
    // the queued request was never sent once its time was up
    await new Promise((r) => setTimeout(r, 100));
    assert.equal(upstream.seen.filter((s) => s.url === '/up/health').length, healthBefore, 'the timed-out request never reached the upstream');
  });
});
