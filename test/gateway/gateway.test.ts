/** createGateway as a whole: route reload, audit sampling, smuggling, server options. */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { configSchema } from '../../src/core/config/schema.js';
import { gatewayServerOptions } from '../../src/gateway/gateway.js';
import { problem, rawRequest, route, send, startGateway, startUpstream, type TestGateway, type Upstream } from './helpers.js';

describe('gateway', () => {
  let a: Upstream;
  let b: Upstream;
  let gw: TestGateway;

  before(async () => {
    a = await startUpstream();
    b = await startUpstream();
    gw = await startGateway([route({ name: 'a', match: { pathPrefix: '/a' }, upstream: a.url })]);
  });
  after(async () => {
    await gw.close();
    await a.close();
    await b.close();
  });

  it('setRoutes replaces the route table at runtime', async () => {
    assert.equal((await send(gw.url, { path: '/b' })).status, 404);
    gw.gw.setRoutes([route({ name: 'b', match: { pathPrefix: '/b' }, upstream: b.url })]);
    const r = await send(gw.url, { path: '/b/1' });
    assert.equal(r.status, 200);
    assert.equal(b.seen.at(-1)!.url, '/b/1');
    const gone = await send(gw.url, { path: '/a' });
    assert.equal(problem(gone).code, 'route.not-found');
    gw.gw.setRoutes([route({ name: 'a', match: { pathPrefix: '/a' }, upstream: a.url })]);
  });

  it('samples allowed requests into the audit trail and counts denials in metrics', async () => {
    // the test gateway's random() is 0, below any positive sample rate
    const before = gw.audit.events.filter((e) => e.type === 'gateway.allowed').length;
    assert.equal((await send(gw.url, { path: '/a/x' })).status, 200);
    const allowed = gw.audit.events.filter((e) => e.type === 'gateway.allowed');
    assert.equal(allowed.length, before + 1);
    assert.equal(allowed.at(-1)!.route, 'a');
    assert.equal(allowed.at(-1)!.actor, 'anonymous');
    await send(gw.url, { path: '/nowhere' });
    assert.match(await gw.metrics.metrics(), /portcullis_gateway_requests_total\{route="\(none\)",outcome="denied"\} [1-9]/);
  });

  it('an audit sample rate of 0 records no allowed request', async () => {
    const up = await startUpstream();
    const g = await startGateway([route({ name: 'q', match: { pathPrefix: '/' }, upstream: up.url })], { gateway: { auditSampleRate: 0 } });
    try {
      assert.equal((await send(g.url, { path: '/' })).status, 200);
      assert.equal(g.audit.events.length, 0);
    } finally {
      await g.close();
      await up.close();
    }
  });

  it('request smuggling: Content-Length together with Transfer-Encoding is refused and nothing reaches the upstream', async () => {
    const seen = a.seen.length;
    const out = await rawRequest(
      gw.port,
      'POST /a HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\nGET /a/smuggled HTTP/1.1\r\nHost: x\r\n\r\n',
    );
    assert.match(out, /^HTTP\/1\.1 400 /);
    assert.equal(a.seen.length, seen);
  });

  it('a GET with Content-Length: 0 is forwarded', async () => {
    const r = await send(gw.url, { path: '/a/zero', headers: { 'content-length': '0' } });
    assert.equal(r.status, 200);
  });

  it('gatewayServerOptions carries the configured header limit and timeouts in the order Node requires', () => {
    const cfg = configSchema.parse({ gateway: { maxHeaderSize: '8kb', requestTimeout: '10s' } }).gateway;
    const o = gatewayServerOptions(cfg);
    assert.equal(o.maxHeaderSize, 8192);
    assert.equal(o.requestTimeout, 10_000);
    assert.ok(o.headersTimeout! <= o.requestTimeout!);
    assert.equal(o.requireHostHeader, true);
  });
});
