/**
 * Signed responses and content coding (review #6): a client's fetch decodes gzip, so a
 * Content-Digest over gzip bytes never verifies in the SDK. The gateway asks the
 * upstream for `identity` on routes that sign responses and decodes an upstream that
 * codes anyway; a coding it does not know is 502 `upstream.content-coding`.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { brotliCompressSync, deflateSync, gzipSync } from 'node:zlib';
import { generateKeyPairSync } from 'node:crypto';
import { responseSigningStep } from '../../src/gateway/response-signing.js';
import { verifyResponse, type PublicJwk } from '../../src/sdk/index.js';
import { route, startGateway, startUpstream, type TestGateway, type Upstream } from './helpers.js';

const json = JSON.stringify({ balance: 42, pad: 'x'.repeat(300) });
const rsKey = generateKeyPairSync('ec', { namedCurve: 'P-256' });
const keys = { keys: [{ ...rsKey.publicKey.export({ format: 'jwk' }), kid: 'gw1', alg: 'ES256', use: 'sig' } as PublicJwk] };

let honours: Upstream;
let ignores: Upstream;
let gw: TestGateway;
/** What the upstream that ignores Accept-Encoding codes its answers with (`x-coding` request header). */
const CODERS: Record<string, (b: string) => Buffer> = { gzip: (b) => gzipSync(b), deflate: (b) => deflateSync(b), br: (b) => brotliCompressSync(b), 'gzip, br': (b) => brotliCompressSync(gzipSync(b)), compress: (b) => Buffer.from(b) };

before(async () => {
  honours = await startUpstream((req, res) =>
    req
      .on('end', () => {
        const gz = /gzip/.test(String(req.headers['accept-encoding']));
        const body = gz ? gzipSync(json) : Buffer.from(json);
        res.writeHead(200, { 'content-type': 'application/json', ...(gz ? { 'content-encoding': 'gzip' } : {}), 'content-length': body.length });
        res.end(body);
      })
      .resume(),
  );
  ignores = await startUpstream((req, res) =>
    req
      .on('end', () => {
        const coding = String(req.headers['x-coding'] ?? 'gzip');
        const body = CODERS[coding]!(json);
        res.writeHead(200, { 'content-type': 'application/json', 'content-encoding': coding, 'content-length': body.length, etag: '"coded"' });
        res.end(body);
      })
      .resume(),
  );
  const routes = [
    route({ name: 'honours', match: { pathPrefix: '/honours' }, upstream: honours.url, signResponses: true }),
    route({ name: 'ignores', match: { pathPrefix: '/ignores' }, upstream: ignores.url, signResponses: true }),
  ];
  gw = await startGateway(routes, { steps: (r) => (r.signResponses ? [responseSigningStep({ keys: { signingKey: () => ({ kid: 'gw1', alg: 'ES256', privateKey: rsKey.privateKey }) }, clock: { now: () => Date.now() } })] : []) });
});
after(async () => {
  await gw.close();
  await honours.close();
  await ignores.close();
});

describe('signed responses are sent without content coding, so verifyResponse checks what fetch hands over', () => {
  test('an upstream that honours Accept-Encoding is asked for identity (the client asked for gzip): the response verifies', async () => {
    const request = new Request(`${gw.url}/honours/acct`, { headers: { 'accept-encoding': 'gzip, deflate, br' } });
    const res = await fetch(request.clone());
    assert.equal(res.status, 200);
    assert.equal(honours.seen.at(-1)!.headers['accept-encoding'], 'identity');
    assert.equal(res.headers.get('content-encoding'), null);
    const v = await verifyResponse(res, { ...keys, request });
    assert.equal(v.keyid, 'gw1');
    assert.equal(new TextDecoder().decode(v.body), json);
  });

  for (const coding of ['gzip', 'deflate', 'br', 'gzip, br']) {
    test(`an upstream that codes with ${coding} anyway is decoded before signing: the response verifies, no stale Content-Length/ETag`, async () => {
      const request = new Request(`${gw.url}/ignores/acct`, { headers: { 'x-coding': coding } });
      const res = await fetch(request.clone());
      assert.equal(res.status, 200);
      assert.equal(res.headers.get('content-encoding'), null);
      assert.equal(res.headers.get('etag'), null);
      assert.equal(res.headers.get('content-length'), String(Buffer.byteLength(json)));
      const v = await verifyResponse(res, { ...keys, request });
      assert.equal(new TextDecoder().decode(v.body), json);
    });
  }

  test('HEAD on a route whose upstream codes anyway: 200, signed over the empty content, not a 502 for decoding nothing', async () => {
    const request = new Request(`${gw.url}/ignores/acct`, { method: 'HEAD', headers: { 'x-coding': 'gzip' } });
    const res = await fetch(request.clone());
    assert.equal(res.status, 200);
    assert.equal(res.headers.get('content-encoding'), null);
    assert.equal(res.headers.get('etag'), null);
    const v = await verifyResponse(res, { ...keys, request });
    assert.equal(v.body.byteLength, 0);
  });

  test('a coding the gateway cannot decode is 502 upstream.content-coding, not a signature over bytes the client never sees', async () => {
    const res = await fetch(`${gw.url}/ignores/acct`, { headers: { 'x-coding': 'compress' } });
    assert.equal(res.status, 502);
    assert.equal((await res.json()).code, 'upstream.content-coding');
    assert.equal(res.headers.get('signature'), null);
  });
});
