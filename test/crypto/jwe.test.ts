import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createSecretKey, generateKeyPairSync, randomBytes, webcrypto } from 'node:crypto';
import { CompactEncrypt, GeneralEncrypt, compactDecrypt, flattenedDecrypt } from 'jose';
import { decryptBody, encryptBody, generateEncryptionKey, generateSymmetricKey, type JweAlg, type JweKeyMaterial } from '../../src/crypto/jwe/index.js';

const ctx = { aud: 'orders-api', app: 'app-1' };
const body = new TextEncoder().encode(JSON.stringify({ order: 42, note: 'ünïcode' }));

const rsa2048 = generateKeyPairSync('rsa', { modulusLength: 2048 });
const asymmetric: Array<{ name: string; pub: JweKeyMaterial; priv: JweKeyMaterial; algs: JweAlg[] }> = [];
for (const t of ['P-256', 'X25519', 'RSA-3072'] as const) {
  const k = await generateEncryptionKey(t);
  asymmetric.push({ name: t, pub: k.publicKey, priv: k.privateKey, algs: t === 'RSA-3072' ? ['RSA-OAEP-256'] : ['ECDH-ES+A256KW', 'ECDH-ES'] });
}
asymmetric.push({ name: 'RSA-2048', pub: rsa2048.publicKey, priv: rsa2048.privateKey, algs: ['RSA-OAEP-256'] });

for (const k of asymmetric) {
  for (const alg of k.algs) {
    for (const serialization of ['compact', 'json'] as const) {
      test(`jwe round trip: ${alg} / A256GCM with ${k.name}, ${serialization} serialization`, async () => {
        const jwe = await encryptBody(body, { key: k.pub, alg, kid: 'k1', cty: 'application/json', context: ctx, serialization });
        if (serialization === 'compact') assert.equal(jwe.split('.').length, 5);
        else assert.equal(typeof JSON.parse(jwe).ciphertext, 'string');
        const r = await decryptBody(jwe, { getKey: (kid) => (kid === 'k1' ? { key: k.priv } : undefined), context: ctx });
        assert.deepEqual(r.plaintext, body);
        assert.equal(r.contentType, 'application/json');
        assert.equal(r.kid, 'k1');
        assert.equal(r.alg, alg);
        assert.equal(r.protectedHeader.enc, 'A256GCM');
        assert.equal(r.protectedHeader.aud, 'orders-api');
        assert.equal(r.protectedHeader.pc_app, 'app-1');
      });
    }
  }
}

const raw = randomBytes(32);
const symmetricForms: Array<{ name: string; key: (alg: 'dir' | 'A256KW') => Promise<JweKeyMaterial> | JweKeyMaterial }> = [
  { name: 'Uint8Array', key: () => raw },
  { name: 'secret KeyObject', key: () => createSecretKey(raw) },
  {
    name: 'CryptoKey',
    key: (alg) =>
      webcrypto.subtle.importKey('raw', raw, alg === 'dir' ? 'AES-GCM' : 'AES-KW', false, alg === 'dir' ? ['encrypt', 'decrypt'] : ['wrapKey', 'unwrapKey']),
  },
];
for (const alg of ['dir', 'A256KW'] as const) {
  for (const form of symmetricForms) {
    for (const serialization of ['compact', 'json'] as const) {
      test(`jwe round trip: ${alg} / A256GCM with an app key as ${form.name}, ${serialization}`, async () => {
        const key = await form.key(alg);
        const jwe = await encryptBody('hello app', { key, alg, context: ctx, serialization });
        const r = await decryptBody(jwe, { getKey: () => ({ key }), context: ctx });
        assert.equal(new TextDecoder().decode(r.plaintext), 'hello app');
        assert.equal(r.kid, undefined);
        assert.equal(r.contentType, undefined);
      });
    }
  }
}

test('jwe interop: a JWE made by jose directly (context in the protected header) decrypts through decryptBody', async () => {
  const k = await generateEncryptionKey('P-256');
  const jwe = await new CompactEncrypt(body)
    .setProtectedHeader({ alg: 'ECDH-ES+A256KW', enc: 'A256GCM', kid: k.kid, aud: 'orders-api', cty: 'application/json' })
    .encrypt(k.publicKey);
  const r = await decryptBody(jwe, { getKey: (kid) => (kid === k.kid ? { key: k.privateKey } : undefined), context: { aud: 'orders-api' } });
  assert.deepEqual(r.plaintext, body);
});

test('jwe interop: encryptBody output decrypts with jose directly (compact and flattened JSON)', async () => {
  const k = await generateEncryptionKey('X25519');
  const compact = await encryptBody(body, { key: k.publicKey, alg: 'ECDH-ES', context: ctx });
  assert.deepEqual((await compactDecrypt(compact, k.privateKey)).plaintext, body);
  const json = await encryptBody(body, { key: k.publicKey, alg: 'ECDH-ES+A256KW', context: ctx, serialization: 'json' });
  assert.deepEqual((await flattenedDecrypt(JSON.parse(json), k.privateKey)).plaintext, body);
});

test('jwe: a private KeyObject given to encryptBody encrypts to its public key', async () => {
  const k = await generateEncryptionKey('P-256');
  const jwe = await encryptBody(body, { key: k.privateKey, alg: 'ECDH-ES+A256KW', context: ctx });
  assert.deepEqual((await decryptBody(jwe, { getKey: () => ({ key: k.privateKey }), context: ctx })).plaintext, body);
});

test('jwe: a general JSON JWE with several recipients decrypts with the recipient whose kid is ours', async () => {
  const ours = await generateEncryptionKey('P-256', 'ours');
  const theirs = await generateEncryptionKey('RSA-3072', 'theirs');
  const general = await new GeneralEncrypt(body)
    .setProtectedHeader({ enc: 'A256GCM', aud: 'orders-api' })
    .addRecipient(theirs.publicKey)
    .setUnprotectedHeader({ alg: 'RSA-OAEP-256', kid: 'theirs' })
    .addRecipient(ours.publicKey)
    .setUnprotectedHeader({ alg: 'ECDH-ES+A256KW', kid: 'ours' })
    .encrypt();
  const r = await decryptBody(general, { getKey: (kid) => (kid === 'ours' ? { key: ours.privateKey } : undefined), context: { aud: 'orders-api' } });
  assert.deepEqual(r.plaintext, body);
  assert.equal(r.kid, 'ours');
  assert.equal(r.alg, 'ECDH-ES+A256KW');
  // The same as JSON text and as bytes, as a body arrives.
  const text = JSON.stringify(general);
  const asBytes = await decryptBody(new TextEncoder().encode(text), { getKey: (kid) => (kid === 'ours' ? { key: ours.privateKey } : undefined), context: { aud: 'orders-api' } });
  assert.deepEqual(asBytes.plaintext, body);
});

test('jwe: the request id binding is checked when the caller expects one (responses bound to their request)', async () => {
  const app = generateSymmetricKey();
  const jwe = await encryptBody('resp', { key: app.key, alg: 'dir', context: { aud: 'orders-api', requestId: 'req-1' } });
  const ok = await decryptBody(jwe, { getKey: () => ({ key: app.key }), context: { aud: 'orders-api', requestId: 'req-1' } });
  assert.equal(new TextDecoder().decode(ok.plaintext), 'resp');
  await assert.rejects(decryptBody(jwe, { getKey: () => ({ key: app.key }), context: { aud: 'orders-api', requestId: 'req-2' } }), { code: 'jwe.context-mismatch' });
});

test('jwe keys: generated key pairs and app keys are JWKs with use enc; public JWKs carry no private members', async () => {
  for (const t of ['P-256', 'X25519', 'RSA-3072'] as const) {
    const k = await generateEncryptionKey(t);
    assert.equal(k.publicJwk.use, 'enc');
    assert.equal(k.privateJwk.use, 'enc');
    assert.equal(k.publicJwk.kid, k.kid);
    assert.equal(k.publicJwk.alg, t === 'RSA-3072' ? 'RSA-OAEP-256' : 'ECDH-ES+A256KW');
    for (const m of ['d', 'p', 'q', 'dp', 'dq', 'qi']) assert.equal(m in k.publicJwk, false, `${t} public JWK has ${m}`);
    assert.equal(typeof k.privateJwk.d, 'string');
  }
  const app = generateSymmetricKey('A256KW');
  assert.equal(app.jwk.kty, 'oct');
  assert.equal(app.jwk.use, 'enc');
  assert.equal(Buffer.from(app.jwk.k!, 'base64url').length, 32);
});

test('jwe: encryptBody refuses a JWE without an audience to bind', async () => {
  const app = generateSymmetricKey();
  await assert.rejects(encryptBody('x', { key: app.key, alg: 'dir', context: { aud: '' } }), { code: 'jwe.context-mismatch' });
});
