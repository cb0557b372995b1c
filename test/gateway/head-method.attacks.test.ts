/**
 * HEAD is GET without content (RFC 9110 §9.3.2): upstream frameworks run their GET
 * handler for it. A route that protects GET must then protect HEAD too, or `HEAD
 * /invoices/1` falls through to a broader route without a token and the upstream runs
 * the protected handler for anyone (its headers, Content-Length included, come back).
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { baseClaims, bearer, mint, route, send, startGateway, startUpstream, TestKeys, type TestGateway, type Upstream } from './helpers.js';

describe('HEAD on a route that lists GET', () => {
  let upstream: Upstream;
  let gw: TestGateway;
  const keys = new TestKeys();

  before(async () => {
    keys.add('k1', 'ES256');
    upstream = await startUpstream();
    gw = await startGateway(
      [
        route({ name: 'invoices', match: { pathPrefix: '/invoices', methods: ['GET', 'POST'] }, upstream: upstream.url, require: { token: { audience: 'orders-api', scopes: ['orders:read'] } } }),
        route({ name: 'public', match: { pathPrefix: '/' }, upstream: upstream.url }),
      ],
      { keys },
    );
  });
  after(async () => {
    await gw.close();
    await upstream.close();
  });

  it('HEAD without a token: 401 token.missing on the GET route, nothing upstream (not the public catch-all)', async () => {
    const seen = upstream.seen.length;
    const r = await send(gw.url, { path: '/invoices/1', method: 'HEAD' });
    assert.equal(r.status, 401);
    assert.match(String(r.headers['www-authenticate']), /^Bearer realm=/);
    assert.equal(upstream.seen.length, seen);
    assert.ok(gw.audit.events.some((e) => e.type === 'gateway.denied' && e.reason === 'token.missing' && e.route === 'invoices'));
  });

  it('HEAD with a valid token passes on the GET route', async () => {
    const r = await send(gw.url, { path: '/invoices/1', method: 'HEAD', headers: bearer(await mint(keys, baseClaims())) });
    assert.equal(r.status, 200);
    assert.equal(upstream.seen.at(-1)!.method, 'HEAD');
  });

  it('a method the route does not list (DELETE) still falls to the broader route, as configured', async () => {
    const r = await send(gw.url, { path: '/invoices/1', method: 'DELETE' });
    assert.equal(r.status, 200, r.body);
  });
});
