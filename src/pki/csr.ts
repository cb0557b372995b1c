/** PKCS#10 certification requests (RFC 2986) on @peculiar/asn1-csr: parse, check the proof of possession, accept only strong keys. */
import { createPublicKey } from 'node:crypto';
import { CertificationRequest } from '@peculiar/asn1-csr';
import { SubjectPublicKeyInfo } from '@peculiar/asn1-x509';
import { PortcullisError } from '../core/errors.js';
import { MAX_RSA_BITS, MIN_RSA_BITS } from '../crypto/key-strength.js';
import { Asn1Error, kids, parseDer, raw } from './parse.js';
import { fromPem } from './pem.js';
import { verifySignature } from './verify-signature.js';

export interface ParsedCsr {
  subject: Uint8Array;
  spki: Uint8Array;
}

/**
 * Parses a CSR (strict DER), checks its key and verifies its self-signature; returns the subject and key.
 * @example const { spki } = parseCsr(csrPem);
 */
export function parseCsr(pem: string): ParsedCsr {
  let out: ParsedCsr;
  let signed: { info: Uint8Array; sigOid: string; signature: Uint8Array };
  try {
    const der = fromPem(pem, 'CERTIFICATE REQUEST');
    const { value: csr, tree } = parseDer(der, CertificationRequest, 'CertificationRequest');
    const infoNode = kids(tree, 'CertificationRequest')[0];
    const f = kids(infoNode, 'CertificationRequestInfo');
    // RFC 2986 §4.1: version is 0 (v1).
    if (csr.certificationRequestInfo.version !== 0) throw new Asn1Error('CertificationRequestInfo', 'unknown version');
    const subject = raw(f[1], 'CertificationRequestInfo');
    const spki = raw(f[2], 'CertificationRequestInfo');
    signed = { info: raw(infoNode, 'CertificationRequest'), sigOid: csr.signatureAlgorithm.algorithm, signature: new Uint8Array(csr.signature) };
    out = { subject, spki };
  } catch (e) {
    if (e instanceof PortcullisError && e.code !== 'request.invalid') throw e;
    if (e instanceof Asn1Error) throw new PortcullisError('pki.csr-invalid', `the CSR is not a well-formed PKCS#10 request (${e.message})`);
    if (e instanceof PortcullisError) throw new PortcullisError('pki.csr-invalid', 'the CSR is not a well-formed PKCS#10 request');
    throw e;
  }
  // The key is judged before the proof of possession: a key with an even exponent cannot
  // sign at all, and must be refused as the weak key it is, not as "does not verify".
  assertAcceptedKey(out.spki);
  if (!verifySignature(out.spki, signed.sigOid, signed.info, signed.signature)) {
    throw new PortcullisError('pki.csr-invalid', 'the CSR signature does not verify (no proof of possession)');
  }
  return out;
}

/** Throws `pki.csr-invalid` unless the key in `spki` is one the CA certifies. */
function assertAcceptedKey(spki: Uint8Array): void {
  let key;
  try {
    key = createPublicKey({ key: Buffer.from(spki), format: 'der', type: 'spki' });
  } catch {
    throw new PortcullisError('pki.csr-invalid', 'the CSR key cannot be read');
  }
  const d = key.asymmetricKeyDetails;
  const ok =
    (key.asymmetricKeyType === 'ec' && (d?.namedCurve === 'prime256v1' || d?.namedCurve === 'secp384r1')) ||
    (key.asymmetricKeyType === 'rsa' && (d?.modulusLength ?? 0) >= MIN_RSA_BITS && (d?.modulusLength ?? 0) <= MAX_RSA_BITS) ||
    key.asymmetricKeyType === 'ed25519';
  if (!ok) throw new PortcullisError('pki.csr-invalid', `the CSR key must be EC P-256/P-384, RSA of ${MIN_RSA_BITS} to ${MAX_RSA_BITS} bits, or Ed25519`);
  // RFC 5480 §2.1.1: the parameters of an EC key are the namedCurve OID; specifiedCurve (explicit parameters) MUST NOT be used
  if (key.asymmetricKeyType === 'ec' && spkiParameters(spki)?.[0] !== 0x06) {
    throw new PortcullisError('pki.csr-invalid', 'the CSR EC key must name its curve (explicit curve parameters are not accepted)');
  }
  // CA/B BR §6.1.5: the modulus size in bits is a multiple of 8; the path check (verify-chain.ts) refuses any other
  // as cert.unsupported, so a certificate for such a key would be refused by this node's own gateway
  const bits = d?.modulusLength ?? 0;
  if (key.asymmetricKeyType === 'rsa' && bits % 8 !== 0) {
    throw new PortcullisError('pki.csr-invalid', `the CSR RSA key must have a modulus whose size in bits is a multiple of 8 (this one has ${bits})`);
  }
  // CA/B BR §6.1.6: the public exponent is odd and at least 3 (with e = 1 anyone can make a signature); 65537 as Boulder asks
  const e = d?.publicExponent ?? 0n;
  if (key.asymmetricKeyType === 'rsa' && (e < 65537n || e % 2n === 0n)) {
    throw new PortcullisError('pki.csr-invalid', 'the CSR RSA key must have an odd public exponent of at least 65537');
  }
}

/** The DER of the algorithm parameters of a SubjectPublicKeyInfo, or null when absent. */
function spkiParameters(spki: Uint8Array): Uint8Array | null {
  let p: ArrayBuffer | null | undefined;
  try {
    p = parseDer(spki, SubjectPublicKeyInfo, 'SubjectPublicKeyInfo').value.algorithm.parameters;
  } catch {
    throw new PortcullisError('pki.csr-invalid', 'the CSR key cannot be read');
  }
  return p ? new Uint8Array(p) : null;
}
