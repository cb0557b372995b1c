import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { problem, rawRequest, route, send, startGateway, startUpstream, type TestGateway, type Upstream } from './helpers.js';

interface Echo {
  method: string;
  url: string;
  headers: Record<string, string>;
  body: string;
}

describe('proxy: routing, bodies, headers', () => {
  let upstream: Upstream;
  let gw: TestGateway;

  before(async () => {
    upstream = await startUpstream();
    gw = await startGateway([
      route({ name: 'orders', match: { pathPrefix: '/orders' }, upstream: upstream.url }),
      route({ name: 'stripped', match: { pathPrefix: '/svc/' }, upstream: `${upstream.url}/base/`, stripPrefix: true }),
      route({ name: 'small', match: { pathPrefix: '/small' }, upstream: upstream.url, maxBodySize: 16 }),
    ]);
  });
  after(async () => {
    await gw.close();
    await upstream.close();
  });

  it('forwards method, path, query and body and relays status and headers', async () => {
    const r = await send(gw.url, { method: 'POST', path: '/orders/7?x=1', headers: { 'content-type': 'text/plain', 'x-custom': 'v' }, body: 'hello' });
    assert.equal(r.status, 200);
    assert.equal(r.headers['x-upstream'], 'yes');
    const e = JSON.parse(r.body) as Echo;
    assert.equal(e.method, 'POST');
    assert.equal(e.url, '/orders/7?x=1');
    assert.equal(e.body, 'hello');
    assert.equal(e.headers['x-custom'], 'v');
    assert.equal(e.headers['content-length'], '5');
  });

  it('answers 404 route.not-found when no route matches, and the upstream sees nothing', async () => {
    const before = upstream.seen.length;
    const r = await send(gw.url, { path: '/ordersx' });
    assert.equal(r.status, 404);
    assert.equal(problem(r).code, 'route.not-found');
    assert.equal(upstream.seen.length, before);
    assert.ok(gw.audit.events.some((e) => e.type === 'gateway.denied' && e.reason === 'route.not-found'));
  });

  it('strips the prefix and prepends the upstream base path', async () => {
    const a = JSON.parse((await send(gw.url, { path: '/svc/items/3?q' })).body) as Echo;
    assert.equal(a.url, '/base/items/3?q');
    const b = JSON.parse((await send(gw.url, { path: '/svc/' })).body) as Echo;
    assert.equal(b.url, '/base/');
  });

  it("sets X-Forwarded-For/-Proto/-Host (replacing an untrusted client's) and sets Host to the upstream", async () => {
    const r = await send(gw.url, { path: '/orders', headers: { 'x-forwarded-for': '203.0.113.9', host: 'api.example.com' } });
    const e = JSON.parse(r.body) as Echo;
    assert.equal(e.headers['x-forwarded-for'], '127.0.0.1');
    assert.equal(e.headers['x-forwarded-proto'], 'http');
    assert.equal(e.headers['x-forwarded-host'], 'api.example.com');
    assert.equal(e.headers['host'], `127.0.0.1:${upstream.port}`);
  });

  it('removes hop-by-hop request headers, including those named by Connection', async () => {
    const out = await rawRequest(
      gw.port,
      'GET /orders HTTP/1.1\r\nHost: a\r\nConnection: close, x-hop\r\nConnection: X-Other\r\nX-Hop: 1\r\nX-Other: 2\r\nKeep-Alive: timeout=5\r\n' +
        'TE: trailers\r\nProxy-Authorization: Basic Zm9v\r\nProxy-Connection: keep-alive\r\nTrailer: x\r\nUpgrade: websocket\r\nX-Kept: 3\r\n\r\n',
    );
    const e = JSON.parse(out.slice(out.indexOf('\r\n\r\n') + 4)) as Echo;
    for (const h of ['x-hop', 'x-other', 'keep-alive', 'te', 'proxy-authorization', 'proxy-connection', 'trailer', 'upgrade']) assert.equal(e.headers[h], undefined, h);
    assert.ok(!String(e.headers['connection']).includes('x-hop'));
    assert.equal(e.headers['x-kept'], '3');
  });

  it('forged x-portcullis-* identity headers never reach the upstream; Authorization is not forwarded', async () => {
    const r = await send(gw.url, {
      path: '/orders',
      headers: { 'x-portcullis-client-id': 'admin-app', 'X-Portcullis-Subject': 'root', 'x-portcullis-scopes': 'admin', authorization: 'Basic Zm9vOmJhcg==' },
    });
    const e = JSON.parse(r.body) as Echo;
    const names = Object.keys(e.headers);
    assert.deepEqual(names.filter((n) => n.startsWith('x-portcullis-')), []);
    assert.equal(e.headers['authorization'], undefined);
  });

  it('forwards a chunked request body', async () => {
    const r = await new Promise<string>((resolve, reject) => {
      const req = http.request({ host: '127.0.0.1', port: gw.port, method: 'PUT', path: '/orders/1', agent: false }, (res) => {
        let b = '';
        res.on('data', (c: Buffer) => (b += c.toString()));
        res.on('end', () => resolve(b));
      });
      req.on('error', reject);
      req.write('part1-');
      setTimeout(() => req.end('part2'), 20);
    });
    const e = JSON.parse(r) as Echo;
    assert.equal(e.body, 'part1-part2');
    // undici re-frames: chunked while the body streams, Content-Length if it had fully arrived first
    assert.ok(e.headers['transfer-encoding'] === 'chunked' || e.headers['content-length'] === '11', JSON.stringify(e.headers));
  });

  it('refuses a declared Content-Length above maxBodySize with 413 before contacting the upstream', async () => {
    const before = upstream.seen.length;
    const r = await send(gw.url, { method: 'POST', path: '/small', body: 'x'.repeat(17) });
    assert.equal(r.status, 413);
    assert.equal(problem(r).code, 'request.body-too-large');
    assert.equal(upstream.seen.length, before);
  });

  it('stops a chunked body that grows past maxBodySize with 413; the upstream never receives it whole', async () => {
    const before = upstream.seen.length;
    const r = await new Promise<{ status: number; body: string }>((resolve, reject) => {
      const req = http.request({ host: '127.0.0.1', port: gw.port, method: 'POST', path: '/small', agent: false }, (res) => {
        let b = '';
        res.on('data', (c: Buffer) => (b += c.toString()));
        res.on('end', () => resolve({ status: res.statusCode!, body: b }));
      });
      req.on('error', reject);
      req.write('0123456789');
      setTimeout(() => req.write('0123456789'), 20);
      setTimeout(() => req.end('0123456789'), 40);
    });
    assert.equal(r.status, 413);
    assert.equal((JSON.parse(r.body) as { code: string }).code, 'request.body-too-large');
    await new Promise((res) => setTimeout(res, 50));
    assert.ok(upstream.seen.slice(before).every((s) => !s.complete), 'the upstream must not get a complete oversized body');
  });

  it('answers 431 request.headers-too-large for oversized headers without reaching the upstream', async () => {
    const before = upstream.seen.length;
    const big = 'x'.repeat(20 * 1024);
    const out = await rawRequest(gw.port, `GET /orders HTTP/1.1\r\nHost: a\r\nX-Big: ${big}\r\n\r\n`);
    assert.match(out, /^HTTP\/1\.1 431 /);
    assert.match(out, /"code":"request.headers-too-large"/);
    assert.equal(upstream.seen.length, before);
  });

  it('refuses path-traversal bypasses with 400 request.malformed and the upstream sees nothing', async () => {
    const before = upstream.seen.length;
    for (const path of ['/orders/../admin', '/orders/%2e%2e/admin', '//orders', '/orders%2fx']) {
      const r = await send(gw.url, { path });
      assert.equal(r.status, 400, path);
      assert.equal(problem(r).code, 'request.malformed');
    }
    const abs = await rawRequest(gw.port, 'GET http://evil.example/orders HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n');
    assert.match(abs, /^HTTP\/1\.1 400 /);
    assert.equal(upstream.seen.length, before);
  });

  it('counts allowed requests by route in prom-client metrics', async () => {
    await send(gw.url, { path: '/orders' });
    const text = await gw.metrics.metrics();
    assert.match(text, /portcullis_gateway_requests_total\{route="orders",outcome="allowed"\} [1-9]/);
    assert.match(text, /portcullis_gateway_request_duration_seconds_count\{route="orders"\} [1-9]/);
  });
});

describe('proxy: responses', () => {
  let upstream: Upstream;
  let gw: TestGateway;
  let release: (() => void) | undefined;
  let endlessClosed = false;

  before(async () => {
    upstream = await startUpstream((req, res) => {
      if (req.url === '/hop') {
        res.writeHead(201, { connection: 'keep-alive, x-secret-hop', 'x-secret-hop': 's', 'keep-alive': 'timeout=5', 'x-ok': '1', 'content-length': '2' });
        res.end('ok');
      } else if (req.url === '/stream') {
        res.writeHead(200, { 'content-type': 'text/plain' });
        res.write('first;');
        release = () => res.end('second');
      } else if (req.url === '/endless') {
        res.writeHead(200, { 'content-type': 'text/plain' });
        const timer = setInterval(() => res.write('tick;'), 10);
        res.on('close', () => {
          clearInterval(timer);
          endlessClosed = true;
        });
      } else if (req.url === '/hang') {
        // never answers
      } else {
        res.writeHead(204);
        res.end();
      }
    });
    gw = await startGateway([
      route({ name: 'up', match: { pathPrefix: '/' }, upstream: upstream.url, timeout: '300ms' }),
    ]);
  });
  after(async () => {
    await gw.close();
    await upstream.close();
  });

  it('removes hop-by-hop response headers, including those named by Connection', async () => {
    const r = await send(gw.url, { path: '/hop' });
    assert.equal(r.status, 201);
    assert.equal(r.body, 'ok');
    assert.equal(r.headers['x-ok'], '1');
    assert.equal(r.headers['x-secret-hop'], undefined);
    assert.equal(r.headers['keep-alive'], undefined);
    assert.equal(r.rawHeaders.filter((h) => h.toLowerCase() === 'date').length, 1, 'one Date header');
  });

  it('streams the response: the first chunk arrives before the upstream finishes', async () => {
    const first = await new Promise<string>((resolve, reject) => {
      const req = http.get({ host: '127.0.0.1', port: gw.port, path: '/stream', agent: false }, (res) => {
        res.once('data', (c: Buffer) => {
          resolve(c.toString());
          release?.();
          res.resume();
        });
      });
      req.on('error', reject);
    });
    assert.equal(first, 'first;');
  });

  it('a client that disconnects mid-stream stops the upstream request', async () => {
    await new Promise<void>((resolve, reject) => {
      const req = http.get({ host: '127.0.0.1', port: gw.port, path: '/endless', agent: false }, (res) => {
        res.once('data', () => {
          req.destroy();
          resolve();
        });
      });
      req.on('error', () => {});
      setTimeout(() => reject(new Error('no data')), 2000);
    });
    for (let i = 0; i < 100 && !endlessClosed; i++) await new Promise((r) => setTimeout(r, 20));
    assert.equal(endlessClosed, true);
    const text = await gw.metrics.metrics();
    assert.match(text, /portcullis_gateway_requests_total\{route="up",outcome="client_closed"\} 1/);
    assert.doesNotMatch(text, /outcome="upstream_error"\} [1-9]/, 'a client leaving is not an upstream failure');
  });

  it('answers 504 upstream.timeout when the upstream does not answer in time', async () => {
    const r = await send(gw.url, { path: '/hang' });
    assert.equal(r.status, 504);
    assert.equal(problem(r).code, 'upstream.timeout');
  });
});

describe('proxy: unreachable upstream', () => {
  it('answers 502 upstream.unavailable when the upstream refuses connections', async () => {
    const probe = http.createServer();
    await new Promise<void>((r) => probe.listen(0, '127.0.0.1', r));
    const port = (probe.address() as AddressInfo).port;
    await new Promise<void>((r) => probe.close(() => r()));
    const gw = await startGateway([route({ name: 'dead', match: { pathPrefix: '/' }, upstream: `http://127.0.0.1:${port}` })]);
    try {
      const r = await send(gw.url, { path: '/x' });
      assert.equal(r.status, 502);
      assert.equal(problem(r).code, 'upstream.unavailable');
      const body = await send(gw.url, { method: 'POST', path: '/x', body: 'payload' });
      assert.equal(body.status, 502, 'a request with a body gets the 502 too, not a reset');
    } finally {
      await gw.close();
    }
  });
});
