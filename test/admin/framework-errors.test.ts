/**
 * Requests fastify refuses before routing (bad percent-encoding, an over-long path
 * parameter), and those Node's HTTP parser refuses before a request exists (headers or
 * a URL over the size limit, a request line that is not HTTP), get the same problem+json
 * answer and typed code as every other error, not fastify's own JSON.
 */
import assert from 'node:assert/strict';
import { connect } from 'node:net';
import { after, before, describe, test } from 'node:test';
import { startTestNode, type TestNode } from './node.js';

describe('admin API: errors raised by the framework before routing', () => {
  let t: TestNode;
  before(async () => {
    t = await startTestNode();
  });
  after(async () => {
    await t.close();
  });

  test('GET /v1/apps/%ZZ (bad percent-encoding) → 400 problem+json request.malformed with nosniff', async () => {
    const r = await t.api('/v1/apps/%ZZ');
    assert.equal(r.status, 400);
    assert.match(r.headers.get('content-type') ?? '', /^application\/problem\+json/);
    assert.equal(r.body.code, 'request.malformed');
    assert.equal(r.headers.get('x-content-type-options'), 'nosniff');
    assert.doesNotMatch(JSON.stringify(r.body), /FST_/);
  });

  test('GET /v1/apps/<300 characters> (path parameter too long) → 414 problem+json request.malformed', async () => {
    const r = await t.api(`/v1/apps/${'a'.repeat(300)}`);
    assert.equal(r.status, 414);
    assert.match(r.headers.get('content-type') ?? '', /^application\/problem\+json/);
    assert.equal(r.body.code, 'request.malformed');
    assert.equal(r.headers.get('x-content-type-options'), 'nosniff');
    assert.doesNotMatch(JSON.stringify(r.body), /FST_/);
  });

  /** Writes raw bytes to the admin plane and reads the answer until the server closes the connection. */
  const raw = (bytes: string): Promise<string> =>
    new Promise((resolve, reject) => {
      const u = new URL(t.admin);
      const socket = connect(Number(u.port), u.hostname, () => socket.end(bytes));
      let text = '';
      socket.setEncoding('utf8');
      socket.on('data', (c: string) => (text += c));
      socket.on('close', () => resolve(text));
      socket.on('error', reject);
    });

  test('a URL over the header size limit → 431 problem+json request.headers-too-large, not fastify JSON', async () => {
    const r = await raw(`GET /v1/apps?after=${'x'.repeat(20_000)} HTTP/1.1\r\nHost: ${new URL(t.admin).host}\r\nAuthorization: Bearer ${t.adminToken}\r\n\r\n`);
    assert.match(r, /^HTTP\/1\.1 431 /);
    assert.match(r, /\r\ncontent-type: application\/problem\+json\r\n/i);
    const body = JSON.parse(r.slice(r.indexOf('\r\n\r\n') + 4));
    assert.equal(body.code, 'request.headers-too-large');
    assert.equal(body.status, 431);
  });

  test('a request line that is not HTTP → 400 problem+json request.malformed', async () => {
    const r = await raw('NOT HTTP AT ALL\r\n\r\n');
    assert.match(r, /^HTTP\/1\.1 400 /);
    const body = JSON.parse(r.slice(r.indexOf('\r\n\r\n') + 4));
    assert.equal(body.code, 'request.malformed');
  });
});
