/**
 * Encrypted responses and content codings (RFC 9110 §8.4): the JWE carries the
 * representation's plaintext, never a compressed one, and the answer never carries the
 * upstream's Content-Encoding. The gateway asks the upstream for `identity`, decodes a
 * gzip/deflate/br body an upstream sends anyway, and fails closed (502) on a coding it
 * cannot decode.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createSecretKey, type KeyObject } from 'node:crypto';
import { brotliCompressSync, deflateSync, gzipSync } from 'node:zlib';
import { request } from 'node:http';
import { compactDecrypt } from 'jose';
import { startTestNode, testConfig, type TestNode } from '../support/portcullis.js';
import { createApp, type TestApp } from './message-policy-support.js';

const BODY = JSON.stringify({ hello: 'world', pad: 'x'.repeat(2000) });
let seen: IncomingHttpHeaders[] = [];
let upstream: Server;
let node: TestNode;
let app: TestApp;
let dirKey: { kid: string; key: KeyObject };

before(async () => {
  upstream = createServer((req, res) => {
    seen.push(req.headers);
    const wants = String(req.headers['accept-encoding'] ?? '');
    res.setHeader('content-type', 'application/json');
    if (req.url!.startsWith('/polite') && /gzip/.test(wants)) {
      res.setHeader('content-encoding', 'gzip');
      return res.end(gzipSync(BODY));
    }
    if (req.url!.startsWith('/stubborn/gzip')) {
      res.setHeader('content-encoding', 'gzip');
      return res.end(gzipSync(BODY));
    }
    if (req.url!.startsWith('/stubborn/br')) {
      res.setHeader('content-encoding', 'br');
      return res.end(brotliCompressSync(BODY));
    }
    if (req.url!.startsWith('/stubborn/deflate')) {
      res.setHeader('content-encoding', 'deflate');
      return res.end(deflateSync(BODY));
    }
    if (req.url!.startsWith('/stubborn/zstd-ish')) {
      res.setHeader('content-encoding', 'x-unknown');
      return res.end(Buffer.from('not decodable'));
    }
    if (req.url!.startsWith('/stubborn/not-gzip')) {
      res.setHeader('content-encoding', 'gzip');
      return res.end(Buffer.from('not gzip at all'));
    }
    res.end(BODY);
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
  app = await createApp(node, 'coding');
  const { key, secret } = await node.services.appEncryptionKeys.add(app.clientId, { type: 'symmetric', alg: 'dir' }, 'test');
  dirKey = { kid: key.kid, key: createSecretKey(Buffer.from(secret!.k!, 'base64url')) };
});
after(async () => {
  await node?.stop();
  upstream?.close();
});

/** A raw GET (no automatic decoding by the client), with the Accept-Encoding a browser sends. */
async function get(path: string): Promise<{ status: number; headers: IncomingHttpHeaders; body: Buffer }> {
  const token = await app.token();
  return new Promise((resolve, reject) => {
    const r = request(`${node.urls.gateway}${path}`, { headers: { authorization: `Bearer ${token}`, 'accept-encoding': 'gzip, deflate, br' } }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode!, headers: res.headers, body: Buffer.concat(chunks) }));
    });
    r.on('error', reject);
    r.end();
  });
}

async function decrypts(r: { status: number; headers: IncomingHttpHeaders; body: Buffer }): Promise<void> {
  assert.equal(r.status, 200, r.body.toString());
  assert.equal(r.headers['content-type'], 'application/jose');
  assert.equal(r.headers['content-encoding'], undefined, 'the JWE is not gzip');
  const { plaintext, protectedHeader } = await compactDecrypt(r.body.toString('latin1'), dirKey.key);
  assert.equal(protectedHeader.cty, 'application/json');
  assert.equal(new TextDecoder().decode(plaintext), BODY, 'the plaintext is the JSON, not compressed bytes');
}

test('encrypted response route: the upstream is asked for identity (the client\'s Accept-Encoding is not passed on), so a compressing upstream answers plain and the JWE decrypts to the JSON', async () => {
  seen = [];
  await decrypts(await get('/polite/x'));
  assert.equal(seen.at(-1)!['accept-encoding'], 'identity');
});

for (const coding of ['gzip', 'br', 'deflate']) {
  test(`attack on readability: an upstream that compresses anyway (${coding}) → decoded before encryption, no Content-Encoding on the JWE`, async () => {
    await decrypts(await get(`/stubborn/${coding}`));
  });
}

test('an upstream content coding the gateway cannot decode (unknown, or a body that is not what it says) → 502 upstream.content-coding, nothing encrypted', async () => {
  for (const path of ['/stubborn/zstd-ish', '/stubborn/not-gzip']) {
    const r = await get(path);
    assert.equal(r.status, 502, `${path}: ${JSON.stringify(r.headers)} ${r.body.toString()}`);
    assert.equal(JSON.parse(r.body.toString()).code, 'upstream.content-coding');
    assert.equal(r.headers['content-encoding'], undefined);
  }
});
