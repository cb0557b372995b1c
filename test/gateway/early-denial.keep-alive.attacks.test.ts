/**
 * A request refused before its body was read (no token, a bad token, no route) while that
 * body is still arriving: the denial said `Connection: keep-alive`, and Node, which
 * discards the unread body of an answered request, went on reading it. A client that
 * trickles a chunked body (or falls short of its Content-Length) held the connection and
 * its parser until `requestTimeout`, after its request had been refused; many such clients
 * hold that many sockets at the cost of a few bytes each. The denial now says
 * `Connection: close` and the connection ends with it, as an early upstream answer does
 * (early-response.keep-alive.attacks.test.ts). A refused request whose body had all
 * arrived keeps its connection. Raw sockets, and a 30 s requestTimeout so "closed" cannot
 * be the timeout.
 */
import assert from 'node:assert/strict';
import net from 'node:net';
import { after, before, describe, it } from 'node:test';
import { codeOf, gatewaySuite, route, statusOf } from './helpers.js';

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** A raw connection to the gateway: what it read, and whether the gateway closed it. */
class Conn {
  out = '';
  closed = false;
  private readonly s: net.Socket;

  constructor(port: number) {
    this.s = net.connect(port, '127.0.0.1');
    this.s.on('data', (c: Buffer) => (this.out += c.toString('latin1')));
    this.s.on('error', () => {});
    this.s.on('close', () => (this.closed = true));
  }

  write(text: string): void {
    this.s.write(text);
  }

  /** Waits up to `ms` for `done` to hold. */
  async until(done: () => boolean, ms: number): Promise<void> {
    for (let t = 0; t < ms && !done(); t += 25) await sleep(25);
  }

  /** How many complete answers were read (heads). */
  answers(): number {
    return this.out.match(/HTTP\/1\.1 \d{3} /g)?.length ?? 0;
  }

  destroy(): void {
    this.s.destroy();
  }
}

describe('a denial while the request body is still arriving', () => {
  const fx = gatewaySuite(
    (up) => [
      route({ name: 'private', match: { pathPrefix: '/private' }, upstream: up, require: { token: { audience: 'orders-api' } } }),
      route({ name: 'public', match: { host: 'public.test', pathPrefix: '/' }, upstream: up }),
    ],
    { gateway: { requestTimeout: '30s' } },
  );
  const conns: Conn[] = [];
  let port: number;
  before(() => {
    port = fx.gw.port;
  });
  after(() => {
    for (const c of conns) c.destroy();
  });

  function open(): Conn {
    const c = new Conn(port);
    conns.push(c);
    return c;
  }

  /** Sends `head + first`, waits for the answer, and reports whether the gateway then closed within 2 s. */
  async function refusedMidBody(head: string, first: string): Promise<Conn> {
    const c = open();
    c.write(head + first);
    await c.until(() => c.out.includes('}'), 2000);
    await c.until(() => c.closed, 2000);
    return c;
  }

  const cases: Array<[string, string, string, string, number]> = [
    ['a chunked body, no token', 'POST /private/orders HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n', '400\r\n' + 'A'.repeat(512), 'token.missing', 401],
    ['a Content-Length body, no token', 'POST /private/orders HTTP/1.1\r\nHost: a\r\nContent-Length: 100000\r\n\r\n', 'A'.repeat(1000), 'token.missing', 401],
    ['a Content-Length body under the buffering limit, a malformed token', 'POST /private/orders HTTP/1.1\r\nHost: a\r\nAuthorization: Bearer not.a.jwt\r\nContent-Length: 1000\r\n\r\n', 'A'.repeat(10), 'token.malformed', 401],
    ['a chunked body, no route', 'POST /nowhere HTTP/1.1\r\nHost: nowhere.test\r\nTransfer-Encoding: chunked\r\n\r\n', '400\r\nAAAA', 'route.not-found', 404],
  ];
  for (const [what, head, first, code, status] of cases) {
    it(`${what}: ${status} ${code} with Connection: close, and the gateway closes the connection at once (not at requestTimeout)`, { timeout: 10_000 }, async () => {
      const c = await refusedMidBody(head, first);
      assert.equal(statusOf(c.out), status, c.out);
      assert.equal(codeOf(c.out), code, c.out);
      assert.match(c.out, /\r\nconnection: close\r\n/i, c.out);
      assert.doesNotMatch(c.out, /keep-alive/i);
      assert.ok(c.closed, 'the gateway closed the connection within 2 s (requestTimeout is 30 s)');
    });
  }

  it('a 100-continue request refused before 100 Continue: Connection: close, since the client holds its body back', { timeout: 10_000 }, async () => {
    const c = await refusedMidBody('POST /private/orders HTTP/1.1\r\nHost: a\r\nExpect: 100-continue\r\nContent-Length: 5\r\n\r\n', '');
    assert.equal(codeOf(c.out), 'token.missing', c.out);
    assert.doesNotMatch(c.out, /100 Continue/);
    assert.match(c.out, /\r\nconnection: close\r\n/i, c.out);
    assert.ok(c.closed);
  });

  const whole: Array<[string, string]> = [
    ['a chunked body that has all arrived', 'POST /private/orders HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n'],
    ['a Content-Length body that has all arrived', 'POST /private/orders HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n\r\nhello'],
    ['no body', 'GET /private/orders HTTP/1.1\r\nHost: a\r\n\r\n'],
  ];
  for (const [what, request] of whole) {
    it(`${what}: 401 token.missing on a connection kept alive, which then carries the next request`, { timeout: 10_000 }, async () => {
      const c = open();
      c.write(request);
      await c.until(() => c.out.includes('}'), 2000);
      assert.equal(codeOf(c.out), 'token.missing', c.out);
      assert.doesNotMatch(c.out, /\r\nconnection: close\r\n/i, c.out);
      c.write('GET /next HTTP/1.1\r\nHost: public.test\r\n\r\n');
      await c.until(() => c.answers() === 2 && c.out.endsWith('}'), 2000);
      assert.equal(c.answers(), 2, c.out);
      assert.match(c.out.slice(c.out.lastIndexOf('HTTP/1.1 ')), /^HTTP\/1\.1 200 /);
      assert.equal(c.closed, false);
    });
  }
});
