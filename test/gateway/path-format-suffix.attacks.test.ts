/**
 * A format suffix on a protected name (`/admin.json`). Rails routes `/admin.json` to the `/admin` handler
 * with format json (`(.:format)` on every route), Spring MVC with suffix pattern matching maps `/admin`
 * to `/admin.*`, Django REST framework's format suffixes serve `/admin.json` and `/admin.json/`. A route
 * table that matched `/admin/` only on segment boundaries would send `GET /admin.json` to a broader public
 * route, and the upstream would answer with the admin data, in JSON, without the route's policy.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { gatewaySuite, problem, route, send } from './helpers.js';

interface Echo {
  url: string;
}

describe('a format suffix (/admin.json) cannot reach a protected name through a broader route', () => {
  const fx = gatewaySuite(
    (up) => [
      route({ name: 'admin', match: { pathPrefix: '/admin/' }, upstream: up, require: { token: { audience: 'orders-api' } } }),
      route({ name: 'reports', match: { pathPrefix: '/reports' }, upstream: up, require: { token: { audience: 'orders-api' } } }),
      route({ name: 'svc', match: { pathPrefix: '/svc/' }, upstream: `${up}/base`, stripPrefix: true }),
      route({ name: 'root-svc', match: { pathPrefix: '/rootsvc' }, upstream: up, stripPrefix: true }),
      route({ name: 'public', match: { pathPrefix: '/' }, upstream: up }),
    ],
  );

  for (const path of ['/admin.json', '/admin.xml', '/ADMIN.JSON', '/admin.json?x=1', '/admin.json/', '/admin.tar.gz', '/admin;x.json', '/admin.json;x', '/reports.csv']) {
    it(`attack: GET ${path} gets the protected route's token check (401 token.missing), not the public route; the upstream sees nothing`, async () => {
      const seen = fx.upstream.seen.length;
      const r = await send(fx.gw.url, { path });
      assert.equal(r.status, 401);
      assert.equal(problem(r).code, 'token.missing');
      assert.equal(fx.upstream.seen.length, seen);
    });
  }

  it('attack: the denial is audited on the admin route', async () => {
    const seen = fx.gw.audit.events.length;
    const r = await send(fx.gw.url, { path: '/admin.json', method: 'HEAD' });
    assert.equal(r.status, 401);
    assert.ok(fx.gw.audit.events.slice(seen).some((e) => e.type === 'gateway.denied' && e.reason === 'token.missing' && e.route === 'admin'));
  });

  it('control: a name that only starts like the prefix (/adminx.json) and a path below a suffixed name (/admin.json/x) are still the public route', async () => {
    for (const path of ['/adminx.json', '/admin.json/x']) {
      const r = await send(fx.gw.url, { path });
      assert.equal(r.status, 200, path);
      assert.equal((JSON.parse(r.body) as Echo).url, path);
    }
  });

  it('stripPrefix keeps the suffix on the name it was on: the base path, or / without one', async () => {
    const r = await send(fx.gw.url, { path: '/svc.json?q=1' });
    assert.equal(r.status, 200);
    assert.equal((JSON.parse(r.body) as Echo).url, '/base.json?q=1');
    const root = await send(fx.gw.url, { path: '/rootsvc.json' });
    assert.equal(root.status, 200);
    assert.equal((JSON.parse(root.body) as Echo).url, '/.json');
  });
});
