/**
 * A plane (admin, identity: the fastify instance of createHttpServer) that is stopping
 * refuses a request that arrives on a kept-alive connection busy when the stop began
 * (sent once the response in flight is in, as a pool does) without running it, and says
 * so as every other error:
 * 503 problem+json `node.stopping`, `Cache-Control: no-store`, the security headers and
 * `Connection: close` — not fastify's own JSON body. The request in flight finishes.
 */
import assert from 'node:assert/strict';
import { connect } from 'node:net';
import type { AddressInfo } from 'node:net';
import { test } from 'node:test';
import { silentLogger } from '../../src/core/logger.js';
import { createHttpServer } from '../../src/http/server.js';

interface RawResponse {
  status: number;
  headers: Record<string, string>;
  body: string;
}

/** The responses in `text` (HTTP/1.1, each with Content-Length). */
function parseResponses(text: string): RawResponse[] {
  const out: RawResponse[] = [];
  let rest = text;
  while (rest.length > 0) {
    const end = rest.indexOf('\r\n\r\n');
    assert.ok(end > 0, `an incomplete response: ${JSON.stringify(rest)}`);
    const [statusLine, ...lines] = rest.slice(0, end).split('\r\n');
    const headers: Record<string, string> = {};
    for (const l of lines) headers[l.slice(0, l.indexOf(':')).toLowerCase()] = l.slice(l.indexOf(':') + 1).trim();
    const length = Number(headers['content-length']);
    out.push({ status: Number(statusLine!.split(' ')[1]), headers, body: rest.slice(end + 4, end + 4 + length) });
    rest = rest.slice(end + 4 + length);
  }
  return out;
}

for (const path of ['/ping', '/oauth2/token', '/no-such-path']) {
  test(`a request sent on a kept-alive connection after the response in flight when the plane stops (${path}) → 503 problem+json node.stopping, no-store, Connection: close`, async () => {
    const app = createHttpServer(silentLogger);
    let release!: () => void;
    const held = new Promise<void>((resolve) => (release = resolve));
    let entered!: () => void;
    const inFlight = new Promise<void>((resolve) => (entered = resolve));
    let ran = 0;
    app.get('/slow', async () => {
      entered();
      await held;
      return { ok: true };
    });
    app.get('/ping', async () => {
      ran++;
      return { pong: true };
    });
    app.post('/oauth2/token', async () => {
      ran++;
      return { access_token: 'x' };
    });
    await app.listen({ host: '127.0.0.1', port: 0 });
    const { port } = app.server.address() as AddressInfo;
    const socket = connect(port, '127.0.0.1');
    let text = '';
    socket.setEncoding('utf8');
    socket.on('data', (c: string) => (text += c));
    const ended = new Promise<void>((resolve, reject) => {
      socket.on('close', () => resolve());
      socket.on('error', reject);
    });
    const second = path === '/oauth2/token' ? `POST ${path} HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: 0\r\n\r\n` : `GET ${path} HTTP/1.1\r\nHost: x\r\n\r\n`;
    // the next request goes on the same connection as soon as the first response is in, as a pool sends it
    socket.on('data', () => {
      if (!sent && text.includes('{"ok":true}')) {
        sent = true;
        socket.write(second);
      }
    });
    let sent = false;
    socket.write('GET /slow HTTP/1.1\r\nHost: x\r\n\r\n');
    await inFlight;
    const closed = app.close();
    // the stop has begun (fastify marks itself closing at once); the request in flight then ends
    await new Promise((r) => setImmediate(r));
    release();
    await ended;
    await closed;
    const [first, refused] = parseResponses(text);
    assert.equal(first?.status, 200);
    assert.deepEqual(JSON.parse(first!.body), { ok: true });
    assert.ok(refused, `no second response: ${JSON.stringify(text)}`);
    assert.equal(refused.status, 503);
    assert.match(refused.headers['content-type'] ?? '', /^application\/problem\+json/);
    assert.equal(refused.headers['cache-control'], 'no-store');
    assert.equal(refused.headers['connection'], 'close');
    assert.equal(refused.headers['x-content-type-options'], 'nosniff');
    const body = JSON.parse(refused.body);
    assert.equal(body.code, 'node.stopping');
    assert.equal(body.type, 'urn:portcullis:error:node.stopping');
    assert.equal(body.status, 503);
    assert.match(body.detail, /stopping/);
    assert.equal(ran, 0, 'the refused request was not run');
  });
}
