/**
 * `require.signature` through a whole node (real listeners, real app keys and
 * tokens): every named attack of issue 4 is refused with its exact code, audited as
 * `gateway.denied`, and nothing reaches the upstream; requests signed by the SDK and
 * by the `http-message-signatures` package pass; signed responses verify with the SDK.
 */
import { createHash, randomBytes } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createSigner, httpbis } from 'http-message-signatures';
import { contentDigest } from '../../src/signatures/content-digest.js';
import { signMessage } from '../../src/signatures/sign.js';
import { parseAcceptSignature, serializeComponentId, type SignatureRequest } from '../../src/signatures/signature-input.js';
import { createSignedFetch, requestOf, verifyResponse } from '../../src/sdk/index.js';
import { addSigningKey, createApp, sendSigned, startPolicyNode, type Answer, type PolicyNode, type TestApp, type TestSigningKey, auditMark, deniedSince } from './message-policy-support.js';

const ROUTES = `
  - name: sig
    match: { pathPrefix: /sig }
    upstream: UPSTREAM
    signResponses: true
    require:
      token: { audience: orders-api, scopes: [orders:write] }
      signature: {}
  - name: cover
    match: { pathPrefix: /cover }
    upstream: UPSTREAM
    require:
      token: { audience: orders-api }
      signature: { components: ['@method', '@target-uri', 'x-amount'] }
  - name: hmaconly
    match: { pathPrefix: /hmaconly }
    upstream: UPSTREAM
    require:
      signature: { algorithms: [hmac-sha256] }
  - name: fwd
    match: { pathPrefix: /fwd }
    upstream: UPSTREAM
    require:
      signature: { trustForwardedProto: true }
  - name: tagged
    match: { pathPrefix: /tagged }
    upstream: UPSTREAM
    require:
      signature: { tag: orders, nonce: false }
  - name: onesig
    match: { pathPrefix: /onesig }
    upstream: UPSTREAM
    require:
      signature: { maxSignatures: 1 }
  - name: nosig
    match: { pathPrefix: /plain }
    upstream: UPSTREAM
`;

let p: PolicyNode;
let app: TestApp;
let other: TestApp;
let hmac: TestSigningKey;
let ed: TestSigningKey;
let p256: TestSigningKey;
let otherKey: TestSigningKey;
let token: string;
const now = () => Math.floor(Date.now() / 1000);

before(async () => {
  // (route fwd's trustForwardedProto needs a trusted proxy: the test client plays it)
  p = await startPolicyNode(ROUTES, 'gateway: { trustedProxies: [127.0.0.1] }');
  app = await createApp(p.node, 'signer');
  other = await createApp(p.node, 'other');
  hmac = await addSigningKey(p.node, app.clientId, 'hmac-sha256');
  ed = await addSigningKey(p.node, app.clientId, 'ed25519');
  p256 = await addSigningKey(p.node, app.clientId, 'ecdsa-p256-sha256');
  otherKey = await addSigningKey(p.node, other.clientId, 'hmac-sha256');
  token = await app.token();
});
after(() => p.stop());

/** Sends, then asserts the denial: status, problem code, audit event, and an upstream that saw nothing. */
async function refused(send: () => Promise<Answer>, code: string, status = 401): Promise<void> {
  const seen = p.upstream.seen.length;
  const auditBefore = await auditMark(p.node);
  const r = await send();
  assert.equal(r.json?.code, code, `expected ${code}, got ${r.status} ${r.text}`);
  assert.equal(r.status, status);
  assert.equal(r.headers.get('content-type'), 'application/problem+json');
  assert.equal(p.upstream.seen.length, seen, 'the upstream saw nothing');
  assert.ok((await deniedSince(p.node, auditBefore)).some((e) => e.reason === code), `a gateway.denied audit event with reason ${code}`);
}

const body = JSON.stringify({ item: 'book', qty: 1 });

describe('signed requests that must pass', () => {
  for (const which of ['hmac', 'ed25519', 'p256'] as const) {
    test(`${which}: a signed POST with token and Content-Digest reaches the upstream with its body; Authorization and signature checks done`, async () => {
      const k = which === 'hmac' ? hmac : which === 'ed25519' ? ed : p256;
      const r = await sendSigned(p.gateway, { path: `/sig/orders?x=${which}`, body, token, headers: { 'content-type': 'application/json' }, sign: { key: k.key, alg: k.alg, keyid: k.keyid } });
      assert.equal(r.status, 200, r.text);
      const seen = p.upstream.seen.at(-1)!;
      assert.equal(seen.url, `/sig/orders?x=${which}`);
      assert.equal(seen.body, body);
      assert.equal(seen.headers['content-type'], 'application/json');
      assert.equal(seen.headers['x-portcullis-client-id'], app.clientId);
      assert.equal(seen.headers['authorization'], undefined);
    });
  }

  test('a sha-512 Content-Digest is accepted as well', async () => {
    const headers = { 'content-digest': `sha-512=:${createHash('sha512').update(body).digest('base64')}:` };
    const r = await sendSigned(p.gateway, { path: '/sig/sha512', body, token, headers, sign: { key: hmac.key, alg: hmac.alg, keyid: hmac.keyid } });
    assert.equal(r.status, 200, r.text);
    assert.equal(p.upstream.seen.at(-1)!.body, body);
  });

  test('a sha-256 Content-Digest whose base64 has non-zero spare bits names the same bytes and is accepted', async () => {
    const canonical = createHash('sha256').update(body).digest('base64');
    // 32 bytes leave 2 spare bits in the 43rd character: set them
    const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/';
    const last = alphabet[alphabet.indexOf(canonical[42]!) | 1]!;
    const loose = canonical.slice(0, 42) + last + '=';
    assert.notEqual(loose, canonical);
    assert.deepEqual(Buffer.from(loose, 'base64'), Buffer.from(canonical, 'base64'));
    const r = await sendSigned(p.gateway, { path: '/sig/loose', body, token, headers: { 'content-digest': `sha-256=:${loose}:` }, sign: { key: hmac.key, alg: hmac.alg, keyid: hmac.keyid } });
    assert.equal(r.status, 200, r.text);
  });

  test('a signed request with an empty body and the Content-Digest of the empty body passes', async () => {
    const r = await sendSigned(p.gateway, { path: '/sig/empty', method: 'POST', body: '', token, sign: { key: hmac.key, alg: hmac.alg, keyid: hmac.keyid } });
    assert.equal(r.status, 200, r.text);
  });

  test('a signed GET without a body needs no Content-Digest', async () => {
    const r = await sendSigned(p.gateway, { path: '/sig/orders/1', token, sign: { key: hmac.key, alg: hmac.alg, keyid: hmac.keyid } });
    assert.equal(r.status, 200, r.text);
  });

  test('the SDK createSignedFetch (token + HMAC) passes, and the signed response verifies with verifyResponse against /jwks, bound to the request', async () => {
    const signedFetch = createSignedFetch({ keyid: hmac.keyid, hmacSecret: hmac.secret!, token: () => token });
    const res = await signedFetch(`${p.gateway}/sig/sdk`, { method: 'POST', body, headers: { 'content-type': 'application/json' } });
    assert.equal(res.status, 200);
    assert.ok(res.headers.get('signature-input')!.includes('"signature";req;key="sig1"'), 'the response signature covers the request signature');
    const v = await verifyResponse(res, { jwksUrl: `${p.node.urls.identity}/jwks` });
    assert.equal(v.keyid, p.node.services.keys.signingKey().kid);
    assert.deepEqual(JSON.parse(new TextDecoder().decode(v.body)).body, body);
    // another signed response does not verify as the answer to this request
    const res2 = await signedFetch(`${p.gateway}/sig/sdk2`, { method: 'POST', body, headers: { 'content-type': 'application/json' } });
    await assert.rejects(verifyResponse(res2, { jwksUrl: `${p.node.urls.identity}/jwks`, request: requestOf(res)! }), (e: any) => e.code === 'signature.invalid');
  });

  test('a tampered signed response body fails verifyResponse (digest.mismatch)', async () => {
    const signedFetch = createSignedFetch({ keyid: hmac.keyid, hmacSecret: hmac.secret!, token: () => token });
    const res = await signedFetch(`${p.gateway}/sig/t`, { method: 'GET' });
    const forged = new Response('{"forged":true}', { status: res.status, headers: res.headers });
    await assert.rejects(verifyResponse(forged, { jwksUrl: `${p.node.urls.identity}/jwks`, request: requestOf(res)! }), (e: any) => e.code === 'digest.mismatch');
  });

  test('a request signed by the http-message-signatures package (HMAC, with nonce) passes', async () => {
    const url = `${p.gateway}/hmaconly/interop?a=1`;
    const headers: Record<string, string> = { 'content-type': 'application/json', 'content-digest': await contentDigest(new TextEncoder().encode(body)) };
    const signed = await httpbis.signMessage(
      { key: createSigner(hmac.nodeKey as Buffer, 'hmac-sha256', hmac.keyid), fields: ['@method', '@target-uri', 'content-digest'], name: 'theirs', params: ['created', 'keyid', 'nonce'], paramValues: { created: new Date(), nonce: 'interop-nonce-1' } },
      { method: 'POST', url, headers },
    );
    const res = await fetch(url, { method: 'POST', headers: signed.headers as Record<string, string>, body });
    assert.equal(res.status, 200, await res.clone().text());
    assert.equal(p.upstream.seen.at(-1)!.body, body);
  });

  test('@target-uri scheme: with trustForwardedProto the last X-Forwarded-Proto (https) of a trusted proxy is the scheme the client signed', async () => {
    const r = await sendSigned(p.gateway, { path: '/fwd/x', signAs: p.gateway.replace('http://', 'https://'), headers: { 'x-forwarded-proto': 'http, https' }, sign: { key: hmac.key, alg: hmac.alg, keyid: hmac.keyid } });
    assert.equal(r.status, 200, r.text);
  });

  test('routes without a signature requirement still stream as before', async () => {
    const res = await fetch(`${p.gateway}/plain/x`, { method: 'POST', body: 'streamed' });
    assert.equal(res.status, 200);
    assert.equal(res.headers.get('signature'), null);
    assert.equal(p.upstream.seen.at(-1)!.body, 'streamed');
  });
});

describe('attacks, each refused with its code before the upstream', () => {
  const h = () => ({ key: hmac.key, alg: hmac.alg, keyid: hmac.keyid });

  test('no signature at all: signature.missing', () => refused(() => sendSigned(p.gateway, { path: '/sig/a', token }), 'signature.missing'));

  test('tampered body (same Content-Digest): digest.mismatch', () =>
    refused(() => sendSigned(p.gateway, { path: '/sig/a', body, token, sign: h(), tamper: (r) => (r.body = body.replace('1', '9')) }), 'digest.mismatch', 400));

  test('tampered body with a recomputed Content-Digest: signature.invalid', () =>
    refused(
      () =>
        sendSigned(p.gateway, {
          path: '/sig/a',
          body,
          token,
          sign: h(),
          tamper: (r) => {
            r.body = '{"item":"car","qty":1}';
            r.headers['content-digest'] = 'sha-256=:' + require256(r.body) + ':';
          },
        }),
      'signature.invalid',
    ));

  test('a sha-512 member that does not match, beside a matching sha-256 one: digest.mismatch (every member must match)', () =>
    refused(
      () =>
        sendSigned(p.gateway, {
          path: '/sig/a',
          body,
          token,
          sign: h(),
          headers: { 'content-digest': `sha-256=:${createHash('sha256').update(body).digest('base64')}:, sha-512=:${createHash('sha512').update('other').digest('base64')}:` },
        }),
      'digest.mismatch',
      400,
    ));

  test('body dropped in transit (signed POST resent with Content-Length: 0, signed Content-Digest kept): digest.mismatch', () =>
    refused(() => sendSigned(p.gateway, { path: '/sig/a', body, token, sign: h(), tamper: (r) => (r.body = '') }), 'digest.mismatch', 400));

  test('body dropped in transit on a route without a token: digest.mismatch', () =>
    refused(() => sendSigned(p.gateway, { path: '/hmaconly/a', body, sign: h(), tamper: (r) => (r.body = undefined) }), 'digest.mismatch', 400));

  test('body without Content-Digest: digest.missing', () =>
    refused(() => sendSigned(p.gateway, { path: '/sig/a', body, token, sign: { ...h(), components: ['@method', '@target-uri'] }, tamper: (r) => delete r.headers['content-digest'] }), 'digest.missing', 400));

  test('tampered covered header: signature.invalid', () =>
    refused(() => sendSigned(p.gateway, { path: '/cover/a', token, headers: { 'x-amount': '10' }, sign: { ...h(), components: ['@method', '@target-uri', 'x-amount'] }, tamper: (r) => (r.headers['x-amount'] = '1000') }), 'signature.invalid'));

  test('tampered path: signature.invalid', () => refused(() => sendSigned(p.gateway, { path: '/sig/orders/1', token, sign: h(), tamper: (r) => (r.path = '/sig/orders/2') }), 'signature.invalid'));

  test('tampered query: signature.invalid', () => refused(() => sendSigned(p.gateway, { path: '/sig/orders?id=1', token, sign: h(), tamper: (r) => (r.path = '/sig/orders?id=2') }), 'signature.invalid'));

  test('tampered method: signature.invalid', () => refused(() => sendSigned(p.gateway, { path: '/sig/orders/1', method: 'GET', token, sign: h(), tamper: (r) => (r.method = 'DELETE') }), 'signature.invalid'));

  test('covered component removed from the message: signature.component-missing', () =>
    refused(() => sendSigned(p.gateway, { path: '/cover/a', token, headers: { 'x-amount': '10' }, sign: { ...h(), components: ['@method', '@target-uri', 'x-amount'] }, tamper: (r) => delete r.headers['x-amount'] }), 'signature.component-missing'));

  test('signature not covering the required set: signature.component-missing', () =>
    refused(() => sendSigned(p.gateway, { path: '/sig/a', token, sign: { ...h(), components: ['@method'] } }), 'signature.component-missing'));

  test('signature not covering a route-required header: signature.component-missing', () =>
    refused(() => sendSigned(p.gateway, { path: '/cover/a', token, headers: { 'x-amount': '10' }, sign: h() }), 'signature.component-missing'));

  test('created in the future: signature.not-yet-valid', () => refused(() => sendSigned(p.gateway, { path: '/sig/a', token, sign: { ...h(), created: now() + 120 } }), 'signature.not-yet-valid'));

  test('created too old: signature.expired', () => refused(() => sendSigned(p.gateway, { path: '/sig/a', token, sign: { ...h(), created: now() - 400 } }), 'signature.expired'));

  test('expires passed: signature.expired', () => refused(() => sendSigned(p.gateway, { path: '/sig/a', token, sign: { ...h(), created: now() - 100, expires: now() - 60 } }), 'signature.expired'));

  test('no nonce on a route that requires one: signature.parameter-missing', () =>
    refused(() => sendSigned(p.gateway, { path: '/sig/a', token, sign: { ...h(), nonce: undefined as unknown as string } }), 'signature.parameter-missing'));

  test('nonce replay: the identical signed request a second time is signature.replayed', async () => {
    let captured: { method: string; path: string; body: string | undefined; headers: Record<string, string> } | undefined;
    const first = await sendSigned(p.gateway, { path: '/sig/replay', body, token, sign: h(), tamper: (r) => (captured = structuredClone(r)) });
    assert.equal(first.status, 200);
    await refused(() => fetch(p.gateway + captured!.path, { method: captured!.method, headers: captured!.headers, body: captured!.body! }).then(toAnswer), 'signature.replayed');
  });

  /** A request signed twice (key rotation, RFC 9421 §4.3), each signature with its own nonce, as sent. */
  async function doublySigned(path: string): Promise<Record<string, string>> {
    const url = p.gateway + path;
    const headers: Record<string, string> = { authorization: `Bearer ${token}` };
    const a = await signMessage({ method: 'GET', url, headers }, { key: hmac.key, alg: hmac.alg, keyid: hmac.keyid, components: ['@method', '@target-uri'], nonce: randomBytes(12).toString('base64url'), label: 'sig1' });
    const b = await signMessage({ method: 'GET', url, headers }, { key: ed.key, alg: ed.alg, keyid: ed.keyid, components: ['@method', '@target-uri'], nonce: randomBytes(12).toString('base64url'), label: 'sig2' });
    return { ...headers, 'signature-input': `${a.signatureInput}, ${b.signatureInput}`, signature: `${a.signature}, ${b.signature}` };
  }
  const sendRaw = (path: string, headers: Record<string, string>) => fetch(p.gateway + path, { headers }).then(toAnswer);

  test('nonce replay with two valid signatures: the replay with the first signature broken is signature.replayed (every known-key nonce is spent)', async () => {
    const headers = await doublySigned('/sig/rotate');
    assert.equal((await sendRaw('/sig/rotate', headers)).status, 200);
    const broken = { ...headers, signature: headers.signature!.replace(/^sig1=:[^:]+:/, `sig1=:${Buffer.alloc(32).toString('base64')}:`) };
    await refused(() => sendRaw('/sig/rotate', broken), 'signature.replayed');
  });

  test('nonce replay with two valid signatures: the replay with the labels reordered is signature.replayed', async () => {
    const headers = await doublySigned('/sig/rotate2');
    assert.equal((await sendRaw('/sig/rotate2', headers)).status, 200);
    const [i1, i2] = headers['signature-input']!.split(/, (?=sig2=)/);
    const [s1, s2] = headers.signature!.split(/, (?=sig2=)/);
    await refused(() => sendRaw('/sig/rotate2', { ...headers, 'signature-input': `${i2}, ${i1}`, signature: `${s2}, ${s1}` }), 'signature.replayed');
  });

  /** `n` valid Ed25519 signatures (labels sig1…sigN) over one GET, as a DoS sender would stack them. */
  async function manySigned(path: string, n: number): Promise<Record<string, string>> {
    const url = p.gateway + path;
    const inputs: string[] = [];
    const sigs: string[] = [];
    for (let i = 1; i <= n; i++) {
      const s = await signMessage({ method: 'GET', url, headers: {} }, { key: ed.key, alg: ed.alg, keyid: ed.keyid, components: ['@method', '@target-uri'], nonce: randomBytes(12).toString('base64url'), label: `sig${i}` });
      inputs.push(s.signatureInput);
      sigs.push(s.signature);
    }
    return { 'signature-input': inputs.join(', '), signature: sigs.join(', ') };
  }

  test('DoS: more signatures than the default cap (5 > 4), each one valid: signature.too-many before any verification', async () =>
    refused(async () => sendRaw('/fwd/many', await manySigned('/fwd/many', 5)), 'signature.too-many', 400));

  test('DoS: a route with maxSignatures 1 refuses a doubly signed request: signature.too-many; four on a default route pass', async () => {
    await refused(async () => sendRaw('/onesig/two', await manySigned('/onesig/two', 2)), 'signature.too-many', 400);
    const r = await sendRaw('/fwd/four', await manySigned('/fwd/four', 4));
    assert.equal(r.status, 200, r.text);
  });

  test('nonce store key collision: keyid "K:p" with nonce "N" does not burn keyid "K" with nonce "p:N" (keyids may contain ":")', async () => {
    const { key, secret } = await p.node.services.appSigningKeys.add(other.clientId, { type: 'hmac', keyid: `${hmac.keyid}:p` }, 'test');
    const colliding = await crypto.subtle.importKey('raw', Buffer.from(secret!, 'base64url'), { name: 'HMAC', hash: 'SHA-256' }, false, ['sign']);
    const n = randomBytes(12).toString('base64url');
    const first = await sendSigned(p.gateway, { path: '/hmaconly/collide', sign: { key: colliding, alg: 'hmac-sha256', keyid: key.keyid, nonce: n } });
    assert.equal(first.status, 200, first.text);
    const second = await sendSigned(p.gateway, { path: '/hmaconly/collide', sign: { ...h(), nonce: `p:${n}` } });
    assert.equal(second.status, 200, second.text);
  });

  test('alg parameter not matching the key (ed25519 declared on an HMAC key): signature.alg-mismatch', () =>
    refused(() => sendSigned(p.gateway, { path: '/sig/a', token, sign: h(), tamper: (r) => (r.headers['signature-input'] = r.headers['signature-input']!.replace(';keyid=', ';alg="ed25519";keyid=')) }), 'signature.alg-mismatch'));

  test('a key whose algorithm the route does not allow (ed25519 on an hmac-only route): signature.alg-mismatch', () =>
    refused(() => sendSigned(p.gateway, { path: '/hmaconly/a', sign: { key: ed.key, alg: ed.alg, keyid: ed.keyid } }), 'signature.alg-mismatch'));

  test('keyid of another app than the token: signature.wrong-app', () =>
    refused(() => sendSigned(p.gateway, { path: '/sig/a', token, sign: { key: otherKey.key, alg: otherKey.alg, keyid: otherKey.keyid } }), 'signature.wrong-app'));

  test('X-Forwarded-Proto sent by the client is not believed by default: a signature over https:// on a plain listener is signature.invalid', () =>
    refused(() => sendSigned(p.gateway, { path: '/sig/a', token, signAs: p.gateway.replace('http://', 'https://'), headers: { 'x-forwarded-proto': 'https' }, sign: h() }), 'signature.invalid'));

  test('unknown keyid: signature.unknown-key', () => refused(() => sendSigned(p.gateway, { path: '/sig/a', token, sign: { ...h(), keyid: 'nobody.k1' } }), 'signature.unknown-key'));

  test('signature made with another key under this keyid: signature.invalid', () =>
    refused(() => sendSigned(p.gateway, { path: '/sig/a', token, sign: { key: otherKey.key, alg: 'hmac-sha256', keyid: hmac.keyid } }), 'signature.invalid'));

  test('duplicate labels in Signature-Input: signature.malformed', () =>
    refused(() => sendSigned(p.gateway, { path: '/sig/a', token, sign: h(), tamper: (r) => (r.headers['signature-input'] = `${r.headers['signature-input']}, ${r.headers['signature-input']}`) }), 'signature.malformed', 400));

  test('a repeated signature parameter (keyid of another app before the signed one, which RFC 8941 parsing keeps): signature.malformed, not forwarded with a Signature-Input naming the other app first', () =>
    refused(() => sendSigned(p.gateway, { path: '/sig/a', token, sign: h(), tamper: (r) => (r.headers['signature-input'] = r.headers['signature-input']!.replace(`keyid="${hmac.keyid}"`, `keyid="${otherKey.keyid}";keyid="${hmac.keyid}"`)) }), 'signature.malformed', 400));

  test('malformed Signature-Input: signature.malformed', () =>
    refused(() => sendSigned(p.gateway, { path: '/sig/a', token, sign: h(), tamper: (r) => (r.headers['signature-input'] = 'sig1=("@method" "@target-uri";created=1') }), 'signature.malformed', 400));

  test('Signature without Signature-Input: signature.malformed', () =>
    refused(() => sendSigned(p.gateway, { path: '/sig/a', token, sign: h(), tamper: (r) => delete r.headers['signature-input'] }), 'signature.malformed', 400));
});

describe('Accept-Signature on denials (RFC 9421 §5.1): what the route wants signed', () => {
  const h = () => ({ key: hmac.key, alg: hmac.alg, keyid: hmac.keyid });
  /** The one member of the denial's Accept-Signature, its components serialized. */
  function asked(r: Answer): { req: SignatureRequest; components: string[] } {
    const value = r.headers.get('accept-signature');
    assert.ok(value !== null, `no Accept-Signature on ${r.status} ${r.text}`);
    const all = parseAcceptSignature(value);
    assert.deepEqual([...all.keys()], ['sig1']);
    const req = all.get('sig1')!;
    return { req, components: req.components.map(serializeComponentId) };
  }

  test('unsigned POST: signature.missing asks for @method, @target-uri, content-digest, created and a fresh nonce; signing exactly that passes', async () => {
    const r = await sendSigned(p.gateway, { path: '/sig/ask', body, token });
    assert.equal(r.json?.code, 'signature.missing');
    const a = asked(r);
    assert.deepEqual(a.components, ['"@method"', '"@target-uri"', '"content-digest"']);
    assert.equal(a.req.created, true);
    assert.equal(a.req.expires, false);
    assert.match(a.req.nonce ?? '', /^[A-Za-z0-9_-]{22}$/);
    assert.equal(a.req.alg, undefined);
    const again = asked(await sendSigned(p.gateway, { path: '/sig/ask', body, token }));
    assert.notEqual(again.req.nonce, a.req.nonce, 'each denial offers a new nonce');
    const ok = await sendSigned(p.gateway, { path: '/sig/ask', body, token, sign: { ...h(), components: a.components.map((c) => JSON.parse(c) as string), nonce: a.req.nonce! } });
    assert.equal(ok.status, 200, ok.text);
  });

  test('unsigned GET on a route requiring x-amount: no content-digest asked, x-amount is', async () => {
    const r = await sendSigned(p.gateway, { path: '/cover/a', token });
    assert.equal(r.json?.code, 'signature.missing');
    assert.deepEqual(asked(r).components, ['"@method"', '"@target-uri"', '"x-amount"']);
  });

  test('a signature not covering the route set (signature.component-missing) is told the set', async () => {
    const r = await sendSigned(p.gateway, { path: '/cover/a', token, headers: { 'x-amount': '10' }, sign: h() });
    assert.equal(r.json?.code, 'signature.component-missing');
    assert.deepEqual(asked(r).components, ['"@method"', '"@target-uri"', '"x-amount"']);
  });

  test('a route allowing one algorithm names it (alg="hmac-sha256"); a tag route names its tag and asks no nonce when none is required', async () => {
    const hm = asked(await sendSigned(p.gateway, { path: '/hmaconly/a', sign: { key: ed.key, alg: ed.alg, keyid: ed.keyid } }));
    assert.equal(hm.req.alg, 'hmac-sha256');
    const t = await sendSigned(p.gateway, { path: '/tagged/a', sign: h() });
    assert.equal(t.json?.code, 'signature.missing', 'a signature without the tag is not considered');
    const tagged = asked(t);
    assert.equal(tagged.req.tag, 'orders');
    assert.equal(tagged.req.nonce, undefined);
    const ok = await sendSigned(p.gateway, { path: '/tagged/a', sign: { ...h(), tag: 'orders' } });
    assert.equal(ok.status, 200, ok.text);
  });

  test('digest and replay denials carry it too; token denials and passing requests do not', async () => {
    const mismatch = await sendSigned(p.gateway, { path: '/sig/a', body, token, sign: h(), tamper: (r) => (r.body = body.replace('1', '9')) });
    assert.equal(mismatch.json?.code, 'digest.mismatch');
    assert.deepEqual(asked(mismatch).components, ['"@method"', '"@target-uri"', '"content-digest"']);
    const noToken = await sendSigned(p.gateway, { path: '/sig/a', body, sign: h() });
    assert.equal(noToken.json?.code, 'token.missing');
    assert.equal(noToken.headers.get('accept-signature'), null);
    const ok = await sendSigned(p.gateway, { path: '/sig/a', body, token, sign: h() });
    assert.equal(ok.status, 200);
    assert.equal(ok.headers.get('accept-signature'), null);
  });
});

async function toAnswer(res: Response): Promise<Answer> {
  const text = await res.text();
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    json = undefined;
  }
  return { status: res.status, headers: res.headers, text, json };
}

function require256(s: string): string {
  // node:crypto here is the test's own digest, independent of the gateway's
  return createHash('sha256').update(s).digest('base64');
}
