/**
 * Per-app encryption keys through the admin API of a real node: a symmetric key is shown
 * once as a JWK and sealed at rest; a JWE made with it (dir or A256KW) decrypts through
 * the in-memory `symmetric(clientId, kid)` lookup the gateway uses; a registered public
 * key receives responses encrypted with `public(clientId)`. Attacks: a private or
 * symmetric JWK, a signing-use key, weak RSA, a kid of another app, a revoked key, a
 * disabled app — each with its exact code or an empty lookup.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { generateKeyPairSync } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { compactDecrypt, CompactEncrypt, importJWK } from 'jose';
import { decryptBody } from '../../src/crypto/jwe/decrypt.js';
import { encryptBody } from '../../src/crypto/jwe/encrypt.js';
import { startTestNode, type TestNode } from '../admin/node.js';

let t: TestNode;
let clientId: string;
let otherId: string;

before(async () => {
  t = await startTestNode();
  clientId = (await t.node.services.apps.create({ name: 'enc', audiences: ['orders-api'], scopes: [] }, 'test')).app.clientId;
  otherId = (await t.node.services.apps.create({ name: 'other', audiences: ['orders-api'], scopes: [] }, 'test')).app.clientId;
});
after(() => t.close());

const add = (id: string, body: unknown) => t.api(`/v1/apps/${id}/encryption-keys`, { body });

test('a symmetric key is returned once; a dir/A256GCM JWE made with it decrypts through the in-memory lookup; the key is not in the SQLite files', async () => {
  const r = await add(clientId, { type: 'symmetric' });
  assert.equal(r.status, 201);
  const { key, secret } = r.body;
  assert.deepEqual({ kty: secret.kty, alg: secret.alg, use: secret.use, kid: secret.kid }, { kty: 'oct', alg: 'dir', use: 'enc', kid: key.kid });
  const jwe = await new CompactEncrypt(new TextEncoder().encode('{"order":1}'))
    .setProtectedHeader({ alg: 'dir', enc: 'A256GCM', kid: key.kid, aud: 'orders-api', pc_app: clientId, cty: 'application/json' })
    .encrypt(await importJWK(secret, 'A256GCM'));
  const out = await decryptBody(jwe, { getKey: (kid) => t.node.services.appEncryptionKeys.symmetric(clientId, kid), context: { aud: 'orders-api', app: clientId } });
  assert.equal(new TextDecoder().decode(out.plaintext), '{"order":1}');
  const listed = await t.api(`/v1/apps/${clientId}/encryption-keys`);
  assert.ok(!JSON.stringify(listed.body).includes(secret.k));
  for (const f of ['portcullis.db', 'portcullis.db-wal']) {
    let bytes: Buffer;
    try {
      bytes = readFileSync(join(t.dir, f));
    } catch {
      continue;
    }
    for (const form of [secret.k, Buffer.from(secret.k, 'base64url').toString('base64'), Buffer.from(secret.k, 'base64url').toString('hex')]) assert.equal(bytes.includes(form), false, `${f} holds the key as ${form.slice(0, 6)}…`);
    assert.equal(bytes.includes(Buffer.from(secret.k, 'base64url')), false, `${f} holds the raw key bytes`);
  }
});

test('attack: a JWE under one app key, presented as another app (its lookup), does not find the key (jwe.unknown-key)', async () => {
  const { body } = await add(clientId, { type: 'symmetric', alg: 'A256KW' });
  const jwe = await encryptBody('x', { key: t.node.services.appEncryptionKeys.symmetric(clientId, body.key.kid)!.key, alg: 'A256KW', kid: body.key.kid, context: { aud: 'orders-api', app: otherId } });
  await assert.rejects(decryptBody(jwe, { getKey: (kid) => t.node.services.appEncryptionKeys.symmetric(otherId, kid), context: { aud: 'orders-api', app: otherId } }), { code: 'jwe.unknown-key' });
});

test('a registered X25519 public key receives responses: public(clientId) encrypts, the app private key decrypts', async () => {
  const pair = generateKeyPairSync('x25519');
  const r = await add(clientId, { jwk: pair.publicKey.export({ format: 'jwk' }) });
  assert.equal(r.status, 201);
  assert.equal(r.body.key.alg, 'ECDH-ES+A256KW');
  assert.equal(r.body.secret, null);
  const pub = t.node.services.appEncryptionKeys.public(clientId)!;
  assert.equal(pub.kid, r.body.key.kid);
  const jwe = await encryptBody('response body', { key: pub.key, alg: pub.alg as 'ECDH-ES+A256KW', kid: pub.kid, context: { aud: 'orders-api', app: clientId, requestId: 'r1' } });
  const { plaintext, protectedHeader } = await compactDecrypt(jwe, pair.privateKey);
  assert.equal(new TextDecoder().decode(plaintext), 'response body');
  assert.equal(protectedHeader.pc_rid, 'r1');
});

test('attack: private, symmetric, signing-use and weak RSA keys are refused at registration (request.invalid)', async () => {
  const ec = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const cases: Array<[string, unknown]> = [
    ['private JWK', ec.privateKey.export({ format: 'jwk' })],
    ['symmetric JWK', { kty: 'oct', k: 'AAAA' }],
    ['use sig', { ...ec.publicKey.export({ format: 'jwk' }), use: 'sig' }],
    ['RSA 1024', generateKeyPairSync('rsa', { modulusLength: 1024 }).publicKey.export({ format: 'jwk' })],
    ['Ed25519 (a signing key type)', generateKeyPairSync('ed25519').publicKey.export({ format: 'jwk' })],
    ['EC with alg dir', { ...ec.publicKey.export({ format: 'jwk' }), alg: 'dir' }],
  ];
  for (const [what, jwk] of cases) {
    const r = await add(clientId, { jwk });
    assert.equal(r.status, 400, what);
    assert.equal(r.body.code, 'request.invalid', what);
  }
});

test('attack: an RSA encryption key with public exponent 1 (what is "encrypted" to it is the padded plaintext, readable by anyone) or an even one is refused at registration (request.invalid naming it), nothing stored', async () => {
  // node will not generate such keys: a real 2048-bit modulus with e set by hand (AQ = 1, BA = 4, AQAC = 65538)
  const jwk = generateKeyPairSync('rsa', { modulusLength: 2048 }).publicKey.export({ format: 'jwk' });
  for (const e of ['AQ', 'BA', 'AQAC']) {
    const r = await add(clientId, { kid: `weak-e-${e}`, jwk: { ...jwk, e }, alg: 'RSA-OAEP-256' });
    assert.equal(r.status, 400, e);
    assert.equal(r.body.code, 'request.invalid', e);
    assert.equal(r.body.detail, 'jwk: the RSA public exponent must be odd and at least 3', e);
  }
  const small = await add(clientId, { jwk: generateKeyPairSync('rsa', { modulusLength: 1024 }).publicKey.export({ format: 'jwk' }) });
  assert.equal(small.body.detail, 'jwk: RSA keys must have at least 2048 bits (this one has 1024)');
  const listed = await t.api(`/v1/apps/${clientId}/encryption-keys`);
  assert.equal(listed.status, 200);
  assert.ok(!JSON.stringify(listed.body).includes('weak-e-'), 'no weak key stored');
  assert.equal(t.node.services.appEncryptionKeys.public(clientId)?.kid.startsWith('weak-e-') ?? false, false);
});

test('attack: a small-order X25519 public key is refused at registration (request.invalid): no response could be encrypted to it (RFC 7748 §6.1, all-zero shared secret)', async () => {
  const points = [
    '0000000000000000000000000000000000000000000000000000000000000000', // u = 0
    '0100000000000000000000000000000000000000000000000000000000000000', // u = 1
    'e0eb7a7c3b41b8ae1656e3faf19fc46ada098deb9c32b1fd866205165f49b800', // order 8
  ];
  for (const hex of points) {
    const r = await add(clientId, { jwk: { kty: 'OKP', crv: 'X25519', x: Buffer.from(hex, 'hex').toString('base64url') } });
    assert.equal(r.status, 400, hex);
    assert.equal(r.body.code, 'request.invalid', hex);
  }
});

test('attack: revoking a kid through another app is not-found; revocation empties the lookup; a disabled app has no keys', async () => {
  const { body } = await add(clientId, { type: 'symmetric' });
  const kid = body.key.kid;
  const foreign = await t.api(`/v1/apps/${otherId}/encryption-keys/${kid}/revoke`, { method: 'POST' });
  assert.equal(foreign.status, 404);
  assert.equal(foreign.body.code, 'not-found');
  assert.ok(t.node.services.appEncryptionKeys.symmetric(clientId, kid));
  await t.node.services.apps.disable(clientId, 'test');
  assert.equal(t.node.services.appEncryptionKeys.symmetric(clientId, kid), undefined);
  assert.equal(t.node.services.appEncryptionKeys.public(clientId), undefined);
  await t.node.services.apps.enable(clientId, 'test');
  assert.ok(t.node.services.appEncryptionKeys.symmetric(clientId, kid));
  const rev = await t.api(`/v1/apps/${clientId}/encryption-keys/${kid}/revoke`, { method: 'POST' });
  assert.equal(rev.body.key.status, 'revoked');
  assert.equal(t.node.services.appEncryptionKeys.symmetric(clientId, kid), undefined);
  await t.node.reconcile();
  assert.equal(t.node.services.appEncryptionKeys.symmetric(clientId, kid), undefined);
});

test('the JWKS serves signing keys and the current use:enc key of each type, without private members', async () => {
  const { localFetch } = await import('../transit/local-fetch.js');
  const jwks = (await (await localFetch(`${t.identity}/jwks`)).json()) as { keys: Array<Record<string, string>> };
  const enc = jwks.keys.filter((k) => k.use === 'enc');
  assert.deepEqual(enc.map((k) => `${k.kty}/${k.crv ?? 'rsa'}/${k.alg}`).sort(), ['EC/P-256/ECDH-ES+A256KW', 'OKP/X25519/ECDH-ES+A256KW', 'RSA/rsa/RSA-OAEP-256']);
  assert.ok(jwks.keys.some((k) => k.use === 'sig'));
  for (const k of jwks.keys) for (const m of ['d', 'p', 'q', 'dp', 'dq', 'qi', 'k']) assert.equal(k[m], undefined);
  const current = t.node.services.encryptionKeys.current('P-256');
  assert.ok(enc.some((k) => k.kid === current.kid));
});
