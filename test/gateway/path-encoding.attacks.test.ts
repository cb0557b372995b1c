/**
 * Percent-encodings that some upstreams read as another path than the route table
 * matched: an encoded space at a segment's edge (`/admin%20`: Spring's AntPathMatcher
 * with trimTokens routes it as `/admin`, the CVE-2016-5007 class), encoded control
 * characters, and bytes that are not well-formed UTF-8 (`%C0%AE` is an overlong `.`, a
 * dot segment to a lenient decoder). Each is refused before routing, so none reaches
 * the catch-all route's upstream without the protected route's policy.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { gatewaySuite, problem, route, send } from './helpers.js';

describe('encoded whitespace, controls and malformed UTF-8 cannot move a request past a protected route', () => {
  const fx = gatewaySuite((up) => [
    route({ name: 'admin', match: { pathPrefix: '/admin' }, upstream: up, require: { token: { audience: 'orders-api' } } }),
    route({ name: 'public', match: { pathPrefix: '/' }, upstream: up }),
  ]);

  for (const path of ['/admin%20', '/admin%20/users', '/%20admin/users', '/admin%09', '/admin%0D%0A', '/admin%7F', '/public/%C0%AE%C0%AE/admin', '/public/%E0%80%AE%E0%80%AE/admin', '/admin%C0']) {
    it(`refuses ${path} with 400 request.malformed; the public route's upstream sees nothing`, async () => {
      const seen = fx.upstream.seen.length;
      const r = await send(fx.gw.url, { path });
      assert.equal(r.status, 400);
      assert.equal(problem(r).code, 'request.malformed');
      assert.equal(fx.upstream.seen.length, seen);
    });
  }

  it('a space inside a segment and well-formed UTF-8 still reach the public route, hex upper-cased', async () => {
    const r = await send(fx.gw.url, { path: '/files/my%20report/%c3%a9t%c3%a9' });
    assert.equal(r.status, 200);
    assert.equal((JSON.parse(r.body) as { url: string }).url, '/files/my%20report/%C3%A9t%C3%A9');
  });
});
