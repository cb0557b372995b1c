/**
 * A 304 Not Modified may carry Content-Length, the length the 200 would have had (RFC 9110
 * §8.6, §15.4.5), and never has content. undici 7 exempts only HEAD from its response length
 * check: it raised `UND_ERR_RES_CONTENT_LENGTH_MISMATCH` after the head, and the gateway,
 * having written the head, cut the client's connection with no response. A conditional
 * GET through the gateway failed whenever the upstream stated the length. The same holds
 * for a 204 with a Content-Length, which RFC 9110 §8.6 forbids: the 204 ends at its head
 * all the same, so the gateway relays it without the field.
 *
 * undici drops the upstream connection such a response came on: a body the upstream sent
 * after the 304 anyway is never read as the next response (no desync).
 */
import assert from 'node:assert/strict';
import { generateKeyPairSync } from 'node:crypto';
import net from 'node:net';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { FrozenClock } from '../../src/core/clock.js';
import type { PolicyStep } from '../../src/gateway/context.js';
import { responseSigningStep } from '../../src/gateway/response-signing.js';
import { NOW, route, send, startGateway, type TestGateway } from './helpers.js';

/** What the upstream answers, by request path (the first match of a path prefix). */
const ANSWERS: [string, string][] = [
  ['/nm', 'HTTP/1.1 304 Not Modified\r\nETag: "x"\r\nContent-Length: 1234\r\n\r\n'],
  ['/nc', 'HTTP/1.1 204 No Content\r\nX-Up: 1\r\nContent-Length: 1234\r\n\r\n'],
  // a broken upstream that sends content after its 304: must never be read as the next response
  ['/smuggle', 'HTTP/1.1 304 Not Modified\r\nETag: "s"\r\nContent-Length: 45\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 8\r\n\r\nsmuggled'],
  ['/short', 'HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nab'],
  ['/', 'HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nfresh'],
];

describe('304 and 204 with a Content-Length and no content', () => {
  const socks = new Set<net.Socket>();
  let upstream: net.Server;
  let connections = 0;
  let gw: TestGateway;

  before(async () => {
    upstream = net.createServer((s) => {
      connections++;
      socks.add(s);
      s.on('close', () => socks.delete(s));
      s.on('error', () => {});
      let buf = '';
      s.on('data', (d: Buffer) => {
        buf += d.toString('latin1');
        let end: number;
        while ((end = buf.indexOf('\r\n\r\n')) !== -1) {
          const path = buf.slice(0, end).split(' ')[1] ?? '/';
          buf = buf.slice(end + 4);
          const [prefix, answer] = ANSWERS.find(([p]) => path.startsWith(p))!;
          s.write(answer);
          if (prefix === '/short') s.end();
        }
      });
    });
    await new Promise<void>((r) => upstream.listen(0, '127.0.0.1', r));
    const url = `http://127.0.0.1:${(upstream.address() as AddressInfo).port}`;
    const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    const signing = responseSigningStep({ keys: { signingKey: () => ({ kid: 'k1', alg: 'ES256', privateKey }) } as never, clock: new FrozenClock(NOW) });
    gw = await startGateway(
      [
        route({ name: 'signed', match: { pathPrefix: '/signed' }, upstream: url, timeout: '2s', signResponses: true, stripPrefix: true }),
        route({ name: 'up', match: { pathPrefix: '/' }, upstream: url, timeout: '2s' }),
      ],
      { gateway: { connectionsPerUpstream: 1 }, steps: (r): PolicyStep[] => (r.signResponses ? [signing] : []) },
    );
  });
  after(async () => {
    await gw.close();
    for (const s of socks) s.destroy();
    await new Promise<void>((r) => upstream.close(() => r()));
  });

  it('a 304 with Content-Length reaches the client with its ETag and its Content-Length', { timeout: 5000 }, async () => {
    const r = await send(gw.url, { path: '/nm/a', headers: { 'if-none-match': '"x"' } });
    assert.equal(r.status, 304);
    assert.equal(r.headers.etag, '"x"');
    assert.equal(r.headers['content-length'], '1234');
    assert.equal(r.body, '');
  });

  it('a 304 with Content-Length on a route that buffers responses (signing) reaches the client too', { timeout: 5000 }, async () => {
    const r = await send(gw.url, { path: '/signed/nm/b', headers: { 'if-none-match': '"x"' } });
    assert.equal(r.status, 304);
    assert.equal(r.headers.etag, '"x"');
    assert.equal(r.body, '');
  });

  it('a 204 with a Content-Length is relayed as a 204 without it (RFC 9110 §8.6)', { timeout: 5000 }, async () => {
    const r = await send(gw.url, { path: '/nc/a', method: 'DELETE' });
    assert.equal(r.status, 204);
    assert.equal(r.headers['x-up'], '1');
    assert.equal(r.headers['content-length'], undefined);
    assert.equal(r.body, '');
  });

  it('content after a 304 is never relayed as the next response: the upstream connection is dropped', { timeout: 5000 }, async () => {
    const before = connections;
    const first = await send(gw.url, { path: '/smuggle/a' });
    assert.equal(first.status, 304);
    assert.equal(first.headers.etag, '"s"');
    const next = await send(gw.url, { path: '/next' });
    assert.equal(next.status, 200);
    assert.equal(next.body, 'fresh');
    assert.equal(connections, before + 2, 'the next request went on a new upstream connection');
  });

  it('a 200 whose content falls short of its Content-Length is still not relayed as complete', { timeout: 5000 }, async () => {
    await assert.rejects(send(gw.url, { path: '/short' }));
  });
});
