/**
 * A prefix written with a trailing slash (`/admin/`) and its bare name. Express (`app.use('/admin/')`,
 * non-strict routing, its default), and most frameworks, serve `/admin` as the index of `/admin/`. A route
 * table that matched `/admin/` only below it would send `GET /admin` to a broader, less protected route,
 * and the upstream would run the admin index without the route's policy. A prefix with a trailing slash
 * also matches its bare name exactly; `stripPrefix` turns the bare name into `/`.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { gatewaySuite, problem, route, send } from './helpers.js';

interface Echo {
  url: string;
}

describe('the bare name of a prefix with a trailing slash cannot reach it through a broader route', () => {
  const fx = gatewaySuite(
    (up) => [
      route({ name: 'admin', match: { pathPrefix: '/admin/' }, upstream: up, require: { token: { audience: 'orders-api' } } }),
      route({ name: 'svc', match: { pathPrefix: '/svc/' }, upstream: `${up}/base`, stripPrefix: true }),
      route({ name: 'public', match: { pathPrefix: '/' }, upstream: up }),
    ],
  );

  for (const path of ['/admin', '/admin?x=1', '/ADMIN', '/admin;x', '/admin/', '/admin/users']) {
    it(`GET ${path} gets the /admin/ route's policy (401 token.missing), not the public route; the upstream sees nothing`, async () => {
      const seen = fx.upstream.seen.length;
      const r = await send(fx.gw.url, { path });
      assert.equal(r.status, 401);
      assert.equal(problem(r).code, 'token.missing');
      assert.equal(fx.upstream.seen.length, seen);
    });
  }

  it('HEAD /admin gets the /admin/ route\'s policy (401 token.missing); the upstream sees nothing', async () => {
    const seen = fx.upstream.seen.length;
    const r = await send(fx.gw.url, { path: '/admin', method: 'HEAD' });
    assert.equal(r.status, 401);
    assert.match(String(r.headers['www-authenticate']), /^Bearer realm=/);
    assert.equal(fx.upstream.seen.length, seen);
    assert.ok(fx.gw.audit.events.some((e) => e.type === 'gateway.denied' && e.reason === 'token.missing' && e.route === 'admin'));
  });

  it('control: a name that only starts like the prefix (/adminx) is still the public route', async () => {
    const r = await send(fx.gw.url, { path: '/adminx' });
    assert.equal(r.status, 200);
    assert.equal((JSON.parse(r.body) as Echo).url, '/adminx');
  });

  it('stripPrefix turns the bare name into /, with its query', async () => {
    const r = await send(fx.gw.url, { path: '/svc?q=1' });
    assert.equal(r.status, 200);
    assert.equal((JSON.parse(r.body) as Echo).url, '/base/?q=1');
    const below = await send(fx.gw.url, { path: '/SVC/items' });
    assert.equal((JSON.parse(below.body) as Echo).url, '/base/items');
  });
});
