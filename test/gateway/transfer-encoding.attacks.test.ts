/**
 * RFC 9112 §6.1: "A server that receives a request message with a transfer coding it does
 * not understand SHOULD respond with 501 (Not Implemented)." Node decodes only the final
 * `chunked`; the gateway dropped the header as hop-by-hop, so `gzip, chunked` reached the
 * upstream as a plain body of gzip bytes (corrupt data, and a way past a body inspector).
 */
import assert from 'node:assert/strict';
import { gzipSync } from 'node:zlib';
import { after, before, describe, it } from 'node:test';
import { rawRequest, route, startGateway, startUpstream, type TestGateway, type Upstream } from './helpers.js';

describe('transfer codings other than chunked', () => {
  let upstream: Upstream;
  let gw: TestGateway;

  before(async () => {
    upstream = await startUpstream();
    gw = await startGateway([route({ name: 'public', match: { pathPrefix: '/' }, upstream: upstream.url })]);
  });
  after(async () => {
    await gw.close();
    await upstream.close();
  });

  function chunked(te: string, body: Buffer): Buffer {
    return Buffer.concat([Buffer.from(`POST /x HTTP/1.1\r\nHost: a\r\nContent-Type: application/json\r\n${te}\r\n${body.length.toString(16)}\r\n`), body, Buffer.from('\r\n0\r\n\r\n')]);
  }

  for (const te of ['Transfer-Encoding: gzip, chunked\r\n', 'Transfer-Encoding: deflate,chunked\r\n', 'Transfer-Encoding: gzip\r\nTransfer-Encoding: chunked\r\n']) {
    it(`${JSON.stringify(te)} is refused with 501 request.transfer-coding-unsupported; the upstream sees nothing`, async () => {
      const seen = upstream.seen.length;
      const before = gw.audit.events.length;
      const out = await rawRequest(gw.port, chunked(te, gzipSync('{"amount":1}')));
      assert.match(out, /^HTTP\/1\.1 501 /, out);
      assert.match(out, /"code":"request.transfer-coding-unsupported"/);
      assert.match(out, /connection: close/i);
      assert.equal(upstream.seen.length, seen);
      assert.ok(gw.audit.events.slice(before).some((e) => e.type === 'gateway.denied' && e.reason === 'request.transfer-coding-unsupported'));
    });
  }

  it('chunked applied twice is refused (400 request.malformed, by the HTTP parser)', async () => {
    const seen = upstream.seen.length;
    const out = await rawRequest(gw.port, chunked('Transfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n', Buffer.from('{}')));
    assert.match(out, /^HTTP\/1\.1 400 /, out);
    assert.match(out, /"code":"request.malformed"/);
    assert.equal(upstream.seen.length, seen);
  });

  for (const te of ['Transfer-Encoding: chunked\r\n', 'Transfer-Encoding: Chunked\r\n', 'transfer-encoding:  chunked \r\n']) {
    it(`${JSON.stringify(te)} is forwarded with its body`, async () => {
      const out = await rawRequest(gw.port, Buffer.concat([chunked(te, Buffer.from('{"amount":1}')), Buffer.from('')]), 1000);
      assert.match(out, /^HTTP\/1\.1 200 /, out);
      assert.equal(upstream.seen.at(-1)!.body, '{"amount":1}');
    });
  }
});
