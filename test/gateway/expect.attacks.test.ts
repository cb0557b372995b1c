/**
 * Expect (RFC 9110 §10.1.1). Node answers it itself unless the server listens for
 * `checkContinue`/`checkExpectation`: `100 Continue` before any policy ran (the client
 * uploads a body that is then refused), and a bare 417 outside the gateway's error path.
 * The gateway answers an unknown expectation with a problem+json 417 and an audit event,
 * and sends `100 Continue` only once the request has passed the checks that need no body
 * (route, Content-Length limit, the policy steps), or when a step starts reading the body.
 */
import assert from 'node:assert/strict';
import net from 'node:net';
import { after, before, describe, it } from 'node:test';
import { readBody } from '../../src/gateway/body.js';
import type { PolicyStep } from '../../src/gateway/context.js';
import { route, startGateway, startUpstream, TestKeys, type TestGateway, type Upstream } from './helpers.js';

/** Sends the head, then the body only after a 100 Continue; returns everything read. */
function expecting(port: number, head: string, body: string): Promise<string> {
  return new Promise((resolve) => {
    const s = net.connect(port, '127.0.0.1');
    let buf = '';
    let sentBody = false;
    s.on('data', (c: Buffer) => {
      buf += c.toString('latin1');
      if (!sentBody && buf.startsWith('HTTP/1.1 100 Continue\r\n\r\n')) {
        sentBody = true;
        s.write(body);
      }
    });
    s.on('error', () => {});
    s.on('close', () => resolve(buf));
    setTimeout(() => {
      s.destroy();
      resolve(buf);
    }, 1500);
    s.write(head);
  });
}

describe('Expect through the gateway', () => {
  let upstream: Upstream;
  let gw: TestGateway;

  before(async () => {
    upstream = await startUpstream();
    const keys = new TestKeys();
    keys.add('k1');
    const reads: PolicyStep = (ctx) => readBody(ctx, 1000).then(() => undefined);
    gw = await startGateway(
      [
        route({ name: 'private', match: { pathPrefix: '/private' }, upstream: upstream.url, require: { token: { audience: 'orders-api' } } }),
        route({ name: 'small', match: { pathPrefix: '/small' }, upstream: upstream.url, maxBodySize: 4 }),
        route({ name: 'reads', match: { pathPrefix: '/reads' }, upstream: upstream.url }),
        route({ name: 'public', match: { pathPrefix: '/' }, upstream: upstream.url }),
      ],
      { keys, steps: (r) => (r.name === 'reads' ? [reads] : []) },
    );
  });
  after(async () => {
    await gw.close();
    await upstream.close();
  });

  it('an expectation other than 100-continue is answered 417 request.expectation-failed (problem+json, audited); the upstream sees nothing', async () => {
    const seen = upstream.seen.length;
    const before = gw.audit.events.length;
    const out = await expecting(gw.port, 'POST /x HTTP/1.1\r\nHost: a\r\nExpect: foo\r\nContent-Length: 5\r\n\r\n', 'hello');
    assert.match(out, /^HTTP\/1\.1 417 /, out);
    assert.match(out, /content-type: application\/problem\+json/);
    assert.match(out, /"code":"request.expectation-failed"/);
    assert.equal(upstream.seen.length, seen);
    assert.ok(gw.audit.events.slice(before).some((e) => e.type === 'gateway.denied' && e.reason === 'request.expectation-failed'));
  });

  it('100-continue on a route whose token policy fails: 401 token.missing and no 100 Continue first', async () => {
    const seen = upstream.seen.length;
    const out = await expecting(gw.port, 'POST /private/x HTTP/1.1\r\nHost: a\r\nExpect: 100-continue\r\nContent-Length: 5\r\n\r\n', 'hello');
    assert.match(out, /^HTTP\/1\.1 401 /, out);
    assert.match(out, /"code":"token.missing"/);
    assert.equal(upstream.seen.length, seen);
  });

  it('100-continue with a Content-Length over maxBodySize: 413 and no 100 Continue first', async () => {
    const out = await expecting(gw.port, 'POST /small/x HTTP/1.1\r\nHost: a\r\nExpect: 100-continue\r\nContent-Length: 5\r\n\r\n', 'hello');
    assert.match(out, /^HTTP\/1\.1 413 /, out);
    assert.match(out, /"code":"request.body-too-large"/);
  });

  for (const [what, length] of [
    ['a small body', 5],
    ['a streamed body', 70_000],
  ] as const) {
    it(`100-continue on a passing route: 100 Continue, then ${what} is forwarded`, async () => {
      const body = 'h'.repeat(length);
      const out = await expecting(gw.port, `POST /ok HTTP/1.1\r\nHost: a\r\nExpect: 100-continue\r\nContent-Length: ${length}\r\nConnection: close\r\n\r\n`, body);
      assert.match(out, /^HTTP\/1\.1 100 Continue\r\n\r\nHTTP\/1\.1 200 /, out.slice(0, 200));
      const seen = upstream.seen.at(-1)!;
      assert.equal(seen.body.length, length);
      assert.equal(seen.headers['expect'], undefined);
    });
  }

  it('100-continue where a policy step reads the body: 100 Continue when it starts reading, then 200', async () => {
    const out = await expecting(gw.port, 'POST /reads/x HTTP/1.1\r\nHost: a\r\nExpect: 100-continue\r\nContent-Length: 5\r\nConnection: close\r\n\r\n', 'hello');
    assert.match(out, /^HTTP\/1\.1 100 Continue\r\n\r\nHTTP\/1\.1 200 /, out.slice(0, 200));
    assert.equal(upstream.seen.at(-1)!.body, 'hello');
  });
});
