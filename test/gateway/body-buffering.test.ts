/**
 * The mechanics under the message policies, on a bare gateway: a step that reads the
 * body (`readBody`) makes the proxy send that buffer; `replaceBody` swaps it with a new
 * content type; a response hook sees the whole upstream response before the client
 * does; a hook that fails never leaks the unsigned response. Without such steps a body
 * up to 64 KiB is read whole before the upstream is contacted, and a larger one streams.
 */
import assert from 'node:assert/strict';
import net from 'node:net';
import { after, before, describe, it } from 'node:test';
import { PortcullisError } from '../../src/core/errors.js';
import { readBody, replaceBody } from '../../src/gateway/body.js';
import type { PolicyStep } from '../../src/gateway/gateway.js';
import { problem, rawRequest, route, send, startGateway, startUpstream, type TestGateway, type Upstream } from './helpers.js';

describe('body buffering and response hooks', () => {
  let upstream: Upstream;
  let gw: TestGateway;
  const seenBodies: string[] = [];

  const steps = (name: string): PolicyStep[] => {
    switch (name) {
      case 'read':
        return [
          async (ctx) => {
            seenBodies.push((await readBody(ctx, ctx.route.config.maxBodySize)).toString());
          },
        ];
      case 'replace':
        return [
          async (ctx) => {
            const b = await readBody(ctx, 1024);
            replaceBody(ctx, Buffer.from(b.toString().toUpperCase() + '!'), 'text/x-upper');
          },
        ];
      case 'hook':
        return [
          (ctx) => {
            // same length, so the upstream Content-Length still holds
            ctx.respond = (r) => ({ ...r, status: 203, headers: [...r.headers, 'x-hooked', String(r.body.length)], body: Buffer.from(r.body.toString().replace('"method"', '"METHOD"')) });
            return undefined;
          },
        ];
      case 'failing':
        return [
          (ctx) => {
            ctx.respond = async () => {
              throw new PortcullisError('internal', 'signing key unavailable');
            };
            return undefined;
          },
        ];
      default:
        return [];
    }
  };

  before(async () => {
    upstream = await startUpstream();
    const r = (name: string, maxBodySize = '1kb') => route({ name, match: { pathPrefix: `/${name}` }, upstream: upstream.url, maxBodySize });
    gw = await startGateway([r('read', '2kb'), r('replace'), r('hook'), r('failing'), r('plain'), r('large', '1mb')], { steps: (rc) => steps(rc.name) });
  });
  after(async () => {
    await gw.close();
    await upstream.close();
  });

  it('a body read by a step is forwarded whole, with its Content-Length', async () => {
    const r = await send(gw.url, { method: 'POST', path: '/read/x', headers: { 'content-type': 'text/plain' }, body: 'hello body' });
    assert.equal(r.status, 200);
    assert.equal(seenBodies.at(-1), 'hello body');
    const seen = upstream.seen.at(-1)!;
    assert.equal(seen.body, 'hello body');
    assert.equal(seen.headers['content-length'], '10');
  });

  it('a chunked body read by a step is forwarded with a Content-Length and no Transfer-Encoding', async () => {
    const out = await rawRequest(gw.port, 'POST /read/c HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n');
    assert.match(out, /^HTTP\/1.1 200/);
    const seen = upstream.seen.at(-1)!;
    assert.equal(seen.body, 'hello world');
    assert.equal(seen.headers['content-length'], '11');
    assert.equal(seen.headers['transfer-encoding'], undefined);
  });

  it('a chunked body beyond maxBodySize is refused with 413 request.body-too-large before the upstream', async () => {
    const seen = upstream.seen.length;
    const big = 'a'.repeat(1500);
    const out = await rawRequest(gw.port, `POST /read/big HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n${big.length.toString(16)}\r\n${big}\r\n${big.length.toString(16)}\r\n${big}\r\n0\r\n\r\n`);
    assert.match(out, /^HTTP\/1.1 413/);
    assert.match(out, /request\.body-too-large/);
    assert.equal(upstream.seen.length, seen);
  });

  it('replaceBody: the upstream gets the new body and content type; stale Content-Digest and Content-Length are not forwarded', async () => {
    const r = await send(gw.url, { method: 'POST', path: '/replace/x', headers: { 'content-type': 'application/jose', 'content-digest': 'sha-256=:AAAA:' }, body: 'secret' });
    assert.equal(r.status, 200);
    const seen = upstream.seen.at(-1)!;
    assert.equal(seen.body, 'SECRET!');
    assert.equal(seen.headers['content-type'], 'text/x-upper');
    assert.equal(seen.headers['content-length'], '7');
    assert.equal(seen.headers['content-digest'], undefined);
  });

  it('a response hook gets the whole upstream response and the client gets what it returns', async () => {
    const r = await send(gw.url, { path: '/hook/x' });
    assert.equal(r.status, 203);
    assert.ok(r.body.includes('"METHOD":"GET"'), r.body);
    assert.equal(r.headers['x-hooked'], String(Buffer.byteLength(r.body)));
    assert.equal(r.headers['x-upstream'], 'yes');
  });

  it('a failing response hook answers 500 internal and never relays the upstream response', async () => {
    const seen = upstream.seen.length;
    const r = await send(gw.url, { path: '/failing/x' });
    assert.equal(r.status, 500);
    assert.equal(problem(r).code, 'internal');
    assert.equal(r.headers['x-upstream'], undefined);
    assert.equal(upstream.seen.length, seen + 1, 'the upstream was called once');
  });

  it('a route without such steps forwards the body untouched', async () => {
    const r = await send(gw.url, { method: 'POST', path: '/plain/x', body: 'streamed' });
    assert.equal(r.status, 200);
    assert.equal(upstream.seen.at(-1)!.body, 'streamed');
  });

  it('a small body (≤ 64 KiB by Content-Length) is read whole first: a client stalling mid-body holds no upstream request', async () => {
    const before = upstream.seen.length;
    const sock = net.connect(gw.port, '127.0.0.1');
    let out = '';
    sock.on('data', (c: Buffer) => (out += c.toString('latin1')));
    await new Promise<void>((r) => sock.once('connect', () => r()));
    sock.write('POST /large/slow HTTP/1.1\r\nHost: x\r\nContent-Length: 20\r\nConnection: close\r\n\r\n0123456789');
    await new Promise((r) => setTimeout(r, 300));
    assert.equal(upstream.seen.length, before, 'the upstream was not contacted while the body was incomplete');
    sock.write('abcdefghij');
    await new Promise<void>((r) => sock.once('close', () => r()));
    assert.match(out, /^HTTP\/1.1 200/);
    assert.equal(upstream.seen.at(-1)!.body, '0123456789abcdefghij');
    assert.equal(upstream.seen.at(-1)!.headers['content-length'], '20');
  });

  it('a larger body streams: the upstream has the request while the client is still sending', async () => {
    const before = upstream.seen.length;
    const size = 200 * 1024;
    const sock = net.connect(gw.port, '127.0.0.1');
    let out = '';
    sock.on('data', (c: Buffer) => (out += c.toString('latin1')));
    await new Promise<void>((r) => sock.once('connect', () => r()));
    sock.write(`POST /large/stream HTTP/1.1\r\nHost: x\r\nContent-Length: ${size}\r\nConnection: close\r\n\r\n` + 'a'.repeat(size / 2));
    for (let i = 0; i < 100 && upstream.seen.length === before; i++) await new Promise((r) => setTimeout(r, 20));
    assert.equal(upstream.seen.length, before + 1, 'the upstream got the request before the body was complete');
    assert.equal(upstream.seen.at(-1)!.complete, false);
    sock.write('b'.repeat(size / 2));
    await new Promise<void>((r) => sock.once('close', () => r()));
    assert.match(out, /^HTTP\/1.1 200/);
    assert.equal(upstream.seen.at(-1)!.body.length, size);
  });
});
