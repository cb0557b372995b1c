/**
 * RFC 9112 §6.1: a response's transfer codings are hop-by-hop. The gateway dropped the
 * upstream's Transfer-Encoding with the other hop-by-hop fields and let Node re-chunk the
 * body, so `Transfer-Encoding: gzip, chunked` reached the client as gzip bytes with nothing
 * saying so: garbage it cannot decode, and (on a signing route) a signature over bytes the
 * client never reads as such. undici does not refuse it: llhttp undoes only the final
 * `chunked`, and a body without it is read until the upstream closes. The gateway accepts
 * exactly `chunked`, as on requests; anything else (gzip, identity, an unknown coding,
 * chunked twice) is 502 `upstream.transfer-coding-unsupported` before a byte is relayed.
 * A raw upstream writes the heads.
 */
import assert from 'node:assert/strict';
import { generateKeyPairSync } from 'node:crypto';
import net from 'node:net';
import type { AddressInfo } from 'node:net';
import { gzipSync } from 'node:zlib';
import { after, before, describe, it } from 'node:test';
import { FrozenClock } from '../../src/core/clock.js';
import type { PolicyStep } from '../../src/gateway/context.js';
import { responseSigningStep } from '../../src/gateway/response-signing.js';
import { codeOf, NOW, rawRequest, route, startGateway, statusOf, type TestGateway } from './helpers.js';

const JSON_BODY = '{"hello":"world"}';
const GZ = gzipSync(JSON_BODY);

function chunked(body: Buffer): Buffer {
  return Buffer.concat([Buffer.from(body.length.toString(16) + '\r\n'), body, Buffer.from('\r\n0\r\n\r\n')]);
}

function answer(fields: string, body: Buffer): Buffer {
  return Buffer.concat([Buffer.from(`HTTP/1.1 200 OK\r\ncontent-type: application/json\r\n${fields}\r\n`, 'latin1'), body]);
}

/** The upstream's answer by request path (the path after the route prefix). */
const ANSWERS: Record<string, Buffer> = {
  '/gzip-chunked': answer('Transfer-Encoding: gzip, chunked\r\n', chunked(GZ)),
  '/gzip-then-chunked-fields': answer('Transfer-Encoding: gzip\r\nTransfer-Encoding: chunked\r\n', chunked(GZ)),
  '/gzip-until-close': answer('Transfer-Encoding: gzip\r\n', GZ),
  '/identity': answer('Transfer-Encoding: identity\r\n', Buffer.from(JSON_BODY)),
  '/unknown-chunked': answer('Transfer-Encoding: x-custom, chunked\r\n', chunked(Buffer.from(JSON_BODY))),
  '/chunked-twice': answer('Transfer-Encoding: chunked, chunked\r\n', chunked(chunked(Buffer.from(JSON_BODY)))),
  '/chunked': answer('Transfer-Encoding: chunked\r\n', chunked(Buffer.from(JSON_BODY))),
  '/chunked-case': answer('transfer-encoding:  Chunked \r\n', chunked(Buffer.from(JSON_BODY))),
};

describe('an upstream response with a transfer coding other than chunked', () => {
  const sockets = new Set<net.Socket>();
  let upstream: net.Server;
  let gw: TestGateway;

  before(async () => {
    upstream = net.createServer((s) => {
      sockets.add(s);
      s.on('close', () => sockets.delete(s));
      s.on('error', () => {});
      let head = '';
      s.on('data', (d: Buffer) => {
        head += d.toString('latin1');
        if (!head.includes('\r\n\r\n')) return;
        const path = head.split(' ')[1]!.replace(/^\/signed/, '');
        head = '';
        // one answer per connection: the close ends a body that has no chunked framing
        s.end(ANSWERS[path] ?? Buffer.from('HTTP/1.1 404 Not Found\r\ncontent-length: 0\r\n\r\n'));
      });
    });
    await new Promise<void>((r) => upstream.listen(0, '127.0.0.1', r));
    const url = `http://127.0.0.1:${(upstream.address() as AddressInfo).port}`;
    const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    const signing = responseSigningStep({ keys: { signingKey: () => ({ kid: 'k1', alg: 'ES256', privateKey }) } as never, clock: new FrozenClock(NOW) });
    gw = await startGateway(
      [
        route({ name: 'signed', match: { pathPrefix: '/signed' }, upstream: url, stripPrefix: true, timeout: '2s', signResponses: true }),
        route({ name: 'plain', match: { pathPrefix: '/' }, upstream: url, timeout: '2s' }),
      ],
      { steps: (r): PolicyStep[] => (r.signResponses ? [signing] : []) },
    );
  });
  after(async () => {
    await gw.close();
    for (const s of sockets) s.destroy();
    await new Promise<void>((r) => upstream.close(() => r()));
  });

  const get = (path: string): Promise<string> => rawRequest(gw.port, `GET ${path} HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n`, 3000);

  for (const path of ['/gzip-chunked', '/gzip-then-chunked-fields', '/gzip-until-close', '/identity', '/unknown-chunked', '/chunked-twice']) {
    it(`${path}: 502 upstream.transfer-coding-unsupported, nothing of the upstream body relayed`, async () => {
      const before = gw.audit.events.length;
      const out = await get(path);
      assert.equal(statusOf(out), 502, out);
      assert.equal(codeOf(out), 'upstream.transfer-coding-unsupported', out);
      assert.ok(!out.includes(GZ.subarray(0, 3).toString('latin1')), 'no gzip bytes reach the client');
      assert.ok(!out.includes('hello'), 'no upstream body reaches the client');
      assert.ok(gw.audit.events.slice(before).some((e) => e.type === 'gateway.denied' && e.reason === 'upstream.transfer-coding-unsupported'));
    });
  }

  it('on a route that signs responses (buffered), gzip, chunked is refused too, never signed', async () => {
    const out = await get('/signed/gzip-chunked');
    assert.equal(statusOf(out), 502, out);
    assert.equal(codeOf(out), 'upstream.transfer-coding-unsupported', out);
    assert.doesNotMatch(out, /\r\nsignature:/i);
  });

  for (const path of ['/chunked', '/chunked-case', '/signed/chunked']) {
    it(`${path}: chunked alone (any case, any whitespace) is relayed with its body`, async () => {
      const out = await get(path);
      assert.equal(statusOf(out), 200, out);
      assert.ok(out.includes(JSON_BODY), out);
    });
  }
});
