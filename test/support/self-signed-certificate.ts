/**
 * Self-signed client certificates for RFC 8705 §2.2 `self_signed_tls_client_auth` tests, with
 * the validity period the test asks for (whole seconds), and their JWK with the certificate as
 * `x5c` (RFC 7517 §4.7), as an app registers them.
 */
import { X509Certificate, createPrivateKey } from 'node:crypto';
import { EKU, EXT, basicConstraintsValue, ekuValue, encodeName, encodeTbs, extension, randomSerial, signStructure } from '../../src/pki/certificate.js';
import { toPem } from '../../src/pki/pem.js';
import { fileSignerKind } from '../../src/pki/signer.js';
import { testSecretBox } from '../pki/helpers.js';

export interface SelfSigned {
  cert: string;
  key: string;
  der: Buffer;
}

/** A self-signed P-256 client certificate valid from `notBefore` to `notAfter` (ms, cut to whole seconds). */
export async function selfSigned(cn: string, notBefore: number, notAfter: number): Promise<SelfSigned> {
  const { signer, pkcs8 } = await fileSignerKind(testSecretBox()).generate('P-256', `ss-${cn}`);
  const name = encodeName([['CN', cn]]);
  const tbs = encodeTbs({
    serial: randomSerial(),
    signatureAlgorithm: signer.signatureAlgorithm,
    issuer: name,
    subject: name,
    notBefore: Math.floor(notBefore / 1000) * 1000,
    notAfter: Math.floor(notAfter / 1000) * 1000,
    spki: signer.spki,
    extensions: [extension(EXT.basicConstraints, true, basicConstraintsValue(false)), extension(EXT.extKeyUsage, false, ekuValue([EKU.clientAuth]))],
  });
  const der = Buffer.from(await signStructure(tbs, signer));
  const key = createPrivateKey({ key: Buffer.from(pkcs8), format: 'der', type: 'pkcs8' }).export({ format: 'pem', type: 'pkcs8' }) as string;
  return { cert: toPem(der, 'CERTIFICATE'), key, der };
}

/** The public JWK of a certificate's key, with the certificate as `x5c`. */
export const jwkOf = (c: SelfSigned) => ({ ...new X509Certificate(c.der).publicKey.export({ format: 'jwk' }), x5c: [c.der.toString('base64')] });
