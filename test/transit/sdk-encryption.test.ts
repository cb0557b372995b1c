/**
 * The SDK's encryption against a real node: encryptForPortcullis discovers the `use: enc`
 * key in the node's JWKS and the node decrypts with its key ring (each published key type);
 * decryptFromPortcullis opens a response the node encrypted to the app's AES key, and
 * refuses one made for another request (jwe.context-mismatch) or tampered (jwe.decrypt-failed);
 * the transit client runs every operation with a scoped app token and surfaces denials
 * with their code.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { CompactEncrypt, type CompactJWEHeaderParameters } from 'jose';
import { createTransitClient, decryptFromPortcullis, encryptForPortcullis, type JweContext } from '../../src/sdk/index.js';
import { decryptBody } from '../../src/crypto/jwe/decrypt.js';
import { encryptBody } from '../../src/crypto/jwe/encrypt.js';
import { PortcullisError } from '../../src/core/errors.js';
import { TRANSIT_AUDIENCE } from '../../src/http/transit-ops.js';
import { startTestNode, type TestNode } from '../support/portcullis.js';
import { localFetch } from './local-fetch.js';

let node: TestNode;
before(async () => {
  node = await startTestNode();
});
after(() => node.stop());

const rejectsCode = async (p: Promise<unknown>, code: string) => assert.rejects(p, (e: unknown) => e instanceof PortcullisError && e.code === code);

for (const [alg, crv] of [['ECDH-ES+A256KW', 'P-256'], ['ECDH-ES+A256KW', 'X25519'], ['RSA-OAEP-256', undefined]] as const) {
  test(`encryptForPortcullis ${alg}${crv ? ` on ${crv}` : ''}: the node decrypts with its published key; another audience is jwe.context-mismatch`, async () => {
    const jwe = await encryptForPortcullis('{"amount":42}', { jwksUrl: `${node.urls.identity}/jwks`, fetch: localFetch, alg, ...(crv ? { crv } : {}), context: { aud: 'orders-api', app: 'app_1' }, cty: 'application/json' });
    const out = await decryptBody(jwe, { getKey: node.services.encryptionKeys.getKey, context: { aud: 'orders-api', app: 'app_1' } });
    assert.equal(new TextDecoder().decode(out.plaintext), '{"amount":42}');
    assert.equal(out.contentType, 'application/json');
    assert.equal(out.alg, alg);
    await rejectsCode(decryptBody(jwe, { getKey: node.services.encryptionKeys.getKey, context: { aud: 'billing-api', app: 'app_1' } }), 'jwe.context-mismatch');
  });
}

test('encryptForPortcullis ECDH-ES: the node publishes its EC/OKP keys for ECDH-ES+A256KW only (RFC 7517 §4.4), so no key is used for it: jwe.unknown-key', async () => {
  await rejectsCode(encryptForPortcullis('{}', { jwksUrl: `${node.urls.identity}/jwks`, fetch: localFetch, alg: 'ECDH-ES', crv: 'P-256', context: { aud: 'orders-api' } }), 'jwe.unknown-key');
});

test('encryptForPortcullis never marks a request as a response: no pc_dir, even from a context object that carries response: true, so the node takes it as a request', async () => {
  const context = { aud: 'orders-api', app: 'app_1', requestId: 'req-1', response: true } as JweContext;
  const jwe = await encryptForPortcullis('{}', { jwksUrl: `${node.urls.identity}/jwks`, fetch: localFetch, context });
  const header = JSON.parse(Buffer.from(jwe.split('.')[0]!, 'base64url').toString()) as Record<string, unknown>;
  assert.equal(header.pc_rid, 'req-1');
  assert.equal('pc_dir' in header, false);
  const out = await decryptBody(jwe, { getKey: node.services.encryptionKeys.getKey, context: { aud: 'orders-api', app: 'app_1', requestId: 'req-1' } });
  assert.equal(new TextDecoder().decode(out.plaintext), '{}');
});

test('decryptFromPortcullis opens a response encrypted to the app AES key; another request id is jwe.context-mismatch; a changed tag is jwe.decrypt-failed', async () => {
  const { app } = await node.services.apps.create({ name: 'sdk', audiences: ['orders-api'], scopes: [] }, 'test');
  const { secret } = await node.services.appEncryptionKeys.add(app.clientId, { type: 'symmetric' }, 'test');
  const k = node.services.appEncryptionKeys.symmetric(app.clientId)!;
  const jwe = await encryptBody('{"ok":true}', { key: k.key, alg: 'dir', kid: k.kid, cty: 'application/json', context: { aud: 'orders-api', app: app.clientId, requestId: 'req-1', response: true } });
  const r = await decryptFromPortcullis(jwe, secret!, { context: { aud: 'orders-api', requestId: 'req-1' } });
  assert.equal(r.text(), '{"ok":true}');
  assert.equal(r.contentType, 'application/json');
  await rejectsCode(decryptFromPortcullis(jwe, secret!, { context: { requestId: 'req-2' } }), 'jwe.context-mismatch');
  const parts = jwe.split('.');
  parts[4] = (parts[4]![0] === 'A' ? 'B' : 'A') + parts[4]!.slice(1);
  await rejectsCode(decryptFromPortcullis(parts.join('.'), secret!), 'jwe.decrypt-failed');
});

test("attack: an app's own dir request body, bound to its request id (pc_rid), reflected back to it as that request's response is refused: a response must say it is one (pc_dir), jwe.context-mismatch", async () => {
  const { app } = await node.services.apps.create({ name: 'sdk-reflect', audiences: ['orders-api'], scopes: [] }, 'test');
  const { secret } = await node.services.appEncryptionKeys.add(app.clientId, { type: 'symmetric' }, 'test');
  const k = node.services.appEncryptionKeys.symmetric(app.clientId)!;
  const context = { aud: 'orders-api', app: app.clientId, requestId: 'req-reflect-1' };
  // what the app sends: a request body with its own key, bound to the X-Request-Id it sends
  const request = await encryptBody('{"transfer":1000}', { key: k.key, alg: 'dir', kid: k.kid, cty: 'application/json', context });
  await rejectsCode(decryptFromPortcullis(request, secret!, { context }), 'jwe.context-mismatch');
  await rejectsCode(decryptFromPortcullis(request, secret!), 'jwe.context-mismatch');
  // what the gateway answers with the same binding opens
  const response = await encryptBody('{"ok":true}', { key: k.key, alg: 'dir', kid: k.kid, cty: 'application/json', context: { ...context, response: true } });
  assert.equal((await decryptFromPortcullis(response, secret!, { context })).text(), '{"ok":true}');
  // a pc_dir of another value is no response either
  const sideways = await new CompactEncrypt(new TextEncoder().encode('{}')).setProtectedHeader({ alg: 'dir', enc: 'A256GCM', kid: k.kid, aud: 'orders-api', pc_app: app.clientId, pc_rid: 'req-reflect-1', pc_dir: 'request' } as CompactJWEHeaderParameters).encrypt(k.key);
  await rejectsCode(decryptFromPortcullis(sideways, secret!, { context }), 'jwe.context-mismatch');
});

test('attack: a failing JWKS is not fetched by every encryptForPortcullis call: after a failure calls fail fast with unavailable for a back-off, then one new request', async () => {
  let calls = 0;
  let now = 5_000_000;
  const down = (async () => {
    calls++;
    return new Response('down', { status: 503 });
  }) as typeof fetch;
  const opts = { jwksUrl: 'https://jwks-enc-backoff.example/jwks', fetch: down, now: () => now, context: { aud: 'orders-api' } };
  for (let i = 0; i < 5; i++) await rejectsCode(encryptForPortcullis('x', opts), 'unavailable');
  await Promise.all([1, 2, 3].map(() => rejectsCode(encryptForPortcullis('x', opts), 'unavailable')));
  assert.equal(calls, 1);
  now += 1_000;
  await rejectsCode(encryptForPortcullis('x', opts), 'unavailable');
  await rejectsCode(encryptForPortcullis('x', opts), 'unavailable');
  assert.equal(calls, 2, 'after the back-off, one new request');
});

test('decryptFromPortcullis checks the key metadata: a JWK whose use is not enc, whose key_ops forbid decryption or whose alg is not the JWE alg is refused with its code', async () => {
  const raw = crypto.getRandomValues(new Uint8Array(32));
  const k = Buffer.from(raw).toString('base64url');
  const context = { aud: 'orders-api' };
  // responses, as the gateway makes them
  const dir = await encryptBody('{"ok":true}', { key: raw, alg: 'dir', kid: 'k1', context: { ...context, response: true } });
  const kw = await encryptBody('{"ok":true}', { key: raw, alg: 'A256KW', kid: 'k1', context: { ...context, response: true } });
  const jwk = { kty: 'oct', k, kid: 'k1' };
  // the key as the node shows it once opens what it was made for
  assert.equal((await decryptFromPortcullis(dir, { ...jwk, alg: 'dir', use: 'enc' }, { context })).text(), '{"ok":true}');
  assert.equal((await decryptFromPortcullis(kw, { ...jwk, alg: 'A256KW', use: 'enc', key_ops: ['unwrapKey'] }, { context })).text(), '{"ok":true}');
  assert.equal((await decryptFromPortcullis(kw, jwk, { context })).text(), '{"ok":true}', 'a JWK without use, key_ops and alg opens either');
  await rejectsCode(decryptFromPortcullis(dir, { ...jwk, use: 'sig' }), 'jwe.wrong-key-use');
  await rejectsCode(decryptFromPortcullis(dir, { ...jwk, key_ops: ['encrypt'] }), 'jwe.wrong-key-use');
  await rejectsCode(decryptFromPortcullis(kw, { ...jwk, key_ops: ['wrapKey'] }), 'jwe.wrong-key-use');
  await rejectsCode(decryptFromPortcullis(kw, { ...jwk, key_ops: ['encrypt', 'wrapKey'] }), 'jwe.wrong-key-use');
  assert.equal((await decryptFromPortcullis(kw, { ...jwk, key_ops: ['decrypt'] })).text(), '{"ok":true}', 'as on the server, decrypt allows A256KW');
  // a dir key does not unwrap, an A256KW key is no content key
  await rejectsCode(decryptFromPortcullis(kw, { ...jwk, alg: 'dir' }), 'jwe.alg-not-allowed');
  await rejectsCode(decryptFromPortcullis(dir, { ...jwk, alg: 'A256KW' }), 'jwe.alg-not-allowed');
  // a key of another type than the JWE alg names
  const { privateKey } = await crypto.subtle.generateKey({ name: 'ECDH', namedCurve: 'P-256' }, true, ['deriveBits']);
  const { key_ops: _o, ext: _e, ...ec } = (await crypto.subtle.exportKey('jwk', privateKey)) as Record<string, unknown>;
  await rejectsCode(decryptFromPortcullis(dir, { ...ec, kty: 'EC' }), 'jwe.alg-not-allowed');
  await rejectsCode(decryptFromPortcullis(dir, { kty: 'constructor', k: jwk.k }), 'jwe.alg-not-allowed');
});

test('decryptFromPortcullis reads the protected header first: zip is jwe.zip-not-allowed, crit jwe.crit-unsupported, another enc or alg jwe.alg-not-allowed, a broken header jwe.malformed', async () => {
  const raw = crypto.getRandomValues(new Uint8Array(32));
  const jwk = { kty: 'oct', k: Buffer.from(raw).toString('base64url'), alg: 'dir', use: 'enc' };
  const jwe = await encryptBody('x', { key: raw, alg: 'dir', kid: 'k1', context: { aud: 'a', response: true } });
  const parts = jwe.split('.');
  const header = JSON.parse(Buffer.from(parts[0]!, 'base64url').toString()) as Record<string, unknown>;
  const withHeader = (h: Record<string, unknown>) => [Buffer.from(JSON.stringify(h)).toString('base64url'), ...parts.slice(1)].join('.');
  await rejectsCode(decryptFromPortcullis(withHeader({ ...header, zip: 'DEF' }), jwk), 'jwe.zip-not-allowed');
  await rejectsCode(decryptFromPortcullis(JSON.stringify({ protected: withHeader({ ...header, zip: 'DEF' }).split('.')[0], iv: parts[2], ciphertext: parts[3], tag: parts[4] }), jwk), 'jwe.zip-not-allowed');
  await rejectsCode(decryptFromPortcullis(withHeader({ ...header, crit: ['exp'], exp: 1 }), jwk), 'jwe.crit-unsupported');
  await rejectsCode(decryptFromPortcullis(withHeader({ ...header, enc: 'A128GCM' }), jwk), 'jwe.alg-not-allowed');
  await rejectsCode(decryptFromPortcullis(withHeader({ ...header, alg: 'PBES2-HS256+A128KW' }), jwk), 'jwe.alg-not-allowed');
  await rejectsCode(decryptFromPortcullis(['e30x', ...parts.slice(1)].join('.'), jwk), 'jwe.malformed');
  await rejectsCode(decryptFromPortcullis(parts.slice(1).join('.'), jwk), 'jwe.malformed');
  assert.equal((await decryptFromPortcullis(jwe, jwk)).text(), 'x');
});

test('transit client: every operation with a scoped token; an operation outside the scopes is token.insufficient-scope', async () => {
  await node.services.transit.createKey('sdk-db', 'aes256-gcm');
  await node.services.transit.createKey('sdk-sign', 'ecdsa-p256');
  const ops = ['encrypt', 'decrypt', 'rewrap', 'datakey', 'hmac', 'verify'].map((op) => `transit:${op}:sdk-db`);
  const { app, clientSecret } = await node.services.apps.create({ name: 'sdk-transit', audiences: [TRANSIT_AUDIENCE], scopes: [...ops, 'transit:sign:sdk-sign', 'transit:verify:sdk-sign'] }, 'test');
  const getToken = async () => {
    const res = await localFetch(`${node.urls.identity}/oauth2/token`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded', authorization: `Basic ${btoa(`${app.clientId}:${clientSecret}`)}` },
      body: 'grant_type=client_credentials',
    });
    return ((await res.json()) as { access_token: string }).access_token;
  };
  const token = await getToken();
  const t = createTransitClient({ baseUrl: node.urls.identity!, getToken: () => token, fetch: localFetch });
  const ct = await t.encrypt('sdk-db', 'card 4111', { context: 'order:1' });
  assert.equal(new TextDecoder().decode(await t.decrypt('sdk-db', ct, { context: 'order:1' })), 'card 4111');
  await node.services.transit.rotate('sdk-db');
  node.services.transit.invalidate('sdk-db');
  assert.match(await t.rewrap('sdk-db', ct, { context: 'order:1' }), /^pc:v2:/);
  const dk = await t.datakey('sdk-db', { bits: 256 });
  assert.equal(dk.plaintext!.length, 32);
  assert.deepEqual(await t.decrypt('sdk-db', dk.ciphertext), dk.plaintext);
  const mac = await t.hmac('sdk-db', 'row');
  assert.equal(await t.verifyHmac('sdk-db', 'row', mac), true);
  assert.equal(await t.verifyHmac('sdk-db', 'rov', mac), false);
  const sig = await t.sign('sdk-sign', 'doc');
  assert.equal(await t.verify('sdk-sign', 'doc', sig), true);
  const batch = await t.batch('encrypt', 'sdk-db', [{ plaintext: btoa('a') }, { plaintext: '%%' }]);
  assert.match(batch[0]!.ciphertext as string, /^pc:v2:/);
  assert.equal((batch[1]!.error as { code: string }).code, 'transit.invalid-input');
  await rejectsCode(t.sign('sdk-db', 'x'), 'token.insufficient-scope');
  await rejectsCode(t.decrypt('sdk-db', 'pc:v1:AAAA'), 'transit.malformed-ciphertext');
});

test('attack: a transit answer that is 200 but not a transit result (wrong base URL, captive proxy, tampering) is refused as unavailable, never returned as a value', async () => {
  const answering = (body: string) => createTransitClient({ baseUrl: 'https://transit.invalid', getToken: () => 't', fetch: (async () => new Response(body, { status: 200, headers: { 'content-type': 'application/json' } })) as typeof fetch });
  const value = 'pc:v1:' + Buffer.alloc(28).toString('base64');
  for (const body of ['<html>welcome</html>', '{}', '{"ciphertext":5}', '{"ciphertext":"AAAA","key_version":1}']) {
    await rejectsCode(answering(body).encrypt('db', 'card 4111'), 'unavailable');
    await rejectsCode(answering(body).rewrap('db', value), 'unavailable');
    await rejectsCode(answering(body).datakey('db'), 'unavailable');
    await rejectsCode(answering(body).sign('db', 'x'), 'unavailable');
    await rejectsCode(answering(body).hmac('db', 'x'), 'unavailable');
  }
  for (const body of ['{}', '{"plaintext":5}', '{"plaintext":"not base64!"}']) await rejectsCode(answering(body).decrypt('db', value), 'unavailable');
  await rejectsCode(answering(`{"ciphertext":"${value}","key_version":1,"plaintext":"%%%"}`).datakey('db'), 'unavailable');
  for (const body of ['{}', '{"valid":"true"}']) {
    await rejectsCode(answering(body).verify('db', 'x', value), 'unavailable');
    await rejectsCode(answering(body).verifyHmac('db', 'x', value), 'unavailable');
  }
  await rejectsCode(answering('{"batch_results":{}}').batch('encrypt', 'db', [{ plaintext: 'AAAA' }]), 'unavailable');
  await rejectsCode(answering(`{"batch_results":[{"ciphertext":"${value}","key_version":1}]}`).batch('encrypt', 'db', [{ plaintext: 'AAAA' }, { plaintext: 'AAAA' }]), 'unavailable');
  // a well-formed answer still passes
  assert.equal(await answering(`{"ciphertext":"${value}","key_version":1}`).encrypt('db', 'x'), value);
  assert.deepEqual(await answering('{"plaintext":"aGk="}').decrypt('db', value), new TextEncoder().encode('hi'));
});
