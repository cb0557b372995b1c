/** Signature verification of certificates, CRLs and OCSP structures (node:crypto). */
import { createPublicKey, verify, type KeyObject } from 'node:crypto';
import { OID } from './signer.js';

const HASH: Record<string, 'sha256' | 'sha384' | 'sha512' | null> = {
  [OID.ecdsaSha256]: 'sha256',
  [OID.ecdsaSha384]: 'sha384',
  [OID.ecdsaSha512]: 'sha512',
  [OID.sha256WithRSA]: 'sha256',
  [OID.sha384WithRSA]: 'sha384',
  [OID.sha512WithRSA]: 'sha512',
  [OID.ed25519]: null,
};

const KEY_FOR_SIG: Record<string, string> = {
  [OID.ecdsaSha256]: 'ec',
  [OID.ecdsaSha384]: 'ec',
  [OID.ecdsaSha512]: 'ec',
  [OID.sha256WithRSA]: 'rsa',
  [OID.sha384WithRSA]: 'rsa',
  [OID.sha512WithRSA]: 'rsa',
  [OID.ed25519]: 'ed25519',
};

export const isSupportedSignatureAlgorithm = (oid: string): boolean => oid in HASH;

const keys = new Map<string, KeyObject | null>();

function keyOf(spki: Uint8Array): KeyObject | null {
  const id = Buffer.from(spki).toString('base64');
  let k = keys.get(id);
  if (k === undefined) {
    try {
      k = createPublicKey({ key: Buffer.from(spki), format: 'der', type: 'spki' });
    } catch {
      k = null;
    }
    if (keys.size > 1000) keys.clear();
    keys.set(id, k);
  }
  return k;
}

/**
 * True when `signature` over `data` verifies with the key in `spki` under the algorithm `sigOid`.
 * @example verifySignature(issuer.spki, cert.signatureOid, cert.tbs, cert.signature)
 */
export function verifySignature(spki: Uint8Array, sigOid: string, data: Uint8Array, signature: Uint8Array): boolean {
  if (!(sigOid in HASH)) return false;
  const key = keyOf(spki);
  if (!key || key.asymmetricKeyType !== KEY_FOR_SIG[sigOid]) return false;
  try {
    return verify(HASH[sigOid] ?? null, data, key.asymmetricKeyType === 'ec' ? { key, dsaEncoding: 'der' } : key, signature);
  } catch {
    return false;
  }
}
