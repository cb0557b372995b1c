/**
 * Named attacks on encrypted bodies: each must be refused with its exact code.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createPrivateKey, createPublicKey, generateKeyPairSync, randomBytes, webcrypto } from 'node:crypto';
import { CompactEncrypt, FlattenedEncrypt } from 'jose';
import { decryptBody, encryptBody, generateEncryptionKey, generateSymmetricKey, type DecryptBodyOptions, type JweDecryptionKey } from '../../src/crypto/jwe/index.js';

const ctx = { aud: 'orders-api', app: 'app-1' };
const p256 = await generateEncryptionKey('P-256', 'ec1');
const x25519 = await generateEncryptionKey('X25519', 'x1');
const rsa = await generateEncryptionKey('RSA-3072', 'rsa1');
const app = generateSymmetricKey('dir', 'app1');
const byKid: Record<string, JweDecryptionKey> = {
  ec1: { key: p256.privateKey, use: 'enc' },
  x1: { key: x25519.privateKey },
  rsa1: { key: rsa.privateKey },
  app1: { key: app.key },
};
const opts = (over: Partial<DecryptBodyOptions> = {}): DecryptBodyOptions => ({ getKey: (kid) => (kid ? byKid[kid] : undefined), context: ctx, ...over });

const b64 = (o: unknown) => Buffer.from(JSON.stringify(o)).toString('base64url');
const header = (jwe: string) => JSON.parse(Buffer.from(jwe.split('.')[0]!, 'base64url').toString()) as Record<string, unknown>;
/** Replaces the protected header of a compact JWE (the tag no longer matches, so only pre-decryption checks can pass). */
const withHeader = (jwe: string, h: Record<string, unknown>) => [b64(h), ...jwe.split('.').slice(1)].join('.');
const valid = (over: Partial<Parameters<typeof encryptBody>[1]> = {}) =>
  encryptBody('{"pay":1}', { key: p256.publicKey, kid: 'ec1', alg: 'ECDH-ES+A256KW', cty: 'application/json', context: ctx, ...over });

test('jwe attack: RSA1_5 (Bleichenbacher padding oracle) is refused before any key is used', async () => {
  const jwe = await valid({ key: rsa.publicKey, kid: 'rsa1', alg: 'RSA-OAEP-256' });
  let looked = false;
  await assert.rejects(decryptBody(withHeader(jwe, { ...header(jwe), alg: 'RSA1_5' }), opts({ getKey: () => ((looked = true), byKid.rsa1) })), { code: 'jwe.alg-not-allowed' });
  assert.equal(looked, false, 'no key lookup for a refused alg');
});

test('jwe attack: PBES2 (password-based, p2c denial of service) is refused', async () => {
  const jwe = await new CompactEncrypt(new TextEncoder().encode('x'))
    .setProtectedHeader({ alg: 'PBES2-HS512+A256KW', enc: 'A256GCM', aud: 'orders-api', pc_app: 'app-1', kid: 'app1' })
    .encrypt(new TextEncoder().encode('correct horse battery staple'));
  await assert.rejects(decryptBody(jwe, opts()), { code: 'jwe.alg-not-allowed' });
  const huge = withHeader(jwe, { ...header(jwe), p2c: 100_000_000 });
  await assert.rejects(decryptBody(huge, opts()), { code: 'jwe.alg-not-allowed' });
});

test('jwe attack: other key-management algorithms (A128KW, ECDH-ES+A128KW, RSA-OAEP, dir with none) are refused', async () => {
  const jwe = await valid();
  for (const alg of ['A128KW', 'ECDH-ES+A128KW', 'RSA-OAEP', 'A256GCMKW', 'none', 'HS256']) {
    await assert.rejects(decryptBody(withHeader(jwe, { ...header(jwe), alg }), opts()), { code: 'jwe.alg-not-allowed' }, alg);
  }
});

test('jwe attack: content encryption other than A256GCM (A256CBC-HS512, A128GCM) is refused', async () => {
  const jwe = await valid();
  for (const enc of ['A256CBC-HS512', 'A128GCM', 'A128CBC-HS256', undefined]) {
    await assert.rejects(decryptBody(withHeader(jwe, { ...header(jwe), enc }), opts()), { code: 'jwe.alg-not-allowed' }, String(enc));
  }
});

test('jwe attack: a route that accepts only dir refuses an ECDH-ES JWE (algorithms option)', async () => {
  await assert.rejects(decryptBody(await valid(), opts({ algorithms: ['dir'] })), { code: 'jwe.alg-not-allowed' });
});

test('jwe attack: zip (compression oracle, decompression bomb) is refused, protected or unprotected', async () => {
  const zipped = await new CompactEncrypt(new TextEncoder().encode('a'.repeat(10_000)))
    .setProtectedHeader({ alg: 'ECDH-ES+A256KW', enc: 'A256GCM', zip: 'DEF', kid: 'ec1', ...{ aud: 'orders-api', pc_app: 'app-1' } })
    .encrypt(p256.publicKey);
  await assert.rejects(decryptBody(zipped, opts()), { code: 'jwe.zip-not-allowed' });
  const flat = JSON.parse(await valid({ serialization: 'json' }));
  await assert.rejects(decryptBody({ ...flat, unprotected: { zip: 'DEF' } }, opts()), { code: 'jwe.zip-not-allowed' });
});

test('jwe attack: an unknown critical extension (crit) is refused', async () => {
  // jose refuses to produce an unknown crit, so the header is forged: the refusal comes before decryption.
  const jwe = await valid();
  await assert.rejects(decryptBody(withHeader(jwe, { ...header(jwe), crit: ['exp'], exp: 1 }), opts()), { code: 'jwe.crit-unsupported' });
  await assert.rejects(decryptBody(withHeader(jwe, { ...header(jwe), crit: ['pc_app'] }), opts()), { code: 'jwe.crit-unsupported' });
});

test('jwe attack: a key whose use is sig, or whose key_ops forbid decryption, is refused (key confusion)', async () => {
  const jwe = await valid();
  await assert.rejects(decryptBody(jwe, opts({ getKey: () => ({ key: p256.privateKey, use: 'sig' }) })), { code: 'jwe.wrong-key-use' });
  await assert.rejects(decryptBody(jwe, opts({ getKey: () => ({ key: p256.privateKey, keyOps: ['sign', 'verify'] }) })), { code: 'jwe.wrong-key-use' });
  await assert.rejects(decryptBody(jwe, opts({ getKey: () => ({ key: p256.publicKey }) })), { code: 'jwe.wrong-key-use' });
  const dir = await encryptBody('x', { key: app.key, kid: 'app1', alg: 'dir', context: ctx });
  await assert.rejects(decryptBody(dir, opts({ getKey: () => ({ key: app.key, keyOps: ['unwrapKey'] }) })), { code: 'jwe.wrong-key-use' });
});

test('jwe attack: alg confusion (key of another type than the alg, RSA below 2048 bits, short app key) is refused', async () => {
  const jwe = await valid();
  await assert.rejects(decryptBody(jwe, opts({ getKey: () => ({ key: rsa.privateKey }) })), { code: 'jwe.alg-not-allowed' });
  await assert.rejects(decryptBody(jwe, opts({ getKey: () => ({ key: app.key }) })), { code: 'jwe.alg-not-allowed' });
  const dir = await encryptBody('x', { key: app.key, kid: 'ec1', alg: 'dir', context: ctx });
  await assert.rejects(decryptBody(dir, opts()), { code: 'jwe.alg-not-allowed' }, 'dir JWE naming an EC key');
  const weak = generateKeyPairSync('rsa', { modulusLength: 1024 });
  await assert.rejects(encryptBody('x', { key: weak.publicKey, alg: 'RSA-OAEP-256', context: ctx }), { code: 'jwe.alg-not-allowed' });
  const oaep = await valid({ key: rsa.publicKey, kid: 'rsa1', alg: 'RSA-OAEP-256' });
  await assert.rejects(decryptBody(oaep, opts({ getKey: () => ({ key: weak.privateKey }) })), { code: 'jwe.alg-not-allowed' });
  await assert.rejects(encryptBody('x', { key: randomBytes(16), alg: 'dir', context: ctx }), { code: 'jwe.alg-not-allowed' });
  const p384 = generateKeyPairSync('ec', { namedCurve: 'P-384' });
  await assert.rejects(encryptBody('x', { key: p384.publicKey, alg: 'ECDH-ES', context: ctx }), { code: 'jwe.alg-not-allowed' });
});

test('jwe attack: an RSA key with public exponent 1 (the "ciphertext" is the padded plaintext) or an even one is refused (jwe.alg-not-allowed), as KeyObject and CryptoKey, encrypting and decrypting', async () => {
  // node will not generate such keys: a real 2048-bit modulus with e set by hand (AQ = 1, BA = 4, AQAC = 65538)
  const pair = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const pub = pair.publicKey.export({ format: 'jwk' });
  const refused = { code: 'jwe.alg-not-allowed', message: 'the RSA public exponent must be odd and at least 3' };
  for (const e of ['AQ', 'BA', 'AQAC']) {
    const keyObject = createPublicKey({ key: { ...pub, e }, format: 'jwk' });
    await assert.rejects(encryptBody('secret', { key: keyObject, alg: 'RSA-OAEP-256', context: ctx }), refused, `KeyObject e=${e}`);
    const cryptoKey = await webcrypto.subtle.importKey('jwk', { ...pub, e, alg: 'RSA-OAEP-256' }, { name: 'RSA-OAEP', hash: 'SHA-256' }, false, ['encrypt']);
    await assert.rejects(encryptBody('secret', { key: cryptoKey, alg: 'RSA-OAEP-256', context: ctx }), refused, `CryptoKey e=${e}`);
  }
  // with e = 1, d = 1 is a working private exponent: a JWE "to" that key must not be decrypted with it either
  const priv = createPrivateKey({ key: { ...pair.privateKey.export({ format: 'jwk' }), e: 'AQ', d: 'AQ', dp: 'AQ', dq: 'AQ' }, format: 'jwk' });
  const oaep = await valid({ key: rsa.publicKey, kid: 'rsa1', alg: 'RSA-OAEP-256' });
  await assert.rejects(decryptBody(oaep, opts({ getKey: () => ({ key: priv }) })), refused);
  // the size rule still names the size
  const weak = generateKeyPairSync('rsa', { modulusLength: 1024 });
  await assert.rejects(encryptBody('x', { key: weak.publicKey, alg: 'RSA-OAEP-256', context: ctx }), { code: 'jwe.alg-not-allowed', message: 'RSA keys must have at least 2048 bits (this one has 1024)' });
});

test('jwe attack: an RSA key over 16,384 bits (OpenSSL encrypts with none, OPENSSL_RSA_MAX_MODULUS_BITS) is refused (jwe.alg-not-allowed naming its size), as KeyObject and CryptoKey', async () => {
  const jwk = { kty: 'RSA', n: Buffer.alloc(30000 / 8, 0xff).toString('base64url'), e: 'AQAB' };
  const refused = { code: 'jwe.alg-not-allowed', message: 'RSA keys must have at most 16384 bits (this one has 30000)' };
  await assert.rejects(encryptBody('x', { key: createPublicKey({ key: jwk, format: 'jwk' }), alg: 'RSA-OAEP-256', context: ctx }), refused);
  const cryptoKey = await webcrypto.subtle.importKey('jwk', { ...jwk, alg: 'RSA-OAEP-256' }, { name: 'RSA-OAEP', hash: 'SHA-256' }, false, ['encrypt']);
  await assert.rejects(encryptBody('x', { key: cryptoKey, alg: 'RSA-OAEP-256', context: ctx }), refused);
});

test('jwe attack: invalid-curve ECDH — an epk that is not on P-256 is refused as jwe.invalid-point', async () => {
  const jwe = await valid();
  const h = header(jwe) as { epk: { x: string; y: string } };
  const y = Buffer.from(h.epk.y, 'base64url');
  y[31]! ^= 1;
  await assert.rejects(decryptBody(withHeader(jwe, { ...h, epk: { ...h.epk, y: y.toString('base64url') } }), opts()), { code: 'jwe.invalid-point' });
  // A point of small order on another curve, classic invalid-curve probe: (0, 0) and a P-384 point.
  const zero = Buffer.alloc(32).toString('base64url');
  await assert.rejects(decryptBody(withHeader(jwe, { ...h, epk: { kty: 'EC', crv: 'P-256', x: zero, y: zero } }), opts()), { code: 'jwe.invalid-point' });
  const p384 = generateKeyPairSync('ec', { namedCurve: 'P-384' }).publicKey.export({ format: 'jwk' });
  await assert.rejects(decryptBody(withHeader(jwe, { ...h, epk: p384 }), opts()), { code: 'jwe.invalid-point' });
});

test('jwe attack: small-order X25519 epk (all-zero shared secret) is refused as jwe.invalid-point', async () => {
  const jwe = await valid({ key: x25519.publicKey, kid: 'x1', alg: 'ECDH-ES' });
  const h = header(jwe);
  for (const hex of [
    '0000000000000000000000000000000000000000000000000000000000000000',
    '0100000000000000000000000000000000000000000000000000000000000000',
    'e0eb7a7c3b41b8ae1656e3faf19fc46ada098deb9c32b1fd866205165f49b800',
    'ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f',
  ]) {
    const epk = { kty: 'OKP', crv: 'X25519', x: Buffer.from(hex, 'hex').toString('base64url') };
    await assert.rejects(decryptBody(withHeader(jwe, { ...h, epk }), opts()), { code: 'jwe.invalid-point' }, hex);
  }
});

test('jwe attack: the wrong key (another P-256 key under the same kid) fails as jwe.decrypt-failed', async () => {
  const other = await generateEncryptionKey('P-256');
  await assert.rejects(decryptBody(await valid(), opts({ getKey: () => ({ key: other.privateKey }) })), { code: 'jwe.decrypt-failed' });
  const otherApp = generateSymmetricKey();
  const dir = await encryptBody('x', { key: app.key, kid: 'app1', alg: 'dir', context: ctx });
  await assert.rejects(decryptBody(dir, opts({ getKey: () => ({ key: otherApp.key }) })), { code: 'jwe.decrypt-failed' });
});

function flip(jwe: string, part: number): string {
  const parts = jwe.split('.');
  const bytes = Buffer.from(parts[part]!, 'base64url');
  bytes[bytes.length >> 1]! ^= 0x01;
  parts[part] = bytes.toString('base64url');
  return parts.join('.');
}

for (const [name, part] of [['authentication tag', 4], ['ciphertext', 3], ['IV', 2], ['encrypted key', 1]] as const) {
  test(`jwe attack: a tampered ${name} fails as jwe.decrypt-failed (ECDH-ES+A256KW, RSA-OAEP-256, A256KW)`, async () => {
    const cases = [await valid(), await valid({ key: rsa.publicKey, kid: 'rsa1', alg: 'RSA-OAEP-256' }), await valid({ key: app.key, kid: 'app1', alg: 'A256KW' })];
    for (const jwe of cases) await assert.rejects(decryptBody(flip(jwe, part), opts()), { code: 'jwe.decrypt-failed' }, header(jwe).alg as string);
  });
}

test('jwe attack: a tampered protected header (cty changed) fails as jwe.decrypt-failed, the header is authenticated', async () => {
  const jwe = await valid();
  await assert.rejects(decryptBody(withHeader(jwe, { ...header(jwe), cty: 'text/html' }), opts()), { code: 'jwe.decrypt-failed' });
});

test('jwe attack: a ciphertext made for another route (aud) is refused as jwe.context-mismatch, and rewriting aud breaks the tag', async () => {
  const other = await valid({ context: { aud: 'billing-api', app: 'app-1' } });
  await assert.rejects(decryptBody(other, opts()), { code: 'jwe.context-mismatch' });
  await assert.rejects(decryptBody(withHeader(other, { ...header(other), aud: 'orders-api' }), opts()), { code: 'jwe.decrypt-failed' });
});

test('jwe attack: a ciphertext from another app (pc_app) is refused as jwe.context-mismatch', async () => {
  await assert.rejects(decryptBody(await valid({ context: { aud: 'orders-api', app: 'app-2' } }), opts()), { code: 'jwe.context-mismatch' });
  await assert.rejects(decryptBody(await valid({ context: { aud: 'orders-api' } }), opts()), { code: 'jwe.context-mismatch' }, 'no pc_app at all');
});

test('jwe attack: a context carried only in an unprotected header does not count (not integrity protected)', async () => {
  const flat = await new FlattenedEncrypt(new TextEncoder().encode('x'))
    .setProtectedHeader({ alg: 'ECDH-ES+A256KW', enc: 'A256GCM', kid: 'ec1' })
    .setSharedUnprotectedHeader({ aud: 'orders-api', pc_app: 'app-1' })
    .encrypt(p256.publicKey);
  await assert.rejects(decryptBody(flat, opts()), { code: 'jwe.context-mismatch' });
  const { protected: _p, ...noProtected } = flat;
  await assert.rejects(decryptBody({ ...noProtected, unprotected: { alg: 'ECDH-ES+A256KW', enc: 'A256GCM', kid: 'ec1', aud: 'orders-api', pc_app: 'app-1' } }, opts()), { code: 'jwe.context-mismatch' });
});

test('jwe attack: an oversize body is refused as jwe.too-large before parsing', async () => {
  const jwe = await encryptBody(randomBytes(4096), { key: app.key, kid: 'app1', alg: 'dir', context: ctx });
  await assert.rejects(decryptBody(jwe, opts({ maxBytes: 2048 })), { code: 'jwe.too-large' });
  await assert.rejects(decryptBody('x'.repeat(1024 * 1024 + 1), opts()), { code: 'jwe.too-large' });
  assert.equal((await decryptBody(jwe, opts({ maxBytes: 8192 }))).plaintext.length, 4096);
});

test('jwe attack: a kid that names no key (or a retired one) is refused as jwe.unknown-key', async () => {
  await assert.rejects(decryptBody(await valid({ kid: 'nope' }), opts()), { code: 'jwe.unknown-key' });
  await assert.rejects(decryptBody(await valid({ kid: undefined }), opts()), { code: 'jwe.unknown-key' });
});

test('jwe attack: malformed JWEs (wrong part count, bad base64url, header not JSON, duplicate header names, too many recipients) are jwe.malformed', async () => {
  const jwe = await valid();
  await assert.rejects(decryptBody(jwe.split('.').slice(0, 4).join('.'), opts()), { code: 'jwe.malformed' });
  await assert.rejects(decryptBody(jwe.replace('.', '.!'), opts()), { code: 'jwe.malformed' });
  await assert.rejects(decryptBody(['bm90IGpzb24', ...jwe.split('.').slice(1)].join('.'), opts()), { code: 'jwe.malformed' });
  await assert.rejects(decryptBody('{"ciphertext": ', opts()), { code: 'jwe.malformed' });
  await assert.rejects(decryptBody(new Uint8Array([0xff, 0xfe, 0x2e]), opts()), { code: 'jwe.malformed' });
  const flat = JSON.parse(await valid({ serialization: 'json' }));
  await assert.rejects(decryptBody({ ...flat, unprotected: { kid: 'ec1' } }, opts()), { code: 'jwe.malformed' }, 'kid in protected and unprotected');
  await assert.rejects(decryptBody({ ...flat, ciphertext: 42 }, opts()), { code: 'jwe.malformed' });
  const { encrypted_key, ...shared } = flat;
  const recipients = Array.from({ length: 9 }, () => ({ encrypted_key }));
  await assert.rejects(decryptBody({ ...shared, recipients }, opts()), { code: 'jwe.malformed' });
});

test('jwe: the private key in the lookup may also be a CryptoKey (ECDH) without losing the invalid-point check', async () => {
  const pkcs8 = x25519.privateKey.export({ format: 'der', type: 'pkcs8' });
  const ck = await crypto.subtle.importKey('pkcs8', pkcs8, { name: 'X25519' }, false, ['deriveBits']);
  const jwe = await valid({ key: x25519.publicKey, kid: 'x1', alg: 'ECDH-ES' });
  const r = await decryptBody(jwe, opts({ getKey: () => ({ key: ck }) }));
  assert.equal(new TextDecoder().decode(r.plaintext), '{"pay":1}');
  const epk = { kty: 'OKP', crv: 'X25519', x: Buffer.alloc(32).toString('base64url') };
  await assert.rejects(decryptBody(withHeader(jwe, { ...header(jwe), epk }), opts({ getKey: () => ({ key: ck }) })), { code: 'jwe.invalid-point' });
});
