/**
 * Revocation status sources for the chain verifier: the CA's own inventory (for
 * certificates it issued) and CRLs (RFC 5280 §6.3, complete CRLs only).
 */
import { CertificateList } from '@peculiar/asn1-x509';
import * as asn1js from 'asn1js';
import { equalBytes, isInteger, keyUsageOf, kids, parseDer, raw, toHex, type ParsedCertificate } from './parse.js';
import type { CertificateStore } from './store.js';
import type { RevocationLookup, RevocationStatus } from './verify-chain.js';
import { verifySignature } from './verify-signature.js';
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
  nextUpdate: number;
  revoked: Set<string>;
  /** Why the CRL cannot be used (RFC 5280 §5.2, §5.3), or null. */
  unusable: string | null;
}

const CRL_NUMBER = '2.5.29.20';
const DELTA_CRL_INDICATOR = '2.5.29.27';
const ISSUING_DISTRIBUTION_POINT = '2.5.29.28';

/**
 * The minimal content octets of an INTEGER: a serial written with redundant leading 00 (or
 * FF) octets names the same certificate, whose own serial the parser holds minimal (as
 * OpenSSL compares them).
 */
function minimalInteger(b: Uint8Array): Uint8Array {
  let i = 0;
  while (i + 1 < b.length && ((b[i] === 0x00 && !(b[i + 1]! & 0x80)) || (b[i] === 0xff && b[i + 1]! & 0x80))) i++;
  return b.subarray(i);
}

/** A CRL that names no end of its validity: used for nothing. */
interface EndlessCrl {
  unusable: 'no nextUpdate';
}

const isTime = (n: asn1js.AsnType | undefined): boolean => n instanceof asn1js.UTCTime || n instanceof asn1js.GeneralizedTime;

/**
 * Whether a CertificateList lacks nextUpdate, read from its encoding (the typed parser
 * misreads the fields that follow an absent one); null when it is not shaped as one.
 */
function lacksNextUpdate(der: Uint8Array): boolean | null {
  const r = asn1js.fromBER(der.buffer.slice(der.byteOffset, der.byteOffset + der.byteLength) as ArrayBuffer);
  if (r.offset !== der.byteLength || !(r.result instanceof asn1js.Sequence)) return null;
  const [tbs, alg, sig] = r.result.valueBlock.value;
  if (!(tbs instanceof asn1js.Sequence) || !(alg instanceof asn1js.Sequence) || !(sig instanceof asn1js.BitString) || r.result.valueBlock.value.length !== 3) return null;
  // version (an optional INTEGER), signature, issuer, thisUpdate, nextUpdate OPTIONAL, ...
  const f = tbs.valueBlock.value.slice(tbs.valueBlock.value[0] instanceof asn1js.Integer ? 1 : 0);
  if (!(f[0] instanceof asn1js.Sequence) || !(f[1] instanceof asn1js.Sequence) || !isTime(f[2])) return null;
  return !isTime(f[3]);
}

/** A CRL (RFC 5280 §5.1) on @peculiar/asn1-x509; null when it is not DER (such a CRL is ignored). */
function parseCrl(der: Uint8Array): ParsedCrl | EndlessCrl | null {
  // §5.1.2.5: "Conforming CRL issuers MUST include the nextUpdate field in all CRLs."
  if (lacksNextUpdate(der) === true) return { unusable: 'no nextUpdate' };
  try {
    const { value: crl, tree } = parseDer(der, CertificateList, 'CertificateList');
    const tbsNode = kids(tree, 'CertificateList')[0];
    const f = kids(tbsNode, 'TBSCertList');
    // version (an optional INTEGER), signature, issuer, ...
    const issuer = raw(f[isInteger(f[0]) ? 2 : 1], 'TBSCertList');
    const t = crl.tbsCertList;
    const exts = t.crlExtensions ?? [];
    const number = exts.find((e) => e.extnID === CRL_NUMBER);
    let unusable: string | null = null;
    // §5.2.3: conforming CRL issuers MUST include the CRL number and MUST mark it non-critical.
    if (!t.nextUpdate) unusable = 'no nextUpdate';
    else if (!number) unusable = 'no CRL number';
    else if (number.critical) unusable = 'critical CRL number';
    // §5.2, §5.3: a critical (entry) extension the application cannot process (issuing
    // distribution point, delta CRL indicator, certificate issuer of an indirect CRL) makes the CRL unusable.
    else if (exts.some((e) => e.critical)) unusable = 'critical CRL extension';
    // §5.2.5, §5.2.4: each says the CRL is not complete (a part of the certificates or reasons,
    // or the changes since a base CRL) and MUST be critical; one marked non-critical is no
    // less partial (OpenSSL reads it either way), so it is refused as a critical one is.
    else if (exts.some((e) => e.extnID === ISSUING_DISTRIBUTION_POINT)) unusable = 'non-critical issuing distribution point';
    else if (exts.some((e) => e.extnID === DELTA_CRL_INDICATOR)) unusable = 'non-critical delta CRL indicator';
    else if ((t.revokedCertificates ?? []).some((r) => (r.crlEntryExtensions ?? []).some((e) => e.critical))) unusable = 'critical CRL entry extension';
    return {
      unusable,
      tbs: raw(tbsNode, 'CertificateList'),
      sigOid: crl.signatureAlgorithm.algorithm,
      signature: new Uint8Array(crl.signature),
      issuer,
      thisUpdate: t.thisUpdate.getTime().getTime(),
      nextUpdate: t.nextUpdate ? t.nextUpdate.getTime().getTime() : 0,
      revoked: new Set((t.revokedCertificates ?? []).map((r) => toHex(minimalInteger(new Uint8Array(r.userCertificate))))),
    };
  } catch {
    return null;
  }
}

/** Whether `der` parses as an X.509 CRL (RFC 5280 §5.1); usable or not is decided per lookup. */
export function isCrl(der: Uint8Array): boolean {
  return parseCrl(der) !== null;
}

/**
 * Why a CRL can vouch for nothing whoever issued it (RFC 5280 §5.1.2.5, §5.2, §5.3: no
 * nextUpdate, no or a critical CRL number, a critical extension, an issuing distribution
 * point or delta CRL indicator even non-critical), or null when it can.
 * Not a CRL at all: `'not a CRL'`.
 * @example crlUnusable(der) // 'no nextUpdate'
 */
export function crlUnusable(der: Uint8Array): string | null {
  const crl = parseCrl(der);
  return crl === null ? 'not a CRL' : crl.unusable;
}

/**
 * Status from CRLs signed by the certificate's issuer; `unknown` when no valid,
 * current CRL of that issuer is at hand. A CRL that names the issuer but cannot be
 * used (the issuer lacks cRLSign, no nextUpdate, no or a critical CRL number, a critical extension
 * Portcullis does not process, an issuing distribution point or delta CRL indicator however
 * marked, a bad signature, out of date) does not vouch for anything.
 * `onStale` is told of a CRL of the certificate's issuer, correctly signed, that is past
 * its nextUpdate (by its index in `crls`), on every lookup that meets it: the caller says
 * so once.
 * @example crlRevocationLookup([crlDer], () => clock.now(), (i) => warnOnce(i))
 */
export function crlRevocationLookup(crls: ReadonlyArray<Uint8Array>, now: () => number, onStale?: (index: number, nextUpdate: number) => void): RevocationLookup {
  const parsed = crls.flatMap((der, index) => {
    const c = parseCrl(der);
    return c !== null && c.unusable === null ? [{ ...c, index }] : [];
  });
  // whether an issuer signed a CRL is a fact about bytes: verified once per pair, as the gateway asks on every request
  const signedBy = parsed.map(() => new WeakMap<ParsedCertificate, boolean>());
  return (cert: ParsedCertificate, issuer: ParsedCertificate): RevocationStatus => {
    let status: RevocationStatus = 'unknown';
    for (const [i, crl] of parsed.entries()) {
      if (!equalBytes(crl.issuer, cert.issuer)) continue;
      const ku = keyUsageOf(issuer);
      if (ku && !ku.has(KU.cRLSign)) continue;
      let signed = signedBy[i]!.get(issuer);
      if (signed === undefined) signedBy[i]!.set(issuer, (signed = verifySignature(issuer.spki, crl.sigOid, crl.tbs, crl.signature)));
      if (!signed) continue;
      const t = now();
      if (crl.thisUpdate > t) continue;
      if (crl.nextUpdate < t) {
        onStale?.(crl.index, crl.nextUpdate);
        continue;
      }
      if (crl.revoked.has(cert.serial)) return 'revoked';
      status = 'good';
    }
    return status;
  };
}
