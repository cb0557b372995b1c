/**
 * Revocation status sources for the chain verifier: the CA's own inventory (for
 * certificates it issued) and CRLs (RFC 5280 §6.3, complete CRLs only).
 */
import { TAG, children, content, equalBytes, oidToString, readOne, whole } from './der.js';
import { parseTime, toHex, type ParsedCertificate } from './parse.js';
import type { CertificateStore } from './store.js';
import type { RevocationLookup, RevocationStatus } from './verify-chain.js';
import { verifySignature } from './verify-signature.js';
import { keyUsageOf } from './extensions.js';
import { KU } from './certificate.js';

/**
 * Status from the inventory: unknown serials are `unknown` (fail closed), so only
 * certificates this CA issued pass. Anchors' direct children (intermediates) are
 * looked up the same way when they are in the inventory, else treated as good.
 * @example verifyClientCertificate(chain, { ..., revocation: storeRevocationLookup(store, intermediateDer) })
 */
export function storeRevocationLookup(store: CertificateStore): RevocationLookup {
  return async (cert) => {
    const rec = await store.getCertificate(cert.serial);
    if (!rec) {
      // CA certificates are not in the leaf inventory; their status is the CA record's presence.
      const cas = await store.listCas();
      return cas.some((c) => equalBytes(c.certDer, cert.der)) ? 'good' : 'unknown';
    }
    if (!equalBytes(rec.der, cert.der)) return 'unknown';
    return rec.status === 'revoked' ? 'revoked' : 'good';
  };
}

interface ParsedCrl {
  tbs: Uint8Array;
  sigOid: string;
  signature: Uint8Array;
  issuer: Uint8Array;
  thisUpdate: number;
  nextUpdate: number | null;
  revoked: Set<string>;
}

function parseCrl(der: Uint8Array): ParsedCrl | null {
  try {
    const [tbsT, algT, sigT] = children(readOne(der));
    const f = children(tbsT!);
    let i = 0;
    if (f[i]?.tag === TAG.INTEGER) i++;
    i++; // signature
    const issuer = whole(f[i++]!);
    const thisUpdate = parseTime(f[i++]!);
    let nextUpdate: number | null = null;
    if (f[i] && (f[i]!.tag === TAG.UTC_TIME || f[i]!.tag === TAG.GENERALIZED_TIME)) nextUpdate = parseTime(f[i++]!);
    const revoked = new Set<string>();
    if (f[i]?.tag === TAG.SEQUENCE) {
      for (const e of children(f[i]!)) revoked.add(toHex(content(children(e)[0]!)));
      i++;
    }
    return {
      tbs: whole(tbsT!),
      sigOid: oidToString(content(children(algT!)[0]!)),
      signature: content(sigT!).subarray(1),
      issuer,
      thisUpdate,
      nextUpdate,
      revoked,
    };
  } catch {
    return null;
  }
}

/**
 * Status from CRLs signed by the certificate's issuer; `unknown` when no valid,
 * current CRL of that issuer is at hand.
 * @example crlRevocationLookup([crlDer], () => clock.now())
 */
export function crlRevocationLookup(crls: ReadonlyArray<Uint8Array>, now: () => number): RevocationLookup {
  const parsed = crls.map(parseCrl).filter((c): c is ParsedCrl => c !== null);
  return (cert: ParsedCertificate, issuer: ParsedCertificate): RevocationStatus => {
    let status: RevocationStatus = 'unknown';
    for (const crl of parsed) {
      if (!equalBytes(crl.issuer, cert.issuer)) continue;
      const ku = keyUsageOf(issuer);
      if (ku && !ku.has(KU.cRLSign)) continue;
      if (!verifySignature(issuer.spki, crl.sigOid, crl.tbs, crl.signature)) continue;
      const t = now();
      if (crl.thisUpdate > t || (crl.nextUpdate !== null && crl.nextUpdate < t)) continue;
      if (crl.revoked.has(cert.serial)) return 'revoked';
      status = 'good';
    }
    return status;
  };
}
