/**
 * A format suffix on a protected name (`/admin.json`). Rails routes `/admin.json` to the `/admin` handler
 * with format json (`(.:format)` on every route), Spring MVC with suffix pattern matching maps `/admin`
 * to `/admin.*`, Django REST framework's format suffixes serve `/admin.json` and `/admin.json/`. A route
 * table that matched `/admin/` only on segment boundaries would send `GET /admin.json` to a broader public
 * route, and the upstream would answer with the admin data, in JSON, without the route's policy.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { problem, route, send, startGateway, startUpstream, TestKeys, type TestGateway, type Upstream } from './helpers.js';

interface Echo {
  url: string;
}

describe('a format suffix (/admin.json) cannot reach a protected name through a broader route', () => {
  let upstream: Upstream;
  let gw: TestGateway;

  before(async () => {
    upstream = await startUpstream();
    const keys = new TestKeys();
    keys.add('k1');
    gw = await startGateway(
      [
        route({ name: 'admin', match: { pathPrefix: '/admin/' }, upstream: upstream.url, require: { token: { audience: 'orders-api' } } }),
        route({ name: 'reports', match: { pathPrefix: '/reports' }, upstream: upstream.url, require: { token: { audience: 'orders-api' } } }),
        route({ name: 'svc', match: { pathPrefix: '/svc/' }, upstream: `${upstream.url}/base`, stripPrefix: true }),
        route({ name: 'root-svc', match: { pathPrefix: '/rootsvc' }, upstream: upstream.url, stripPrefix: true }),
        route({ name: 'public', match: { pathPrefix: '/' }, upstream: upstream.url }),
      ],
      { keys },
    );
  });
  after(async () => {
    await gw.close();
    await upstream.close();
  });

  for (const path of ['/admin.json', '/admin.xml', '/ADMIN.JSON', '/admin.json?x=1', '/admin.json/', '/admin.tar.gz', '/admin;x.json', '/admin.json;x', '/reports.csv']) {
    it(`attack: GET ${path} gets the protected route's token check (401 token.missing), not the public route; the upstream sees nothing`, async () => {
      const seen = upstream.seen.length;
      const r = await send(gw.url, { path });
      assert.equal(r.status, 401);
      assert.equal(problem(r).code, 'token.missing');
      assert.equal(upstream.seen.length, seen);
    });
  }

  it('attack: the denial is audited on the admin route', async () => {
    const seen = gw.audit.events.length;
    const r = await send(gw.url, { path: '/admin.json', method: 'HEAD' });
    assert.equal(r.status, 401);
    assert.ok(gw.audit.events.slice(seen).some((e) => e.type === 'gateway.denied' && e.reason === 'token.missing' && e.route === 'admin'));
  });

  it('control: a name that only starts like the prefix (/adminx.json) and a path below a suffixed name (/admin.json/x) are still the public route', async () => {
    for (const path of ['/adminx.json', '/admin.json/x']) {
      const r = await send(gw.url, { path });
      assert.equal(r.status, 200, path);
      assert.equal((JSON.parse(r.body) as Echo).url, path);
    }
  });

  it('stripPrefix keeps the suffix on the name it was on: the base path, or / without one', async () => {
    const r = await send(gw.url, { path: '/svc.json?q=1' });
    assert.equal(r.status, 200);
    assert.equal((JSON.parse(r.body) as Echo).url, '/base.json?q=1');
    const root = await send(gw.url, { path: '/rootsvc.json' });
    assert.equal(root.status, 200);
    assert.equal((JSON.parse(root.body) as Echo).url, '/.json');
  });
});
