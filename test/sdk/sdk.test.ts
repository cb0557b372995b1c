/**
 * The SDK (`portcullis/sdk`): requests signed by `createSignedFetch` verify in
 * Portcullis's verifier and in http-message-signatures, across a real socket; signed
 * responses verify (and unbound or tampered ones do not); `getToken` against a real
 * node caches until shortly before expiry; and nothing it loads imports `node:*`.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { KeyObject, generateKeyPairSync } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createVerifier, httpbis } from 'http-message-signatures';
import { PortcullisError } from '../../src/core/errors.js';
import { contentDigestChecker } from '../../src/signatures/content-digest.js';
import { nodeHasherFactory } from '../../src/http/content-digest-node.js';
import { importParams } from '../../src/signatures/algorithms.js';
import { signMessage } from '../../src/signatures/sign.js';
import { SignatureVerifier } from '../../src/signatures/verify.js';
import { base64urlDecode, clearTokenCache, createSignedFetch, getToken, requestOf, TokenError, verifyResponse } from '../../src/sdk/index.js';
import { startTestNode, type TestNode } from '../support/portcullis.js';

interface Seen {
  method: string;
  url: string;
  headers: IncomingHttpHeaders;
  body: Buffer;
}

let server: Server;
let base: string;
const seen: Seen[] = [];
before(async () => {
  server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      seen.push({ method: req.method!, url: base + req.url!, headers: req.headers, body: Buffer.concat(chunks) });
      res.end('{}');
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
after(() => server.close());

const flat = (h: IncomingHttpHeaders) => Object.fromEntries(Object.entries(h).map(([k, v]) => [k, Array.isArray(v) ? v.join(', ') : String(v)]));
const code = (c: string) => (e: unknown) => e instanceof PortcullisError && e.code === c;

describe('createSignedFetch', () => {
  test('HMAC secret: a POST arrives with Content-Digest and a signature (created, nonce, keyid) that SignatureVerifier and http-message-signatures both verify', async () => {
    const secret = Buffer.alloc(32, 7);
    const signedFetch = createSignedFetch({ keyid: 'app1.k1', hmacSecret: secret.toString('base64url') });
    const body = JSON.stringify({ order: 42 });
    const res = await signedFetch(`${base}/orders?x=1`, { method: 'POST', body, headers: { 'content-type': 'application/json' } });
    assert.equal(res.status, 200);
    assert.ok(requestOf(res), 'the signed request is remembered for verifyResponse');
    const got = seen.at(-1)!;
    assert.equal(got.body.toString(), body);
    assert.match(String(got.headers['signature-input']), /^sig1=\("@method" "@target-uri" "content-digest"\);created=\d+;keyid="app1.k1";nonce="[A-Za-z0-9_-]{22}"$/);

    const check = contentDigestChecker(String(got.headers['content-digest']), nodeHasherFactory);
    check.update(got.body);
    await check.finish();

    const key = await crypto.subtle.importKey('raw', secret, importParams('hmac-sha256'), false, ['verify']);
    const verifier = new SignatureVerifier({ keyLookup: (kid) => (kid === 'app1.k1' ? { key, alg: 'hmac-sha256' } : undefined), requiredComponents: ['@method', '@target-uri', 'content-digest'], requireNonce: true, maxAge: 60 });
    const v = await verifier.verify({ method: got.method, url: got.url, headers: got.headers });
    assert.equal(v.keyid, 'app1.k1');

    const keyLookup = async (p: { keyid?: string }) => (p.keyid === 'app1.k1' ? { id: 'app1.k1', algs: ['hmac-sha256' as const], verify: createVerifier(secret, 'hmac-sha256') } : null);
    assert.equal(await httpbis.verifyMessage({ keyLookup }, { method: got.method, url: got.url, headers: flat(got.headers) }), true);

    // attack: the same signature on another method does not verify
    await assert.rejects(verifier.verify({ method: 'PUT', url: got.url, headers: got.headers }), code('signature.invalid'));
  });

  test('every request gets a fresh nonce; a GET has no body and so no Content-Digest', async () => {
    const f = createSignedFetch({ keyid: 'k', hmacSecret: Buffer.alloc(32, 1).toString('base64url') });
    await f(`${base}/a`);
    await f(`${base}/a`);
    const [a, b] = seen.slice(-2);
    const nonce = (h: IncomingHttpHeaders) => /nonce="([^"]+)"/.exec(String(h['signature-input']))![1];
    assert.notEqual(nonce(a!.headers), nonce(b!.headers));
    assert.equal(a!.headers['content-digest'], undefined);
    assert.match(String(a!.headers['signature-input']), /^sig1=\("@method" "@target-uri"\);/);
  });

  test('Ed25519 CryptoKey with extra components: verified by http-message-signatures; a changed body fails the digest', async () => {
    const pair = (await crypto.subtle.generateKey({ name: 'Ed25519' }, true, ['sign', 'verify'])) as CryptoKeyPair;
    const f = createSignedFetch({ keyid: 'ed', key: pair.privateKey, alg: 'ed25519', components: ['@method', '@target-uri', 'content-type'], token: () => 'tok-1' });
    await f(`${base}/e`, { method: 'PUT', body: 'hello', headers: { 'content-type': 'text/plain' } });
    const got = seen.at(-1)!;
    assert.equal(got.headers.authorization, 'Bearer tok-1');
    assert.match(String(got.headers['signature-input']), /^sig1=\("@method" "@target-uri" "content-type" "content-digest"\)/);
    const keyLookup = async () => ({ id: 'ed', algs: ['ed25519' as const], verify: createVerifier(KeyObject.from(pair.publicKey), 'ed25519') });
    assert.equal(await httpbis.verifyMessage({ keyLookup }, { method: got.method, url: got.url, headers: flat(got.headers) }), true);
    const check = contentDigestChecker(String(got.headers['content-digest']), nodeHasherFactory);
    check.update(Buffer.from('hellO'));
    await assert.rejects(check.finish(), code('digest.mismatch'));
  });

  test('@target-uri is what fetch sends: a URL ending in an empty query ("?") verifies against the request as received', async () => {
    const secret = Buffer.alloc(32, 3);
    const f = createSignedFetch({ keyid: 'q', hmacSecret: secret.toString('base64url') });
    const key = await crypto.subtle.importKey('raw', secret, importParams('hmac-sha256'), false, ['verify']);
    const verifier = new SignatureVerifier({ keyLookup: () => ({ key, alg: 'hmac-sha256' }), requiredComponents: ['@method', '@target-uri'] });
    for (const path of ['/q?', '/q/../r?#frag', '/q?a=1&b=', '/q??']) {
      await f(`${base}${path}`);
      const got = seen.at(-1)!;
      const v = await verifier.verify({ method: got.method, url: got.url, headers: got.headers }).then(() => 'ok', (e: PortcullisError) => e.code);
      assert.equal(v, 'ok', `${path} arrived as ${got.url}`);
    }
  });

  test('misuse: no key, both key and secret, or an HMAC secret with another alg is a TypeError', () => {
    assert.throws(() => createSignedFetch({ keyid: 'k' }), TypeError);
    assert.throws(() => createSignedFetch({ keyid: 'k', hmacSecret: 'AA', key: {} as CryptoKey, alg: 'hmac-sha256' }), TypeError);
    assert.throws(() => createSignedFetch({ keyid: 'k', hmacSecret: 'AA', alg: 'ed25519' }), TypeError);
  });

  test('misuse: an HMAC secret that is not base64url (a bad character, or a length of 1 mod 4) is a TypeError from createSignedFetch, never a DOMException', () => {
    const notBase64url = (e: unknown) => e instanceof TypeError && e.message === 'not a base64url string';
    for (const bad of ['AAAAA', 'A', 'AA+A', 'AA==']) {
      assert.throws(() => base64urlDecode(bad), notBase64url, bad);
      assert.throws(() => createSignedFetch({ keyid: 'k', hmacSecret: bad }), notBase64url, bad);
    }
    assert.deepEqual([...base64urlDecode('AAAA')], [0, 0, 0]);
    assert.deepEqual([...base64urlDecode('_-8')], [0xff, 0xef]);
  });
});

describe('verifyResponse', () => {
  const { publicKey, privateKey } = generateKeyPairSync('ed25519');
  const jwks = { keys: [{ ...(publicKey.export({ format: 'jwk' }) as object), kid: 'resp-1', alg: 'EdDSA', use: 'sig' }] as unknown as Array<{ kty: string; kid: string }> };

  async function signedRequest() {
    const f = createSignedFetch({ keyid: 'k', hmacSecret: Buffer.alloc(32, 2).toString('base64url'), fetch: async () => new Response('x') });
    const res = await f('https://api.example/orders', { method: 'POST', body: '{}' });
    return requestOf(res)!;
  }

  async function signedResponse(request: Request, body: string, components: string[]): Promise<Response> {
    const headers = new Headers({ 'content-type': 'application/json', 'content-digest': `sha-256=:${Buffer.from(await crypto.subtle.digest('SHA-256', Buffer.from(body))).toString('base64')}:` });
    const key = await crypto.subtle.importKey('jwk', privateKey.export({ format: 'jwk' }) as JsonWebKey, importParams('ed25519'), false, ['sign']);
    const s = await signMessage({ status: 200, headers }, { key, alg: 'ed25519', keyid: 'resp-1', components, request: { method: request.method, url: request.url, headers: request.headers } });
    headers.set('signature-input', s.signatureInput);
    headers.set('signature', s.signature);
    return new Response(body, { status: 200, headers });
  }

  test('a response signed over @status, content-digest and the request signature (req) verifies and returns the body', async () => {
    const request = await signedRequest();
    const res = await signedResponse(request, '{"ok":true}', ['@status', 'content-digest', '"signature";req;key="sig1"']);
    const v = await verifyResponse(res, { keys: jwks, request });
    assert.equal(v.keyid, 'resp-1');
    assert.equal(Buffer.from(v.body).toString(), '{"ok":true}');
  });

  test('attack: a response not bound to the signed request (no ;req component) fails with signature.component-missing', async () => {
    const request = await signedRequest();
    const res = await signedResponse(request, '{}', ['@status', 'content-digest']);
    await assert.rejects(verifyResponse(res, { keys: jwks, request }), code('signature.component-missing'));
  });

  test('attack: a response covering only some ;req component ("@method";req), not the request signature, is signature.component-missing', async () => {
    const request = await signedRequest();
    const res = await signedResponse(request, '{}', ['@status', 'content-digest', '"@method";req', '"@target-uri";req']);
    await assert.rejects(verifyResponse(res, { keys: jwks, request }), code('signature.component-missing'));
    const otherLabel = await signedResponse(request, '{}', ['@status', 'content-digest', '"signature";req;key="sig1"', '"signature-input";req']);
    assert.equal((await verifyResponse(otherLabel, { keys: jwks, request })).keyid, 'resp-1');
  });

  test('a JWKS that cannot be fetched (500, not JSON, network error) is a PortcullisError unavailable, failing closed', async () => {
    const request = await signedRequest();
    const res = await signedResponse(request, '{}', ['@status', 'content-digest', '"signature";req;key="sig1"']);
    const answers: Array<() => Promise<Response>> = [async () => new Response('down', { status: 500 }), async () => new Response('<html>', { status: 200 }), async () => Promise.reject(new TypeError('fetch failed'))];
    for (const [i, answer] of answers.entries()) {
      await assert.rejects(verifyResponse(res.clone(), { jwksUrl: `https://jwks-${i}.example/jwks`, fetch: answer as typeof fetch, request }), code('unavailable'));
    }
  });

  test('attack: a failing JWKS is not fetched once per verification: after a failure calls fail fast with unavailable for a back-off (1 s, doubling), a success resets it', async () => {
    const request = await signedRequest();
    const res = await signedResponse(request, '{}', ['@status', 'content-digest', '"signature";req;key="sig1"']);
    let calls = 0;
    let up = false;
    let now = 1_000_000;
    const jwksFetch = (async () => {
      calls++;
      return up ? Response.json(jwks) : new Response('down', { status: 503 });
    }) as typeof fetch;
    const opts = { jwksUrl: 'https://jwks-backoff.example/jwks', fetch: jwksFetch, now: () => now, request };
    const verify = () => verifyResponse(res.clone(), opts);
    for (let i = 0; i < 5; i++) await assert.rejects(verify(), code('unavailable'));
    await Promise.all([1, 2, 3].map(() => assert.rejects(verify(), code('unavailable'))));
    assert.equal(calls, 1, 'one JWKS request, then fail fast within the back-off');
    now += 999;
    await assert.rejects(verify(), code('unavailable'));
    assert.equal(calls, 1);
    now += 1;
    await assert.rejects(verify(), code('unavailable'));
    assert.equal(calls, 2, 'after 1 s, one new request');
    now += 1_999;
    await assert.rejects(verify(), code('unavailable'));
    assert.equal(calls, 2, 'the second failure doubles the back-off');
    now += 1;
    up = true;
    assert.equal((await verify()).keyid, 'resp-1');
    assert.equal(calls, 3);
    // the keys are cached; an unknown keyid refetches at most once per minRefreshMs (30 s)
    const otherKid = await signedResponse(request, '{}', ['@status', 'content-digest', '"signature";req;key="sig1"']);
    otherKid.headers.set('signature-input', otherKid.headers.get('signature-input')!.replace('keyid="resp-1"', 'keyid="nope"'));
    for (let i = 0; i < 3; i++) await assert.rejects(verifyResponse(otherKid.clone(), opts), code('signature.unknown-key'));
    assert.equal(calls, 3, 'an unknown keyid right after a fetch does not refetch');
    now += 30_000;
    for (let i = 0; i < 3; i++) await assert.rejects(verifyResponse(otherKid.clone(), opts), code('signature.unknown-key'));
    assert.equal(calls, 4, 'one refetch per interval for an unknown keyid');
  });

  test('attack: a response signed for another request fails with signature.invalid; a changed body with digest.mismatch', async () => {
    const request = await signedRequest();
    const other = await signedRequest();
    const res = await signedResponse(request, '{}', ['@status', 'content-digest', '"signature";req;key="sig1"']);
    await assert.rejects(verifyResponse(res, { keys: jwks, request: other }), code('signature.invalid'));
    const good = await signedResponse(request, '{"a":1}', ['@status', 'content-digest', '"signature";req;key="sig1"']);
    const swapped = new Response('{"a":2}', { status: 200, headers: good.headers });
    await assert.rejects(verifyResponse(swapped, { keys: jwks, request }), code('digest.mismatch'));
  });
});

describe('getToken against a real node', () => {
  let node: TestNode;
  before(async () => {
    node = await startTestNode();
  });
  after(() => node.stop());

  test('client credentials: one request, then the cached token until shortly before expiry; a wrong secret is a TokenError (invalid_client)', async () => {
    const { app, clientSecret } = await node.services.apps.create({ name: 'sdk-client', audiences: ['orders-api'], scopes: ['orders:read'] }, 'test');
    let calls = 0;
    let now = Date.now();
    const counting: typeof fetch = (input, init) => {
      calls++;
      return fetch(input, init);
    };
    const opts = { tokenUrl: `${node.urls.identity}/oauth2/token`, clientId: app.clientId, clientSecret: clientSecret!, scope: 'orders:read', resource: 'orders-api', fetch: counting, now: () => now };
    clearTokenCache();
    const [t1, t2] = await Promise.all([getToken(opts), getToken(opts)]);
    assert.equal(calls, 1, 'concurrent callers share one request');
    assert.equal(t1, t2);
    const claims = JSON.parse(Buffer.from(t1.split('.')[1]!, 'base64url').toString()) as { exp: number; iat: number; aud: string | string[]; client_id: string };
    assert.equal(claims.client_id, app.clientId);
    assert.deepEqual([claims.aud].flat(), ['orders-api']);

    now += 10_000;
    assert.equal(await getToken(opts), t1);
    assert.equal(calls, 1);
    now = claims.exp * 1000 - 29_000; // inside the 30 s renewal margin
    const t3 = await getToken(opts);
    assert.equal(calls, 2);
    assert.notEqual(t3, t1);

    await assert.rejects(getToken({ ...opts, clientSecret: 'wrong' }), (e: unknown) => e instanceof TokenError && e.status === 401 && e.error === 'invalid_client');
  });

  test('end to end: an HMAC key added for the app signs through createSignedFetch and verifies with the node lookup', async () => {
    const { app } = await node.services.apps.create({ name: 'sdk-signer', audiences: ['api'], scopes: [] }, 'test');
    const { key, secret } = await node.services.appSigningKeys.add(app.clientId, { type: 'hmac' }, 'test');
    await createSignedFetch({ keyid: key.keyid, hmacSecret: secret! })(`${base}/e2e`, { method: 'POST', body: 'x' });
    const got = seen.at(-1)!;
    const verifier = new SignatureVerifier({ keyLookup: (kid) => (kid ? node.services.appSigningKeys.lookup(kid) : undefined), requiredComponents: ['@method', '@target-uri', 'content-digest'], requireNonce: true });
    assert.equal((await verifier.verify({ method: got.method, url: got.url, headers: got.headers })).keyid, key.keyid);
  });
});

test('web-standard only: nothing src/sdk/index.ts loads (transitively, within src/) imports node:*', () => {
  const root = resolve(dirname(fileURLToPath(import.meta.url)), '../../src');
  const seenFiles = new Set<string>();
  const offenders: string[] = [];
  const visit = (file: string) => {
    if (seenFiles.has(file)) return;
    seenFiles.add(file);
    const text = readFileSync(file, 'utf8');
    for (const m of text.matchAll(/(?:import|export)\s[^'"]*?from\s+['"]([^'"]+)['"]|import\(\s*['"]([^'"]+)['"]\s*\)/g)) {
      const spec = (m[1] ?? m[2])!;
      if (spec.startsWith('node:') && !/^import type|^export type/.test(m[0])) offenders.push(`${file.slice(root.length)} → ${spec}`);
      if (spec.startsWith('.')) visit(resolve(dirname(file), spec.replace(/\.js$/, '.ts')));
    }
  };
  visit(resolve(root, 'sdk/index.ts'));
  assert.ok(seenFiles.size > 5);
  assert.deepEqual(offenders, []);
  // nor uses a Node-only global (test/sdk/sdk.browser.test.ts runs the SDK in Chromium)
  const globals: string[] = [];
  for (const file of seenFiles) {
    const code = readFileSync(file, 'utf8').replace(/\/\*[\s\S]*?\*\//g, '').replace(/^\s*\/\/.*$/gm, '');
    for (const m of code.matchAll(/(?<![.\w$])(Buffer|process|setImmediate|__dirname|__filename|require)\b(?=\s*[.(])/g)) globals.push(`${file.slice(root.length)} → ${m[1]}`);
  }
  assert.deepEqual(globals, []);
});
