/**
 * A streamed request body (above the buffering limit, or chunked) that has not all arrived
 * when the exchange ends: the upstream answered early without reading it (undici then drops
 * that upstream connection), or failed mid-body. undici has read part of the client's body
 * and stops, so Node neither discards the rest (it does for a request nobody read) nor closes:
 * the answer said `Connection: keep-alive` and the connection stalled until requestTimeout,
 * the client's next request on it left unanswered. The rest of the body cannot be read as
 * a request either way (llhttp frames it); the gateway now answers such an exchange with
 * `Connection: close` and closes, as it does for 408 and 413. Raw sockets on both sides.
 */
import assert from 'node:assert/strict';
import net from 'node:net';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { route, startGateway, type TestGateway } from './helpers.js';

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

describe('an exchange that ends before the streamed request body arrived', () => {
  /** Bytes each upstream connection received, in connection order. */
  const conns: string[] = [];
  const upSocks = new Set<net.Socket>();
  let upstream: net.Server;
  let gw: TestGateway;

  before(async () => {
    // answers each request as soon as its head arrives (keep-alive, body unread), or resets the connection mid-body
    upstream = net.createServer((s) => {
      upSocks.add(s);
      const i = conns.push('') - 1;
      let answered = false;
      s.on('error', () => {});
      s.on('close', () => upSocks.delete(s));
      s.on('data', (d: Buffer) => {
        conns[i] += d.toString('latin1');
        if (answered || !conns[i]!.includes('\r\n\r\n')) return;
        answered = true;
        if (conns[i]!.startsWith('POST /reset')) setTimeout(() => s.resetAndDestroy(), 50);
        else s.write('HTTP/1.1 403 Forbidden\r\ncontent-type: text/plain\r\ncontent-length: 6\r\n\r\ndenied');
      });
    });
    await new Promise<void>((r) => upstream.listen(0, '127.0.0.1', r));
    const url = `http://127.0.0.1:${(upstream.address() as AddressInfo).port}`;
    gw = await startGateway([route({ name: 'up', match: { pathPrefix: '/' }, upstream: url, timeout: '5s' })], { gateway: { connectionsPerUpstream: 1, requestTimeout: '30s' } });
  });
  after(async () => {
    await gw.close();
    for (const s of upSocks) s.destroy();
    await new Promise<void>((r) => upstream.close(() => r()));
  });

  /**
   * Sends `head` and part of a body, then (after the answer) the rest of it with a request
   * hidden in it and a real next request; returns what was read and whether the gateway
   * closed the connection within 1.5 s of the answer.
   */
  async function upload(head: string, first: string, rest: string): Promise<{ out: string; closed: boolean }> {
    const s = net.connect(gw.port, '127.0.0.1');
    let out = '';
    let closed = false;
    s.on('data', (c: Buffer) => (out += c.toString('latin1')));
    s.on('error', () => {});
    s.on('close', () => (closed = true));
    await new Promise((r) => s.once('connect', r));
    s.write(head + first);
    for (let i = 0; i < 40 && !out.includes('\r\n\r\n'); i++) await sleep(50);
    if (!closed) s.write(rest + 'GET /next HTTP/1.1\r\nHost: a\r\n\r\n');
    for (let i = 0; i < 30 && !closed; i++) await sleep(50);
    s.destroy();
    return { out, closed };
  }

  const hidden = 'GET /hidden HTTP/1.1\r\nHost: a\r\n\r\n';

  it('an early upstream answer to a Content-Length upload is relayed with Connection: close, and the connection closes', { timeout: 10_000 }, async () => {
    const before = conns.length;
    const { out, closed } = await upload(`POST /upload HTTP/1.1\r\nHost: a\r\nContent-Length: ${100_000 + hidden.length}\r\n\r\n`, 'A'.repeat(70_000), 'B'.repeat(30_000) + hidden);
    assert.match(out, /^HTTP\/1\.1 403 /, out);
    assert.match(out, /\r\nconnection: close\r\n/i, out);
    assert.doesNotMatch(out, /keep-alive/i);
    assert.equal(out.match(/HTTP\/1\.1 /g)!.length, 1, 'nothing after the rest of the body is answered on this connection');
    assert.ok(closed, 'the gateway closed the connection');
    // neither the hidden request nor the rest of the body reached the upstream as a request
    assert.ok(conns.slice(before).every((c) => !c.includes('/hidden') && !c.includes('/next')));
  });

  it('an early upstream answer to a chunked upload is relayed with Connection: close, and the connection closes', { timeout: 10_000 }, async () => {
    const { out, closed } = await upload('POST /upload HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n', '1000\r\n' + 'A'.repeat(4096) + '\r\n', hidden.length.toString(16) + '\r\n' + hidden + '\r\n0\r\n\r\n');
    assert.match(out, /^HTTP\/1\.1 403 /, out);
    assert.match(out, /\r\nconnection: close\r\n/i, out);
    assert.equal(out.match(/HTTP\/1\.1 /g)!.length, 1);
    assert.ok(closed, 'the gateway closed the connection');
  });

  it('an upstream that fails mid-body is answered 502 upstream.unavailable with Connection: close, and the connection closes', { timeout: 10_000 }, async () => {
    const { out, closed } = await upload(`POST /reset HTTP/1.1\r\nHost: a\r\nContent-Length: ${100_000 + hidden.length}\r\n\r\n`, 'A'.repeat(70_000), 'B'.repeat(30_000) + hidden);
    assert.match(out, /^HTTP\/1\.1 502 /, out);
    assert.match(out, /"code":"upstream.unavailable"/);
    assert.match(out, /cache-control: no-store/i);
    assert.match(out, /\r\nconnection: close\r\n/i, out);
    assert.equal(out.match(/HTTP\/1\.1 /g)!.length, 1);
    assert.ok(closed, 'the gateway closed the connection');
  });
});
