/**
 * Wycheproof key agreement vectors through the JWE ECDH-ES path (decryptBody → jose):
 * ecdh_secp256r1_test.json and x25519_test.json. Each vector becomes a JWE whose `epk` is
 * the vector's public key and whose content key is the Concat KDF of the vector's shared
 * secret (RFC 7518 §4.6.2), so it decrypts exactly when the agreement reproduces that secret.
 * Invalid public keys (off-curve, wrong curve, small order) must be refused as jwe.invalid-point.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createECDH, createPrivateKey, createPublicKey, type JsonWebKey, type KeyObject } from 'node:crypto';
import { decryptBody } from '../../src/crypto/jwe/index.js';
import { buildJwe, concatKdf, hex, load, outcome, type Vector } from './wycheproof-support.js';

const ctx = { aud: 'wycheproof' };

function p256Private(t: Vector): KeyObject {
  let d = hex(t.private);
  while (d.length > 32 && d[0] === 0) d = d.subarray(1);
  d = Buffer.concat([Buffer.alloc(32 - d.length), d]);
  const pub = createECDH('prime256v1');
  pub.setPrivateKey(d);
  const point = pub.getPublicKey();
  return createPrivateKey({
    key: { kty: 'EC', crv: 'P-256', d: d.toString('base64url'), x: point.subarray(1, 33).toString('base64url'), y: point.subarray(33).toString('base64url') },
    format: 'jwk',
  });
}

/** The vector's public key as a JWK epk: node's parse of the SPKI, or else the raw uncompressed point at its end. */
function p256Epk(t: Vector): JsonWebKey | undefined {
  const der = hex(t.public);
  try {
    return createPublicKey({ key: der, format: 'der', type: 'spki' }).export({ format: 'jwk' });
  } catch {
    const at = der.length - 65;
    if (at < 0 || der[at] !== 0x04) return undefined;
    return { kty: 'EC', crv: 'P-256', x: der.subarray(at + 1, at + 33).toString('base64url'), y: der.subarray(at + 33).toString('base64url') };
  }
}

async function throughJwe(epk: JsonWebKey, privateKey: KeyObject, shared: Buffer | undefined, tcId: number) {
  const jwe = buildJwe({ alg: 'ECDH-ES', enc: 'A256GCM', epk, aud: 'wycheproof' }, undefined, shared && shared.length ? concatKdf(shared) : undefined, Buffer.from(`tc ${tcId}`));
  const r = await outcome(decryptBody(jwe, { getKey: () => ({ key: privateKey }), context: ctx }));
  return r.code === 'ok' ? (Buffer.from(r.value!.plaintext).toString() === `tc ${tcId}` ? 'ok' : 'wrong plaintext') : r.code;
}

const ecdh = load('ecdh_secp256r1_test.json').testGroups.flatMap((g) => g.tests);
const notJwk = ecdh.filter((t) => p256Epk(t) === undefined);

test(`wycheproof ecdh_secp256r1: ${ecdh.length - notJwk.length} vectors through JWE ECDH-ES (valid decrypt; invalid public keys refused as jwe.invalid-point)`, async () => {
  const failures: string[] = [];
  const seen = new Map<string, number>();
  for (const t of ecdh) {
    const epk = p256Epk(t);
    if (!epk) continue;
    const got = await throughJwe(epk, p256Private(t), t.result === 'invalid' ? undefined : hex(t.shared), t.tcId);
    seen.set(`${t.result}:${got}`, (seen.get(`${t.result}:${got}`) ?? 0) + 1);
    if (t.result === 'valid' && got !== 'ok') failures.push(`${t.tcId} valid: ${got} ${t.flags.join(',')}`);
    // Vectors flagged UnnamedCurve are invalid only through modified explicit curve parameters in
    // their ASN.1, which a JWK (crv: P-256) cannot carry: their point is taken on the real P-256,
    // so the agreement must not yield the vector's secret (refused, not necessarily as a bad point).
    if (t.result === 'invalid') {
      const refused = t.flags.includes('UnnamedCurve') ? got !== 'ok' : got === 'jwe.invalid-point';
      if (!refused) failures.push(`${t.tcId} invalid: ${got} ${t.flags.join(',')}`);
    }
    if (t.result === 'acceptable' && got !== 'ok' && got !== 'jwe.invalid-point') failures.push(`${t.tcId} acceptable: ${got} ${t.flags.join(',')}`);
  }
  assert.deepEqual(failures, []);
  assert.ok((seen.get('invalid:jwe.invalid-point') ?? 0) > 0, 'some invalid public keys reached the JWE path');
});

test(`wycheproof ecdh_secp256r1: ${notJwk.length} vectors whose public key has no uncompressed point (compressed, truncated ASN.1) cannot be a JWK epk and are not run`, () => {
  assert.ok(notJwk.every((t) => t.result !== 'valid' || t.flags.some((f) => /Compressed/.test(f))), 'only compressed valid keys are left out');
});

test('wycheproof ecdh_secp256r1: node (the primitive under jose) refuses every invalid public point as a P-256 JWK (modified explicit-parameter vectors aside)', () => {
  const failures: string[] = [];
  for (const t of ecdh.filter((v) => v.result === 'invalid' && !v.flags.includes('UnnamedCurve'))) {
    const epk = p256Epk(t);
    if (!epk) continue;
    try {
      const pub = createPublicKey({ key: epk, format: 'jwk' });
      if (pub.asymmetricKeyDetails?.namedCurve === 'prime256v1') failures.push(`${t.tcId} parsed`);
    } catch {
      // refused
    }
  }
  assert.deepEqual(failures, []);
});

const PKCS8_X25519 = Buffer.from('302e020100300506032b656e04220420', 'hex');
const x25519 = load('x25519_test.json').testGroups.flatMap((g) => g.tests);

test(`wycheproof x25519: ${x25519.length} vectors through JWE ECDH-ES with X25519 (small-order points refused as jwe.invalid-point)`, async () => {
  const failures: string[] = [];
  for (const t of x25519) {
    const privateKey = createPrivateKey({ key: Buffer.concat([PKCS8_X25519, hex(t.private)]), format: 'der', type: 'pkcs8' });
    const epk = { kty: 'OKP', crv: 'X25519', x: hex(t.public).toString('base64url') };
    const zero = t.flags.includes('ZeroSharedSecret');
    const got = await throughJwe(epk, privateKey, zero ? undefined : hex(t.shared), t.tcId);
    if (zero && got !== 'jwe.invalid-point') failures.push(`${t.tcId} zero shared secret: ${got}`);
    if (!zero && t.result === 'valid' && got !== 'ok') failures.push(`${t.tcId} valid: ${got}`);
    if (!zero && t.result === 'acceptable' && got !== 'ok' && got !== 'jwe.invalid-point') failures.push(`${t.tcId} acceptable: ${got}`);
  }
  assert.deepEqual(failures, []);
});
