/**
 * Headers that name another request path. Zend Framework 1 (and Magento 1 on it), Yii 2
 * and Symfony before 2.7.49/3.4.14/4.1.3 (CVE-2018-14773) take the path from
 * `X-Original-URL` or `X-Rewrite-URL` (IIS URL Rewrite's headers) instead of the request
 * line. A client sending `GET /public` with `X-Original-URL: /admin` passes the public
 * route's policy and has such an upstream run its `/admin` handler. Only the gateway says
 * which path it routed; a client's copy, in any spelling, never reaches the upstream.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { gatewaySuite, rawRequest, route } from './helpers.js';

describe('path-override headers', () => {
  const fx = gatewaySuite(
    (up) => [
      route({ name: 'admin', match: { pathPrefix: '/admin' }, upstream: up, require: { token: { audience: 'orders-api' } } }),
      route({ name: 'public', match: { pathPrefix: '/' }, upstream: up }),
      ], { gateway: { trustedProxies: ['127.0.0.1',
    ],
    } },
  );

  for (const name of ['X-Original-URL', 'X-Rewrite-URL', 'x-original-url', 'X_Original_URL', 'X_REWRITE_URL']) {
    it(`GET /public with ${name}: /admin reaches the upstream as /public, without ${name} (even from a trusted proxy)`, async () => {
      const before = fx.upstream.seen.length;
      const raw = await rawRequest(fx.gw.port, `GET /public HTTP/1.1\r\nHost: api.example\r\n${name}: /admin/users\r\nX-Kept: 1\r\nConnection: close\r\n\r\n`);
      assert.match(raw, /^HTTP\/1\.1 200 /, raw);
      assert.equal(fx.upstream.seen.length, before + 1);
      const seen = fx.upstream.seen.at(-1)!;
      assert.equal(seen.url, '/public');
      const names = seen.rawHeaders.filter((_, i) => i % 2 === 0).map((n) => n.toLowerCase().replaceAll('_', '-'));
      assert.ok(!names.includes('x-original-url') && !names.includes('x-rewrite-url'), `${name} reached the upstream`);
      assert.ok(names.includes('x-kept'));
    });
  }

  it('control: look-alike names are forwarded', async () => {
    const raw = await rawRequest(fx.gw.port, `GET /public HTTP/1.1\r\nHost: api.example\r\nX-Original-URLs: a\r\nX-Url: b\r\nConnection: close\r\n\r\n`);
    assert.match(raw, /^HTTP\/1\.1 200 /, raw);
    const h = fx.upstream.seen.at(-1)!.headers;
    assert.equal(h['x-original-urls'], 'a');
    assert.equal(h['x-url'], 'b');
  });
});
