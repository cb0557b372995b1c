/**
 * The chain verifier refuses keys no one needs to hold to sign with: an RSA key with
 * public exponent 1 (its "signature" is the encoded message, so the TLS handshake's
 * CertificateVerify proves nothing and anyone with the certificate can present it) or an
 * even exponent (not an RSA key). A partner CA of a caBundle route may have certified one.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createPublicKey, generateKeyPairSync } from 'node:crypto';
import { fromPem } from '../../src/pki/pem.js';
import { verifyClientCertificate } from '../../src/pki/verify-chain.js';
import { makeCa, signedClientLeaf } from './helpers.js';

const TD = 'example.org';

for (const e of [1, 2]) {
  test(`attack: a client certificate for an RSA key with public exponent ${e}, signed by the CA → cert.unsupported`, async () => {
    const t = await makeCa({ trustDomain: TD });
    const jwk = generateKeyPairSync('rsa', { modulusLength: 2048 }).publicKey.export({ format: 'jwk' });
    const spki = new Uint8Array(createPublicKey({ key: { ...jwk, e: Buffer.from([e]).toString('base64url') }, format: 'jwk' }).export({ format: 'der', type: 'spki' }));
    const leaf = await signedClientLeaf(t, spki, [`spiffe://${TD}/app/billing`]);
    const o = { anchors: [fromPem(t.rootPem, 'CERTIFICATE')], at: t.clock.now(), trustDomain: TD, revocation: () => 'good' as const };
    await assert.rejects(verifyClientCertificate([leaf, fromPem(t.intPem, 'CERTIFICATE')], o), { code: 'cert.unsupported' });
  });
}

test('attack: a client certificate for an RSA key of 30,000 bits (over the 16,384 OpenSSL verifies with, so no handshake signature of it ever verifies), signed by the CA → cert.unsupported', async () => {
  const t = await makeCa({ trustDomain: TD });
  const jwk = { kty: 'RSA', n: Buffer.alloc(30000 / 8, 0xff).toString('base64url'), e: 'AQAB' };
  const spki = new Uint8Array(createPublicKey({ key: jwk, format: 'jwk' }).export({ format: 'der', type: 'spki' }));
  const leaf = await signedClientLeaf(t, spki, [`spiffe://${TD}/app/billing`]);
  const o = { anchors: [fromPem(t.rootPem, 'CERTIFICATE')], at: t.clock.now(), trustDomain: TD, revocation: () => 'good' as const };
  await assert.rejects(verifyClientCertificate([leaf, fromPem(t.intPem, 'CERTIFICATE')], o), { code: 'cert.unsupported' });
});
