/**
 * The chain verifier refuses keys no one needs to hold to sign with: an RSA key with
 * public exponent 1 (its "signature" is the encoded message, so the TLS handshake's
 * CertificateVerify proves nothing and anyone with the certificate can present it) or an
 * even exponent (not an RSA key). A partner CA of a caBundle route may have certified one.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createPublicKey, generateKeyPairSync } from 'node:crypto';
import { EXT, KU, basicConstraintsValue, ekuValue, encodeName, encodeTbs, extension, keyUsageValue, randomSerial, sanValue, signStructure } from '../../src/pki/certificate.js';
import { fromPem } from '../../src/pki/pem.js';
import { verifyClientCertificate } from '../../src/pki/verify-chain.js';
import { makeCa } from './helpers.js';

const TD = 'example.org';

for (const e of [1, 2]) {
  test(`attack: a client certificate for an RSA key with public exponent ${e}, signed by the CA → cert.unsupported`, async () => {
    const t = await makeCa({ trustDomain: TD });
    const jwk = generateKeyPairSync('rsa', { modulusLength: 2048 }).publicKey.export({ format: 'jwk' });
    const spki = new Uint8Array(createPublicKey({ key: { ...jwk, e: Buffer.from([e]).toString('base64url') }, format: 'jwk' }).export({ format: 'der', type: 'spki' }));
    const tbs = encodeTbs({
      serial: randomSerial(),
      signatureAlgorithm: t.ca.signer.signatureAlgorithm,
      issuer: t.ca.cert.subject,
      notBefore: t.clock.now() - 60_000,
      notAfter: t.clock.now() + 3600_000,
      subject: encodeName([['CN', 'billing']]),
      spki,
      extensions: [
        extension(EXT.basicConstraints, true, basicConstraintsValue(false)),
        extension(EXT.keyUsage, true, keyUsageValue([KU.digitalSignature])),
        extension(EXT.extKeyUsage, false, ekuValue(['1.3.6.1.5.5.7.3.2'])),
        t.ca.template.aki,
        extension(EXT.subjectAltName, false, sanValue([{ uri: `spiffe://${TD}/app/billing` }])),
      ],
    });
    const leaf = await signStructure(tbs, t.ca.signer);
    const o = { anchors: [fromPem(t.rootPem, 'CERTIFICATE')], at: t.clock.now(), trustDomain: TD, revocation: () => 'good' as const };
    await assert.rejects(verifyClientCertificate([leaf, fromPem(t.intPem, 'CERTIFICATE')], o), { code: 'cert.unsupported' });
  });
}
