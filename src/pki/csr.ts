/** PKCS#10 certification requests (RFC 2986): parse, check the proof of possession, accept only strong keys. */
import { createPublicKey } from 'node:crypto';
import { PortcullisError } from '../core/errors.js';
import { DerError, TAG, children, content, expectTag, oidToString, readOne, whole } from './der.js';
import { fromPem } from './pem.js';
import { verifySignature } from './verify-signature.js';

export interface ParsedCsr {
  subject: Uint8Array;
  spki: Uint8Array;
}

/**
 * Parses a CSR and verifies its self-signature; returns the subject and key.
 * @example const { spki } = parseCsr(csrPem);
 */
export function parseCsr(pem: string): ParsedCsr {
  let out: ParsedCsr;
  try {
    const der = fromPem(pem, 'CERTIFICATE REQUEST');
    const [info, alg, sig] = children(expectTag(readOne(der), TAG.SEQUENCE, 'CertificationRequest'));
    const f = children(expectTag(info, TAG.SEQUENCE, 'CertificationRequestInfo'));
    const subject = whole(expectTag(f[1], TAG.SEQUENCE, 'subject'));
    const spki = whole(expectTag(f[2], TAG.SEQUENCE, 'subjectPKInfo'));
    const sigOid = oidToString(content(expectTag(children(expectTag(alg, TAG.SEQUENCE, 'signatureAlgorithm'))[0], TAG.OID, 'algorithm')));
    const sigBits = content(expectTag(sig, TAG.BIT_STRING, 'signature'));
    if (!verifySignature(spki, sigOid, whole(info!), sigBits.subarray(1))) {
      throw new PortcullisError('pki.csr-invalid', 'the CSR signature does not verify (no proof of possession)');
    }
    out = { subject, spki };
  } catch (e) {
    if (e instanceof PortcullisError && e.code !== 'request.invalid') throw e;
    if (e instanceof PortcullisError || e instanceof DerError) throw new PortcullisError('pki.csr-invalid', 'the CSR is not a well-formed PKCS#10 request');
    throw e;
  }
  const key = createPublicKey({ key: Buffer.from(out.spki), format: 'der', type: 'spki' });
  const d = key.asymmetricKeyDetails;
  const ok =
    (key.asymmetricKeyType === 'ec' && (d?.namedCurve === 'prime256v1' || d?.namedCurve === 'secp384r1')) ||
    (key.asymmetricKeyType === 'rsa' && (d?.modulusLength ?? 0) >= 2048) ||
    key.asymmetricKeyType === 'ed25519';
  if (!ok) throw new PortcullisError('pki.csr-invalid', 'the CSR key must be EC P-256/P-384, RSA of 2048 bits or more, or Ed25519');
  return out;
}
