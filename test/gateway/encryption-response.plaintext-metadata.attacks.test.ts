/**
 * An encrypted response hides its plaintext from every hop, so the fields that describe
 * the plaintext must go too: its validator (an ETag is often a hash of the body, as
 * express makes it), its digest (RFC 3230 `Digest`, RFC 9530 `Content-Digest`) and its
 * length. With them an observer confirms a guessed plaintext without the key. A response
 * without content (HEAD, 304) is not encrypted, but its fields describe the same plaintext.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, createSecretKey, type KeyObject } from 'node:crypto';
import { createServer, request, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { compactDecrypt } from 'jose';
import { startTestNode, testConfig, type TestNode } from '../support/portcullis.js';
import { createApp, type TestApp } from './message-policy-support.js';

const SECRET = JSON.stringify({ verdict: 'denied' });
/** An express-style weak ETag: the length and a SHA-1 of the body, so computable from a guess. */
const etagOf = (body: string) => `W/"${Buffer.byteLength(body).toString(16)}-${createHash('sha1').update(body).digest('base64').slice(0, 27)}"`;
const digestOf = (body: string) => `sha-256=${createHash('sha256').update(body).digest('base64')}`;

let upstream: Server;
let node: TestNode;
let app: TestApp;
let dirKey: KeyObject;

before(async () => {
  upstream = createServer((req, res) => {
    res.setHeader('content-type', 'application/json');
    res.setHeader('etag', etagOf(SECRET));
    res.setHeader('digest', digestOf(SECRET));
    res.setHeader('content-length', String(Buffer.byteLength(SECRET)));
    if (req.headers['if-none-match'] === etagOf(SECRET)) {
      res.statusCode = 304;
      res.removeHeader('content-length');
      return res.end();
    }
    res.end(req.method === 'HEAD' ? undefined : SECRET);
  });
  await new Promise<void>((r) => upstream.listen(0, '127.0.0.1', r));
  const url = `http://127.0.0.1:${(upstream.address() as AddressInfo).port}`;
  const tls = testConfig().includes('tls:') ? '' : 'tls: { mode: off }\n';
  node = await startTestNode({
    config: testConfig(`${tls}
routes:
  - name: encsym
    match: { pathPrefix: / }
    upstream: ${url}
    require:
      token: { audience: orders-api }
      encryption: { request: false, response: app-symmetric-key }
`),
  });
  app = await createApp(node, 'metadata');
  const { secret } = await node.services.appEncryptionKeys.add(app.clientId, { type: 'symmetric', alg: 'dir' }, 'test');
  dirKey = createSecretKey(Buffer.from(secret!.k!, 'base64url'));
});
after(async () => {
  await node?.stop();
  upstream?.close();
});

async function call(method: string, headers: Record<string, string> = {}): Promise<{ status: number; headers: IncomingHttpHeaders; body: Buffer }> {
  const token = await app.token();
  return new Promise((resolve, reject) => {
    const r = request(`${node.urls.gateway}/verdict`, { method, headers: { authorization: `Bearer ${token}`, ...headers } }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode!, headers: res.headers, body: Buffer.concat(chunks) }));
    });
    r.on('error', reject);
    r.end();
  });
}

function describesNoPlaintext(h: IncomingHttpHeaders): void {
  assert.equal(h['etag'], undefined, 'no ETag of the plaintext');
  assert.equal(h['digest'], undefined, 'no RFC 3230 Digest of the plaintext');
  assert.notEqual(h['content-length'], String(Buffer.byteLength(SECRET)), 'not the length of the plaintext');
}

test('attack: an encrypted GET answer carries no RFC 3230 Digest of its plaintext (a guess would be confirmed by hashing it)', async () => {
  const r = await call('GET');
  assert.equal(r.status, 200);
  assert.equal(r.headers['content-type'], 'application/jose');
  assert.equal(new TextDecoder().decode((await compactDecrypt(r.body.toString('latin1'), dirKey)).plaintext), SECRET);
  describesNoPlaintext(r.headers);
});

test('attack: HEAD on a response-encrypting route does not pass on the plaintext ETag, Digest or length that GET hides', async () => {
  const r = await call('HEAD');
  assert.equal(r.status, 200);
  describesNoPlaintext(r.headers);
});

test('attack: a guessed If-None-Match on GET is not passed on: the answer is the whole encrypted 200, never a 304 that confirms the guess', async () => {
  const r = await call('GET', { 'if-none-match': etagOf(SECRET) });
  assert.equal(r.status, 200);
  assert.equal(r.headers['content-type'], 'application/jose');
  describesNoPlaintext(r.headers);
});
