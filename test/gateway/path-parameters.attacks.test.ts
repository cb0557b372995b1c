/**
 * Path parameters (RFC 3986 §3.3: `;` inside a segment). Servlet containers (Tomcat,
 * Jetty, Spring MVC) drop `;params` from every segment before they route, so
 * `/admin;x/users` and `/public/..;/admin/users` both reach their `/admin/users`. The
 * gateway matches routes on the path with parameters removed (forwarding it unchanged),
 * and refuses segments that become dot or empty segments once parameters are removed.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { gatewaySuite, problem, route, send } from './helpers.js';

interface Echo {
  url: string;
}

describe('path parameters cannot move a request to another route', () => {
  const fx = gatewaySuite(
    (up) => [
      route({ name: 'admin', match: { pathPrefix: '/admin' }, upstream: up, require: { token: { audience: 'orders-api' } } }),
      route({ name: 'svc', match: { pathPrefix: '/svc' }, upstream: `${up}/base`, stripPrefix: true }),
      route({ name: 'public', match: { pathPrefix: '/' }, upstream: up }),
    ],
  );

  for (const path of ['/admin;x/users', '/admin;jsessionid=1', '/admin;a=b;c=d/users?q=1']) {
    it(`${path} is matched as /admin… and gets the /admin route's policy (401 token.missing)`, async () => {
      const seen = fx.upstream.seen.length;
      const r = await send(fx.gw.url, { path });
      assert.equal(r.status, 401);
      assert.equal(problem(r).code, 'token.missing');
      assert.equal(fx.upstream.seen.length, seen);
    });
  }

  for (const path of ['/public/..;/admin/users', '/public/..;x=1/admin', '/public/%2e%2e;/admin/users', '/public/.;/admin', '/public/..%3B/admin/users', '/public/..%3b/admin', '/public/;x/admin', '/;x/admin/users']) {
    it(`refuses ${path} with 400 request.malformed; the upstream sees nothing`, async () => {
      const seen = fx.upstream.seen.length;
      const r = await send(fx.gw.url, { path });
      assert.equal(r.status, 400);
      assert.equal(problem(r).code, 'request.malformed');
      assert.equal(fx.upstream.seen.length, seen);
    });
  }

  it('a path parameter on a public route is forwarded unchanged', async () => {
    const r = await send(fx.gw.url, { path: '/public;v=1/items;id=7?x=1' });
    assert.equal(r.status, 200);
    assert.equal((JSON.parse(r.body) as Echo).url, '/public;v=1/items;id=7?x=1');
  });

  it('stripPrefix removes the matched prefix segment with its parameters, and keeps the rest unchanged', async () => {
    const a = JSON.parse((await send(fx.gw.url, { path: '/svc;v=2/items;id=3?q' })).body) as Echo;
    assert.equal(a.url, '/base/items;id=3?q');
    const b = JSON.parse((await send(fx.gw.url, { path: '/svc;v=2' })).body) as Echo;
    assert.equal(b.url, '/base/');
  });
});
