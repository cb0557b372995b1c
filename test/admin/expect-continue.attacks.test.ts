/**
 * Attack: Node answers `Expect: 100-continue` itself unless the server listens for
 * `checkContinue`, so the admin plane sent `100 Continue` before its onRequest checks ran:
 * a client without the admin token was invited to upload its body (up to the 256 KiB limit,
 * per request) before its 401. The plane now sends `100 Continue` only once the request
 * passed the checks that need no body (host, node stopping, admin token): a refused request
 * gets its problem+json answer instead, with `Connection: close` (the body it may still
 * send cannot be told from a next request). The right token still gets `100 Continue`.
 */
import assert from 'node:assert/strict';
import net from 'node:net';
import { after, before, describe, test } from 'node:test';
import { startTestNode, type TestNode } from './node.js';

/** Sends the head, then the body only after a 100 Continue; returns everything read until the server closes (or 2 s pass) and whether it closed. */
function expecting(port: number, head: string, body: string): Promise<{ out: string; closed: boolean }> {
  return new Promise((resolve) => {
    const s = net.connect(port, '127.0.0.1');
    let out = '';
    let sentBody = false;
    s.on('data', (c: Buffer) => {
      out += c.toString('latin1');
      if (!sentBody && out.startsWith('HTTP/1.1 100 Continue\r\n\r\n')) {
        sentBody = true;
        s.write(body);
      }
    });
    s.on('error', () => {});
    const timer = setTimeout(() => {
      s.destroy();
      resolve({ out, closed: false });
    }, 2000);
    s.on('end', () => {
      clearTimeout(timer);
      s.destroy();
      resolve({ out, closed: true });
    });
    s.write(head);
  });
}

function head(port: number, path: string, body: string, authorization?: string): string {
  return [`POST ${path} HTTP/1.1`, `Host: 127.0.0.1:${port}`, 'Expect: 100-continue', 'Content-Type: application/json', `Content-Length: ${Buffer.byteLength(body)}`, ...(authorization === undefined ? [] : [`Authorization: ${authorization}`]), '', ''].join('\r\n');
}

describe('admin plane: Expect: 100-continue', () => {
  let t: TestNode;
  let port: number;
  before(async () => {
    t = await startTestNode();
    port = Number(new URL(t.admin).port);
  });
  after(async () => {
    await t.close();
  });

  test('attack: no admin token or a wrong one → 401 admin.unauthorized (problem+json), no 100 Continue first, Connection: close; nothing created', async () => {
    const body = JSON.stringify({ name: 'uninvited', audiences: ['api'], scopes: [] });
    for (const authorization of [undefined, 'Bearer wrong-token-wrong-token-wrong-token-x']) {
      const { out, closed } = await expecting(port, head(port, '/v1/apps', body, authorization), body);
      assert.ok(!out.includes('100 Continue'), out);
      assert.match(out, /^HTTP\/1\.1 401 /, out);
      assert.match(out, /\r\ncontent-type: application\/problem\+json/i, out);
      assert.match(out, /"code":"admin\.unauthorized"/, out);
      assert.match(out, /\r\nconnection: close\r\n/i, out);
      assert.ok(closed, 'the server closed the connection');
    }
    const apps = await t.api('/v1/apps');
    assert.ok(!JSON.stringify(apps.body).includes('uninvited'));
  });

  test('the admin token → 100 Continue, then the body is read and the call works', async () => {
    const body = JSON.stringify({ name: 'invited', audiences: ['api'], scopes: [] });
    const { out } = await expecting(port, head(port, '/v1/apps', body, `Bearer ${t.adminToken}`), body);
    assert.match(out, /^HTTP\/1\.1 100 Continue\r\n\r\nHTTP\/1\.1 201 /, out);
    assert.match(out, /"name":"invited"/, out);
  });

  test('the admin token but a Content-Length above the body limit → 413 request.body-too-large, no 100 Continue, Connection: close', async () => {
    const h = head(port, '/v1/apps', '', `Bearer ${t.adminToken}`).replace('Content-Length: 0', 'Content-Length: 300000');
    const { out, closed } = await expecting(port, h, 'x'.repeat(300_000));
    assert.ok(!out.includes('100 Continue'), out);
    assert.match(out, /^HTTP\/1\.1 413 /, out);
    assert.match(out, /"code":"request\.body-too-large"/, out);
    assert.match(out, /\r\nconnection: close\r\n/i, out);
    assert.ok(closed);
  });

  test('an open route (no token needed) still gets 100 Continue', async () => {
    const { out } = await expecting(port, head(port, '/healthz', '{}'), '{}');
    assert.match(out, /^HTTP\/1\.1 100 Continue\r\n\r\nHTTP\/1\.1 /, out);
  });
});
