/**
 * A fragment is not part of a request-target (RFC 9112 §3.2: origin-form is
 * absolute-path ["?" query]), but Node's parser lets `#` through. Route matching then
 * saw `/admin#x`, which is not below the `/admin` prefix, and sent it to a broader
 * route; the upstream (Express's parseurl, WHATWG URL) reads `#x` as a fragment and
 * serves `/admin` without the admin route's policy. A `#` anywhere in the request-target
 * is refused with 400 request.malformed.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { codeOf, gatewaySuite, rawRequest, route, statusOf } from './helpers.js';

describe('a fragment in the request-target', () => {
  const fx = gatewaySuite(
    (up) => [
      route({ name: 'admin', match: { pathPrefix: '/admin' }, upstream: up, require: { token: { audience: 'orders-api' } } }),
      route({ name: 'public', match: { pathPrefix: '/' }, upstream: up }),
    ],
  );

  for (const target of ['/admin#x', '/admin#/users', '/public?a=1#/admin', '/admin/users#']) {
    it(`GET ${target}: 400 request.malformed, audited, nothing upstream (not the public route)`, async () => {
      const seen = fx.upstream.seen.length;
      const raw = await rawRequest(fx.gw.port, `GET ${target} HTTP/1.1\r\nHost: a.example\r\nConnection: close\r\n\r\n`);
      assert.equal(statusOf(raw), 400, raw);
      assert.equal(codeOf(raw), 'request.malformed');
      assert.equal(fx.upstream.seen.length, seen);
      assert.ok(fx.gw.audit.events.some((e) => e.type === 'gateway.denied' && e.reason === 'request.malformed' && e.data?.['path'] === null));
    });
  }

  it('an encoded # (%23) is an ordinary character of the path: /admin%23x goes to the public route as before', async () => {
    const raw = await rawRequest(fx.gw.port, `GET /admin%23x HTTP/1.1\r\nHost: a.example\r\nConnection: close\r\n\r\n`);
    assert.equal(statusOf(raw), 200, raw);
    assert.equal(fx.upstream.seen.at(-1)!.url, '/admin%23x');
  });
});
