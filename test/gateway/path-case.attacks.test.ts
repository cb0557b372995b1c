/**
 * Letter case in the path. Express (`caseSensitive: false`, its default), ASP.NET Core
 * routing, IIS and Windows file systems route `/ADMIN/users` to their `/admin/users`
 * handler. A route table that compared case exactly would send it to a broader, less
 * protected route, and the upstream would run the protected handler without the route's
 * policy. Prefixes are matched ignoring ASCII case (which also makes `%c3%a9` in a prefix
 * match the `%C3%A9` requests are normalised to); the upstream is sent the path unchanged.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { gatewaySuite, problem, route, send } from './helpers.js';

interface Echo {
  url: string;
}

describe('the case of a path cannot move a request to another route', () => {
  const fx = gatewaySuite(
    (up) => [
      route({ name: 'admin', match: { pathPrefix: '/admin' }, upstream: up, require: { token: { audience: 'orders-api' } } }),
      route({ name: 'cafe', match: { pathPrefix: '/caf%c3%a9' }, upstream: up, require: { token: { audience: 'orders-api' } } }),
      route({ name: 'home', match: { pathPrefix: '/%7Euser' }, upstream: up, require: { token: { audience: 'orders-api' } } }),
      route({ name: 'svc', match: { pathPrefix: '/svc' }, upstream: `${up}/base`, stripPrefix: true }),
      route({ name: 'public', match: { pathPrefix: '/' }, upstream: up }),
    ],
  );

  for (const path of ['/ADMIN/users', '/Admin', '/aDmIn;x/users?q=1', '/%41dmin/users', '/caf%C3%A9/menu', '/CAF%c3%a9']) {
    it(`${path} gets the ${path.toLowerCase().startsWith('/caf') ? '/caf%c3%a9' : '/admin'} route's policy (401 token.missing), not the public route; the upstream sees nothing`, async () => {
      const seen = fx.upstream.seen.length;
      const r = await send(fx.gw.url, { path });
      assert.equal(r.status, 401);
      assert.equal(problem(r).code, 'token.missing');
      assert.equal(fx.upstream.seen.length, seen);
    });
  }

  for (const path of ['/~user/files', '/%7Euser', '/%7eUSER/files']) {
    it(`${path} gets the route configured as /%7Euser (401 token.missing): its prefix is normalised like request paths`, async () => {
      const seen = fx.upstream.seen.length;
      const r = await send(fx.gw.url, { path });
      assert.equal(r.status, 401);
      assert.equal(problem(r).code, 'token.missing');
      assert.equal(fx.upstream.seen.length, seen);
    });
  }

  it('control: the public route forwards its path unchanged, case and all', async () => {
    const r = await send(fx.gw.url, { path: '/Public/ADMIN?X=1' });
    assert.equal(r.status, 200);
    assert.equal((JSON.parse(r.body) as Echo).url, '/Public/ADMIN?X=1');
  });

  it('control: a name that only starts like the prefix (/ADMINX) is still the public route', async () => {
    const r = await send(fx.gw.url, { path: '/ADMINX' });
    assert.equal(r.status, 200);
  });

  it('stripPrefix removes the prefix as sent, in whatever case', async () => {
    const r = await send(fx.gw.url, { path: '/SVC/Items?q' });
    assert.equal(r.status, 200);
    assert.equal((JSON.parse(r.body) as Echo).url, '/base/Items?q');
  });
});
