import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { PortcullisError } from '../../src/core/errors.js';
import { afterMatched, isValidHost, parseRequestTarget } from '../../src/gateway/request-target.js';
import { compileRoute, hostKey, RouteTable } from '../../src/gateway/route-table.js';
import { route } from './helpers.js';

const up = 'http://127.0.0.1:9';
const table = new RouteTable(
  [
    route({ name: 'root', match: { pathPrefix: '/' }, upstream: up }),
    route({ name: 'orders', match: { pathPrefix: '/orders' }, upstream: up }),
    route({ name: 'orders-admin', match: { pathPrefix: '/orders/admin' }, upstream: up }),
    route({ name: 'orders-api-host', match: { host: 'API.example.com', pathPrefix: '/orders' }, upstream: up }),
    route({ name: 'write', match: { pathPrefix: '/write', methods: ['POST', 'PUT'] }, upstream: up }),
    route({ name: 'slash', match: { pathPrefix: '/docs/' }, upstream: up }),
  ].map(compileRoute),
);
const only = new RouteTable([route({ name: 'only', match: { pathPrefix: '/only' }, upstream: up })].map(compileRoute));

const name = (host: string | undefined, method: string, path: string) => table.match(host, method, path)?.name;

describe('route table', () => {
  it('matches a path prefix on segment boundaries only', () => {
    assert.equal(name('a', 'GET', '/orders'), 'orders');
    assert.equal(name('a', 'GET', '/orders/1'), 'orders');
    assert.equal(name('a', 'GET', '/ordersx'), 'root');
    assert.equal(only.match('a', 'GET', '/onlyx'), undefined);
    assert.equal(only.match('a', 'GET', '/only/x')?.name, 'only');
  });

  it('attack: the absolute form of the host (trailing dot, "api.example.com.") is the host route, not the any-host route below it', () => {
    assert.equal(name('api.example.com.', 'GET', '/orders/1'), 'orders-api-host');
    assert.equal(name('API.example.com.:8443', 'GET', '/orders/1'), 'orders-api-host');
    assert.equal(name('api.example.com..', 'GET', '/orders/1'), 'orders');
  });

  it('picks the longest matching prefix', () => {
    assert.equal(name('a', 'GET', '/orders/admin/users'), 'orders-admin');
    assert.equal(name('a', 'GET', '/orders/adminx'), 'orders');
  });

  it('matches host case-insensitively, ignoring the port, and prefers the host route at equal length', () => {
    assert.equal(name('api.EXAMPLE.com:8443', 'GET', '/orders/1'), 'orders-api-host');
    assert.equal(name('api.example.com', 'GET', '/orders'), 'orders-api-host');
    assert.equal(name('other.example.com', 'GET', '/orders'), 'orders');
    assert.equal(name(undefined, 'GET', '/orders'), 'orders');
  });

  it('matches only the listed methods', () => {
    assert.equal(name('a', 'POST', '/write'), 'write');
    assert.equal(name('a', 'GET', '/write'), 'root');
    const t = new RouteTable([route({ name: 'get-only', match: { pathPrefix: '/only', methods: ['GET'] }, upstream: up })].map(compileRoute));
    assert.equal(t.match('a', 'GET', '/only')?.name, 'get-only');
    assert.equal(t.match('a', 'DELETE', '/only'), undefined);
  });

  it('attack: HEAD on a GET route is that route (RFC 9110 §9.3.2, HEAD is GET without content), not the catch-all below it', () => {
    const t = new RouteTable(
      [route({ name: 'root', match: { pathPrefix: '/' }, upstream: up }), route({ name: 'reads', match: { pathPrefix: '/reads', methods: ['GET'] }, upstream: up })].map(compileRoute),
    );
    assert.equal(t.match('a', 'HEAD', '/reads/1')?.name, 'reads');
    assert.equal(t.match('a', 'OPTIONS', '/reads/1')?.name, 'root');
    assert.equal(name('a', 'HEAD', '/write'), 'root');
  });

  // Express (non-strict routing) and most frameworks serve `/docs` as the index of `/docs/`: were the bare
  // name left to the broader route, it would reach that handler without the `/docs/` route's policy.
  it('attack: a prefix with a trailing slash matches below it and its bare name, not a name that only starts like it', () => {
    assert.equal(name('a', 'GET', '/docs/x'), 'slash');
    assert.equal(name('a', 'GET', '/docs/'), 'slash');
    assert.equal(name('a', 'GET', '/docs'), 'slash');
    assert.equal(name('a', 'GET', '/DOCS'), 'slash');
    assert.equal(name('a', 'GET', '/docsx'), 'root');
    assert.equal(name('a', 'GET', '/doc'), 'root');
  });

  it('a route whose prefix is the bare name keeps it: /admin goes to an /admin route, /admin/x to an /admin/ route', () => {
    const t = new RouteTable(
      [route({ name: 'bare', match: { pathPrefix: '/admin' }, upstream: up }), route({ name: 'slash', match: { pathPrefix: '/admin/' }, upstream: up }), route({ name: 'root', match: { pathPrefix: '/' }, upstream: up })].map(compileRoute),
    );
    assert.equal(t.match('a', 'GET', '/admin')?.name, 'bare');
    assert.equal(t.match('a', 'GET', '/ADMIN')?.name, 'bare');
    assert.equal(t.match('a', 'GET', '/admin/x')?.name, 'slash');
    // a host route for the bare name beats an any-host /admin/ too; without either, /admin/ takes it, never /
    const hosted = new RouteTable(
      [route({ name: 'slash', match: { pathPrefix: '/admin/' }, upstream: up }), route({ name: 'host-bare', match: { host: 'a', pathPrefix: '/admin' }, upstream: up }), route({ name: 'root', match: { pathPrefix: '/' }, upstream: up })].map(compileRoute),
    );
    assert.equal(hosted.match('a', 'GET', '/admin')?.name, 'host-bare');
    assert.equal(hosted.match('b', 'GET', '/admin')?.name, 'slash');
    // a method the bare-name route does not serve falls to the /admin/ route, not to /
    const methods = new RouteTable(
      [route({ name: 'bare-get', match: { pathPrefix: '/admin', methods: ['GET'] }, upstream: up }), route({ name: 'slash', match: { pathPrefix: '/admin/' }, upstream: up }), route({ name: 'root', match: { pathPrefix: '/' }, upstream: up })].map(compileRoute),
    );
    assert.equal(methods.match('a', 'POST', '/admin')?.name, 'slash');
  });

  // Rails (`/admin(.:format)`), Spring MVC's suffix pattern match (`/admin.*`) and Django REST framework's
  // format suffixes serve `/admin.json` with the `/admin` handler: left to a broader route, it would reach
  // that handler without the route's policy.
  it('attack: a format suffix on the last segment of a prefix (/admin.json) is that route, not the broader one', () => {
    for (const prefix of ['/admin', '/admin/', '/Admin']) {
      const t = new RouteTable([route({ name: 'admin', match: { pathPrefix: prefix }, upstream: up }), route({ name: 'root', match: { pathPrefix: '/' }, upstream: up })].map(compileRoute));
      for (const path of ['/admin.json', '/admin.xml', '/ADMIN.Json', '/admin.json/', '/admin.tar.gz', '/admin.', '/admin.~x']) assert.equal(t.match('a', 'GET', path)?.name, 'admin', `${prefix} ${path}`);
      for (const path of ['/adminx.json', '/admin.json/x', '/admi.json', '/x/admin.json']) assert.equal(t.match('a', 'GET', path)?.name, 'root', `${prefix} ${path}`);
    }
    const deep = new RouteTable([route({ name: 'users', match: { pathPrefix: '/api/users/' }, upstream: up }), route({ name: 'api', match: { pathPrefix: '/api' }, upstream: up })].map(compileRoute));
    assert.equal(deep.match('a', 'GET', '/api/users.json')?.name, 'users');
    assert.equal(deep.match('a', 'GET', '/api/users.json/1')?.name, 'api');
    assert.equal(deep.match('a', 'GET', '/api.json')?.name, 'api');
  });

  it('a format suffix yields to a route whose prefix is that path, and to the bare-name route over the /admin/ one', () => {
    const t = new RouteTable(
      [
        route({ name: 'slash', match: { pathPrefix: '/admin/' }, upstream: up }),
        route({ name: 'bare', match: { pathPrefix: '/admin' }, upstream: up }),
        route({ name: 'json', match: { pathPrefix: '/admin.json' }, upstream: up }),
        route({ name: 'tar', match: { pathPrefix: '/admin.tar/' }, upstream: up }),
        route({ name: 'root', match: { pathPrefix: '/' }, upstream: up }),
      ].map(compileRoute),
    );
    assert.equal(t.match('a', 'GET', '/admin.json')?.name, 'json');
    assert.equal(t.match('a', 'GET', '/admin.xml')?.name, 'bare');
    assert.equal(t.match('a', 'GET', '/admin.tar')?.name, 'tar');
    assert.equal(t.match('a', 'GET', '/admin.tar.gz')?.name, 'tar');
    assert.equal(t.match('a', 'GET', '/admin/x.json')?.name, 'slash');
    // without the bare-name route, the /admin/ route takes /admin.xml; a method the bare route does not serve falls to /admin/, not to /
    const methods = new RouteTable(
      [route({ name: 'bare-get', match: { pathPrefix: '/admin', methods: ['GET'] }, upstream: up }), route({ name: 'slash', match: { pathPrefix: '/admin/' }, upstream: up }), route({ name: 'root', match: { pathPrefix: '/' }, upstream: up })].map(compileRoute),
    );
    assert.equal(methods.match('a', 'GET', '/admin.xml')?.name, 'bare-get');
    assert.equal(methods.match('a', 'POST', '/admin.xml')?.name, 'slash');
  });

  // Matching ignores ASCII case, so `/Admin/` and `/admin/` are one prefix: only the order of the table
  // would pick between the two routes, and the other one would silently never match.
  it('attack: two routes whose prefixes are one prefix once ASCII case is folded are refused (config.invalid naming both)', () => {
    const refused = (routes: Record<string, unknown>[], names: [string, string]) =>
      assert.throws(
        () => new RouteTable(routes.map((r) => compileRoute(route({ upstream: up, ...r })))),
        (e: unknown) => e instanceof PortcullisError && e.code === 'config.invalid' && e.message.includes(`"${names[0]}"`) && e.message.includes(`"${names[1]}"`),
      );
    refused([{ name: 'upper', match: { pathPrefix: '/Admin/' } }, { name: 'lower', match: { pathPrefix: '/admin/' } }], ['upper', 'lower']);
    refused([{ name: 'a', match: { pathPrefix: '/ADMIN' } }, { name: 'root', match: { pathPrefix: '/' } }, { name: 'b', match: { pathPrefix: '/admin' } }], ['a', 'b']);
    refused([{ name: 'same', match: { pathPrefix: '/admin' } }, { name: 'again', match: { pathPrefix: '/admin' } }], ['same', 'again']);
    refused([{ name: 'h1', match: { host: 'API.example.com', pathPrefix: '/Admin' } }, { name: 'h2', match: { host: 'api.example.com.', pathPrefix: '/admin' } }], ['h1', 'h2']);
    refused([{ name: 'gets', match: { pathPrefix: '/Admin', methods: ['GET', 'POST'] } }, { name: 'posts', match: { pathPrefix: '/admin', methods: ['POST'] } }], ['gets', 'posts']);
    refused([{ name: 'all', match: { pathPrefix: '/Admin' } }, { name: 'del', match: { pathPrefix: '/admin', methods: ['DELETE'] } }], ['all', 'del']);
    // HEAD is on every GET route
    refused([{ name: 'get', match: { pathPrefix: '/Admin', methods: ['GET'] } }, { name: 'head', match: { pathPrefix: '/admin', methods: ['HEAD'] } }], ['get', 'head']);
  });

  it('routes that cannot match the same request keep one prefix: other hosts, other methods, a host route over an any-host one', () => {
    const kept = (routes: Record<string, unknown>[]) => new RouteTable(routes.map((r) => compileRoute(route({ upstream: up, ...r }))));
    assert.equal(kept([{ name: 'a', match: { host: 'a.example', pathPrefix: '/Admin' } }, { name: 'b', match: { host: 'b.example', pathPrefix: '/admin' } }]).match('B.example', 'GET', '/ADMIN')?.name, 'b');
    assert.equal(kept([{ name: 'r', match: { pathPrefix: '/Admin', methods: ['GET'] } }, { name: 'w', match: { pathPrefix: '/admin', methods: ['POST', 'DELETE'] } }]).match('a', 'DELETE', '/admin')?.name, 'w');
    const hosted = kept([{ name: 'any', match: { pathPrefix: '/admin' } }, { name: 'host', match: { host: 'a.example', pathPrefix: '/Admin' } }]);
    assert.equal(hosted.match('a.example', 'GET', '/admin')?.name, 'host');
    assert.equal(hosted.match('b.example', 'GET', '/admin')?.name, 'any');
    // /admin and /admin/ are two prefixes, ranked by the bare-name rule
    assert.equal(kept([{ name: 'slash', match: { pathPrefix: '/Admin/' } }, { name: 'bare', match: { pathPrefix: '/admin' } }]).size, 2);
  });

  it('parses IPv6 hosts with ports', () => {
    const t = new RouteTable([route({ name: 'v6', match: { host: '[::1]', pathPrefix: '/' }, upstream: up })].map(compileRoute));
    assert.equal(t.match('[::1]:8443', 'GET', '/')?.name, 'v6');
    assert.equal(t.match('[::2]:8443', 'GET', '/'), undefined);
  });

  it('compiles the upstream base path and the strip length', () => {
    const r = compileRoute(route({ name: 'x', match: { pathPrefix: '/orders/' }, upstream: 'http://127.0.0.1:9/api/v1/', stripPrefix: true }));
    assert.equal(r.origin, 'http://127.0.0.1:9');
    assert.equal(r.basePath, '/api/v1');
    assert.equal(r.stripLength, '/orders'.length);
  });
});

function malformed(url: string): void {
  assert.throws(
    () => parseRequestTarget(url),
    (e: unknown) => e instanceof PortcullisError && e.code === 'request.malformed',
    url,
  );
}

describe('request target (path confusion bypasses)', () => {
  it('keeps ordinary paths and splits the query', () => {
    assert.deepEqual(parseRequestTarget('/orders/1?x=/../y'), { path: '/orders/1', matchPath: '/orders/1', query: '?x=/../y' });
    assert.deepEqual(parseRequestTarget('/'), { path: '/', matchPath: '/', query: '' });
    assert.deepEqual(parseRequestTarget('/.well-known/x/'), { path: '/.well-known/x/', matchPath: '/.well-known/x/', query: '' });
  });

  it('matches on the path without ;parameters and keeps the path unchanged', () => {
    assert.deepEqual(parseRequestTarget('/admin;x/users;id=1?q=;'), { path: '/admin;x/users;id=1', matchPath: '/admin/users', query: '?q=;' });
    assert.deepEqual(parseRequestTarget('/a;b;c'), { path: '/a;b;c', matchPath: '/a', query: '' });
  });

  it('refuses segments that are dot or empty segments once parameters are removed, and an encoded ;', () => {
    for (const u of ['/public/..;/admin', '/public/.;x/a', '/public/%2e%2e;/admin', '/;x/admin', '/a/;/b', '/a%3Bb']) malformed(u);
  });

  it('afterMatched skips the parameters of the prefix segments', () => {
    assert.equal(afterMatched('/svc;v=2/items', 4), 8);
    assert.equal(afterMatched('/a;x/b;y/c', 4), 8);
    assert.equal(afterMatched('/svc;v=2', 4), 8);
    assert.equal(afterMatched('/svc/items', 4), 4);
  });

  it('isValidHost: uri-host [":" port] only, naming its host one way only', () => {
    for (const h of ['a.example', 'A.Example:8443', '127.0.0.1', '127.0.0.1.', '[::1]:80', '[fe80::1]', '[::ffff:127.0.0.1]', 'a.example:', 'a.example:65535', 'xn--bcher-kva.example', 'a1.example.com', '1a', 'api.v2']) assert.equal(isValidHost(h), true, h);
    for (const h of ['', ':80', 'a/b', 'a@b', 'a b', 'a#', 'a?', '[::1', '[x]', '[::1]x', 'a:8x', 'a:123456', 'a:65536', 'a:99999', 'a%4', 'a\tb', 'a%41.example', '127.1', '0x7f.0.0.1', '0X7F.1', '0177.0.0.1', '2130706433', '2130706433.', '256.0.0.1', 'a.example.123', 'a.0x1f', 'x.0x', '[::1::]', '[v1.x]', '[fe80::1%25eth0]', 'a.example,b.example', 'a,b', 'a;b', 'a=b', "a'", 'a!', 'a$', 'a&', 'a(b)', 'a*', 'a+b', 'a.example..', '.a.example', 'a..example', '.', '..', '.:80', 'a.example..:80', '127.0.0.1..']) assert.equal(isValidHost(h), false, h);
  });

  it('hostKey: one key for every spelling of an IPv6 literal, so a host route cannot be missed with another', () => {
    assert.equal(hostKey('[0:0:0:0:0:0:0:1]:8443'), '[::1]');
    assert.equal(hostKey('[0::1]'), '[::1]');
    assert.equal(hostKey('[FE80:0::1]'), '[fe80::1]');
    assert.equal(compileRoute(route({ name: 'v6', match: { host: '[0:0::1]' }, upstream: 'http://127.0.0.1:9' })).host, '[::1]');
  });

  it('decodes percent-encoded unreserved characters so /%61dmin matches /admin', () => {
    assert.equal(parseRequestTarget('/%61dmin/%7Ebob').path, '/admin/~bob');
    assert.equal(parseRequestTarget('/a%20b%c3%a9').path, '/a%20b%C3%A9');
  });

  it('refuses dot segments, raw or encoded (traversal past a public route)', () => {
    for (const u of ['/public/../admin', '/public/./x', '/public/%2e%2e/admin', '/public/.%2E/admin', '/..', '/public/%2E']) malformed(u);
  });

  it('refuses empty segments, backslashes and encoded slash/backslash/NUL', () => {
    for (const u of ['//admin', '/public//admin', '/public\\..\\admin', '/public%2fadmin', '/public%5Cadmin', '/a%00b']) malformed(u);
  });

  it('refuses encoded C0 controls and DEL anywhere in the path (upstreams strip or reject them)', () => {
    for (const u of ['/a%01b', '/admin%09', '/a%0Ab', '/a%0d%0aSet-Cookie:x', '/a%1Fb', '/admin%7F', '/a%7fb']) malformed(u);
  });

  it('refuses a segment that begins or ends with an encoded space (/admin%20: token-trimming upstreams route it as /admin)', () => {
    for (const u of ['/admin%20', '/admin%20/users', '/%20admin', '/a/%20/b', '/admin%20%20', '/admin%20;x/users', '/%20']) malformed(u);
    assert.equal(parseRequestTarget('/files/my%20report.pdf').path, '/files/my%20report.pdf');
    assert.equal(parseRequestTarget('/a%20b/c%20d%20e').path, '/a%20b/c%20d%20e');
  });

  it('refuses percent-encoded bytes that are not well-formed UTF-8 (overlong, surrogate, stray or cut sequences)', () => {
    for (const u of [
      '/public/%C0%AE%C0%AE/admin', // overlong '.'
      '/a%C1%BF', // overlong
      '/a%E0%80%AE', // overlong 3-byte '.'
      '/a%F0%80%80%AE', // overlong 4-byte
      '/a%ED%A0%80', // UTF-16 surrogate
      '/a%80', // lone continuation byte
      '/a%C3', // cut sequence at the end
      '/a%C3/b', // cut by a raw character
      '/a%C3%41', // a lead byte followed by an unreserved byte
      '/a%F4%90%80%80', // above U+10FFFF
      '/a%F5%80%80%80',
      '/a%FF',
    ]) malformed(u);
    assert.equal(parseRequestTarget('/%c3%a9t%c3%a9').path, '/%C3%A9t%C3%A9');
    assert.equal(parseRequestTarget('/%E2%82%AC/%F0%9F%98%80/%ED%9F%BF/%EE%80%80/%F4%8F%BF%BF').path, '/%E2%82%AC/%F0%9F%98%80/%ED%9F%BF/%EE%80%80/%F4%8F%BF%BF');
  });

  it('refuses broken percent-encoding and targets that are not origin-form', () => {
    for (const u of ['/a%zz', '/a%4', 'http://evil.example/admin', '*', '']) malformed(u);
    // RFC 9112 §3.2: no fragment in a request-target (upstreams would cut the path at "#")
    for (const u of ['/admin#x', '/admin#/users', '/public?a=1#/admin']) malformed(u);
  });
});
