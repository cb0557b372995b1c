/**
 * Path parameters (RFC 3986 §3.3: `;` inside a segment). Servlet containers (Tomcat,
 * Jetty, Spring MVC) drop `;params` from every segment before they route, so
 * `/admin;x/users` and `/public/..;/admin/users` both reach their `/admin/users`. The
 * gateway matches routes on the path with parameters removed (forwarding it unchanged),
 * and refuses segments that become dot or empty segments once parameters are removed.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { problem, route, send, startGateway, TestKeys, type TestGateway, type Upstream, startUpstream } from './helpers.js';

interface Echo {
  url: string;
}

describe('path parameters cannot move a request to another route', () => {
  let upstream: Upstream;
  let gw: TestGateway;

  before(async () => {
    upstream = await startUpstream();
    const keys = new TestKeys();
    keys.add('k1');
    gw = await startGateway(
      [
        route({ name: 'admin', match: { pathPrefix: '/admin' }, upstream: upstream.url, require: { token: { audience: 'orders-api' } } }),
        route({ name: 'svc', match: { pathPrefix: '/svc' }, upstream: `${upstream.url}/base`, stripPrefix: true }),
        route({ name: 'public', match: { pathPrefix: '/' }, upstream: upstream.url }),
      ],
      { keys },
    );
  });
  after(async () => {
    await gw.close();
    await upstream.close();
  });

  for (const path of ['/admin;x/users', '/admin;jsessionid=1', '/admin;a=b;c=d/users?q=1']) {
    it(`${path} is matched as /admin… and gets the /admin route's policy (401 token.missing)`, async () => {
      const seen = upstream.seen.length;
      const r = await send(gw.url, { path });
      assert.equal(r.status, 401);
      assert.equal(problem(r).code, 'token.missing');
      assert.equal(upstream.seen.length, seen);
    });
  }

  for (const path of ['/public/..;/admin/users', '/public/..;x=1/admin', '/public/%2e%2e;/admin/users', '/public/.;/admin', '/public/..%3B/admin/users', '/public/..%3b/admin', '/public/;x/admin', '/;x/admin/users']) {
    it(`refuses ${path} with 400 request.malformed; the upstream sees nothing`, async () => {
      const seen = upstream.seen.length;
      const r = await send(gw.url, { path });
      assert.equal(r.status, 400);
      assert.equal(problem(r).code, 'request.malformed');
      assert.equal(upstream.seen.length, seen);
    });
  }

  it('a path parameter on a public route is forwarded unchanged', async () => {
    const r = await send(gw.url, { path: '/public;v=1/items;id=7?x=1' });
    assert.equal(r.status, 200);
    assert.equal((JSON.parse(r.body) as Echo).url, '/public;v=1/items;id=7?x=1');
  });

  it('stripPrefix removes the matched prefix segment with its parameters, and keeps the rest unchanged', async () => {
    const a = JSON.parse((await send(gw.url, { path: '/svc;v=2/items;id=3?q' })).body) as Echo;
    assert.equal(a.url, '/base/items;id=3?q');
    const b = JSON.parse((await send(gw.url, { path: '/svc;v=2' })).body) as Echo;
    assert.equal(b.url, '/base/');
  });
});
