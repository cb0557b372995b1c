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
import { gatewaySuite, problem, rawRequest, route, send } from './helpers.js';

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

  // The rule above covers encoded forms only because Node's HTTP parser refuses the literal
  // ones: a tab, C0 control, DEL or byte outside ASCII in the target is HPE_INVALID_URL (even
  // with insecureHTTPParser, on Node 20), answered as request.malformed, and a space ends it.
  const literal: [string, number[]][] = [['a tab', [0x09]], ['a C0 control', [0x01]], ['DEL', [0x7f]], ['a raw overlong `.` (C0 AE)', [0xc0, 0xae]], ['a raw NBSP (A0)', [0xa0]]];
  for (const [name, bytes] of literal) {
    it(`refuses /admin followed by ${name} written literally with 400 request.malformed; no upstream sees it`, async () => {
      const seen = fx.upstream.seen.length;
      const head = Buffer.concat([Buffer.from('GET /admin'), Buffer.from(bytes), Buffer.from(' HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n')]);
      const out = await rawRequest(fx.gw.port, head);
      assert.match(out, /^HTTP\/1\.1 400 /);
      assert.match(out, /"code":"request\.malformed"/);
      assert.equal(fx.upstream.seen.length, seen);
    });
  }

  it('literal spaces after the path end the target: it is /admin, routed to the protected route', async () => {
    const seen = fx.upstream.seen.length;
    const out = await rawRequest(fx.gw.port, 'GET /admin   HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n');
    assert.match(out, /^HTTP\/1\.1 401 /);
    assert.match(out, /"code":"token\.missing"/);
    assert.equal(fx.upstream.seen.length, seen);
  });

  it('a space inside a segment and well-formed UTF-8 still reach the public route, hex upper-cased', async () => {
    const r = await send(fx.gw.url, { path: '/files/my%20report/%c3%a9t%c3%a9' });
    assert.equal(r.status, 200);
    assert.equal((JSON.parse(r.body) as { url: string }).url, '/files/my%20report/%C3%A9t%C3%A9');
  });
});
