/**
 * The client-certificate verifier: RFC 5280 §6 path validation from a presented
 * certificate to configured trust anchors. Checks signatures, validity at a given
 * time, basic constraints and path length, key usage, extended key usage (leaf and
 * any EKU-bearing CA), name constraints, unknown critical extensions, and
 * revocation through an injected status lookup (fail closed on `unknown`).
 */
import { createPublicKey } from 'node:crypto';
import { getPublicSuffix } from 'tldts';
import { PortcullisError, type ErrorCode } from '../core/errors.js';
import { MAX_RSA_BITS, MIN_RSA_BITS } from '../crypto/key-strength.js';
import { EKU, EXT, KU, ipBytes } from './certificate.js';
import { satisfiesNameConstraints, subjectEmailAddresses } from './name-constraints.js';
import {
  Asn1Error,
  LDH_DOMAIN,
  authorityInfoAccessOf,
  authorityKeyIdFieldsOf,
  authorityKeyIdOf,
  basicConstraintsOf,
  crlDistributionPointsOf,
  equalBytes,
  extKeyUsageOf,
  keyUsageOf,
  nameConstraintsOf,
  parseCertificate,
  subjectAltNamesOf,
  subjectKeyIdOf,
  type ParsedCertificate,
  type ParsedGeneralName,
} from './parse.js';
import { isSupportedSignatureAlgorithm, verifySignature } from './verify-signature.js';

export type RevocationStatus = 'good' | 'revoked' | 'unknown';
export type RevocationLookup = (cert: ParsedCertificate, issuer: ParsedCertificate) => Promise<RevocationStatus> | RevocationStatus;

export interface VerifyChainOptions {
  /** Trust anchors (DER). */
  anchors: ReadonlyArray<Uint8Array>;
  /** Untrusted intermediates the peer sent (DER). */
  intermediates?: ReadonlyArray<Uint8Array>;
  /** Validation time, ms since the epoch. */
  at: number;
  /** Required extended key usage of the leaf (default clientAuth); null for none. */
  eku?: string | null;
  /** Revocation lookup for every certificate below the anchor; absent means no revocation check. */
  revocation?: RevocationLookup;
  /** Most intermediates in a path (default 8), self-issued ones not counted. */
  maxIntermediates?: number;
  /** A name the leaf must carry in its SAN. */
  expectedName?: { dns: string } | { ip: string } | { uri: string };
}

export interface VerifiedChain {
  leaf: ParsedCertificate;
  /** Leaf first, anchor last. */
  path: ParsedCertificate[];
  sans: ParsedGeneralName[];
}

const KNOWN_EXTENSIONS = new Set<string>([
  EXT.subjectKeyIdentifier,
  EXT.keyUsage,
  EXT.subjectAltName,
  EXT.issuerAltName,
  EXT.basicConstraints,
  EXT.nameConstraints,
  EXT.crlDistributionPoints,
  EXT.certificatePolicies,
  EXT.authorityKeyIdentifier,
  EXT.extKeyUsage,
  EXT.authorityInfoAccess,
]);

/** Most signature verifications one validation may spend (path-building denial of service). */
const SIGNATURE_BUDGET = 64;

const fail = (code: ErrorCode, msg: string): PortcullisError => new PortcullisError(code, msg);

function parse(der: Uint8Array, what: string): ParsedCertificate {
  try {
    return parseCertificate(der);
  } catch (e) {
    if (e instanceof Asn1Error) throw fail('cert.malformed', `${what} is not a well-formed certificate (${e.message})`);
    throw e;
  }
}

function decode<T>(f: () => T): T {
  try {
    return f();
  } catch (e) {
    if (e instanceof Asn1Error) throw fail('cert.malformed', `malformed extension: ${e.message}`);
    throw e;
  }
}

const isSelfIssued = (c: ParsedCertificate): boolean => equalBytes(c.issuer, c.subject);

/**
 * Keys accepted anywhere in a path: EC P-256/P-384/P-521 (named curves), RSA of 2048 to
 * 16384 bits (OpenSSL verifies with no larger modulus) in whole bytes with an odd public
 * exponent of at least 3 (CA/B BR §6.1.6; with e = 1 anyone can make a signature), Ed25519.
 */
function keyAcceptableUncached(c: ParsedCertificate): boolean {
  try {
    const k = createPublicKey({ key: Buffer.from(c.spki), format: 'der', type: 'spki' });
    const d = k.asymmetricKeyDetails;
    if (k.asymmetricKeyType === 'ec') return c.keyParameters?.[0] === 0x06 && ['prime256v1', 'secp384r1', 'secp521r1'].includes(d?.namedCurve ?? '');
    if (k.asymmetricKeyType === 'rsa') {
      const e = d?.publicExponent ?? 0n;
      const bits = d?.modulusLength ?? 0;
      return bits >= MIN_RSA_BITS && bits <= MAX_RSA_BITS && bits % 8 === 0 && e >= 3n && e % 2n === 1n;
    }
    return k.asymmetricKeyType === 'ed25519';
  } catch {
    return false;
  }
}

/*
 * Per-certificate memos. parseCertificate returns one object per distinct DER (cached by
 * SHA-256 fingerprint), so a client reconnecting, the anchor and the intermediate hit
 * these on every TLS connection: the key check and the signature of a certificate by a
 * given issuer are pure functions of bytes that cannot change. Time, usage and
 * revocation are checked anew on every validation.
 */
const keyOk = new WeakMap<ParsedCertificate, boolean>();
const signatureOk = new WeakMap<ParsedCertificate, WeakMap<ParsedCertificate, boolean>>();

function keyAcceptable(c: ParsedCertificate): boolean {
  let ok = keyOk.get(c);
  if (ok === undefined) keyOk.set(c, (ok = keyAcceptableUncached(c)));
  return ok;
}

/** Whether `issuer`'s key verifies the signature of `c` (memoised per pair). */
function signatureVerifies(c: ParsedCertificate, issuer: ParsedCertificate): boolean {
  let byIssuer = signatureOk.get(c);
  if (!byIssuer) signatureOk.set(c, (byIssuer = new WeakMap()));
  let ok = byIssuer.get(issuer);
  if (ok === undefined) byIssuer.set(issuer, (ok = isSupportedSignatureAlgorithm(c.signatureOid) && verifySignature(issuer.spki, c.signatureOid, c.tbs, c.signature)));
  return ok;
}

/**
 * The instant `at` (ms) as validity checks compare it. RFC 5280 times have whole
 * seconds, so the comparison is at that granularity: a certificate whose notAfter is
 * 00:00:00 is valid through 00:00:00.999 (x509-limbo's validity::notafter-fractional).
 */
export function validitySecond(at: number): number {
  return Math.floor(at / 1000) * 1000;
}

/**
 * Where the instant `at` (ms) falls in a certificate's validity period (RFC 5280 §4.1.2.5),
 * compared in whole seconds (validitySecond). The only check a self-signed client
 * certificate (RFC 8705 §2.2) gets besides its registration.
 *
 * @example if (validityAt(parseCertificate(der), clock.now()) === 'expired') refuse();
 */
export function validityAt(c: { notBefore: number; notAfter: number }, at: number): 'current' | 'not-yet-valid' | 'expired' {
  const second = validitySecond(at);
  if (second < c.notBefore) return 'not-yet-valid';
  if (second > c.notAfter) return 'expired';
  return 'current';
}

/** Checks one certificate on its own: encoding rules, keys, time, critical extensions. */
function checkCertificate(c: ParsedCertificate, at: number, isAnchor: boolean, isLeaf: boolean): void {
  if (!isAnchor) {
    if (!equalBytes(c.tbsSignatureAlgorithm, c.signatureAlgorithm)) throw fail('cert.malformed', 'signature algorithm fields differ');
    if (c.serialBytes.length > 20) throw fail('cert.malformed', 'serial number longer than 20 octets');
    // RFC 5280 §4.2.1.1: AKI MUST be present (except in self-signed roots) and MUST NOT be critical.
    if (!c.extensions.has(EXT.authorityKeyIdentifier)) throw fail('cert.malformed', 'authority key identifier missing');
    // RFC 5280 §4.1.2.2; not asked of trust anchors, whose certificate only carries the
    // anchor's name and key (§6.1.1 (d)): Starfield Root G2, trusted everywhere, has serial 0.
    if (c.serialBytes[0]! & 0x80 || (c.serialBytes.length === 1 && c.serialBytes[0] === 0)) throw fail('cert.malformed', 'serial number is not positive');
  }
  if (c.duplicateExtension) throw fail('cert.malformed', 'duplicate extension');
  if (!keyAcceptable(c)) throw fail('cert.unsupported', 'a certificate in the chain has a weak or unsupported key');
  const aki = c.extensions.get(EXT.authorityKeyIdentifier);
  if (aki?.critical) throw fail('cert.malformed', 'authority key identifier is critical');
  const aia = c.extensions.get(EXT.authorityInfoAccess);
  // RFC 5280 §4.2.2.1: AIA MUST be marked non-critical.
  if (aia?.critical) throw fail('cert.malformed', 'authority information access is critical');
  // Extensions Portcullis does not act on in the path must still be well-formed.
  decode(() => authorityInfoAccessOf(c));
  decode(() => crlDistributionPointsOf(c));
  const san = c.extensions.get(EXT.subjectAltName);
  const emptySubject = c.subject.length === 2;
  // RFC 5280 §4.2.1.6: with an empty subject the SAN MUST be critical; CA/B: otherwise it SHOULD NOT be.
  if (san && emptySubject && !san.critical) throw fail('cert.malformed', 'SAN with an empty subject is not critical');
  if (san && !emptySubject && san.critical && isLeaf) throw fail('cert.malformed', 'critical SAN with a non-empty subject');
  for (const e of c.extensions.values()) {
    if (e.critical && !KNOWN_EXTENSIONS.has(e.oid)) throw fail('cert.unsupported', `unsupported critical extension ${e.oid}`);
  }
  const validity = validityAt(c, at);
  if (validity === 'not-yet-valid') throw fail('cert.not-yet-valid', 'a certificate in the chain is not valid yet');
  if (validity === 'expired') throw fail('cert.expired', 'a certificate in the chain has expired');
}

function checkIssuerRole(ca: ParsedCertificate, belowNonSelfIssued: number, isAnchor: boolean): void {
  const bc = decode(() => basicConstraintsOf(ca));
  if (!bc || !bc.ca) throw fail('cert.not-a-ca', 'an issuer in the chain is not a CA');
  // RFC 5280 §4.2.1.9: CAs MUST mark basicConstraints critical; §4.1.2.6: a CA subject MUST be non-empty; §4.2.1.2: CAs MUST carry an SKI.
  if (!ca.extensions.get(EXT.basicConstraints)!.critical) throw fail('cert.not-a-ca', 'basicConstraints of a CA is not critical');
  if (ca.subject.length === 2) throw fail('cert.not-a-ca', 'a CA has an empty subject');
  if (!ca.extensions.has(EXT.subjectKeyIdentifier)) throw fail('cert.not-a-ca', 'a CA lacks a subject key identifier');
  const nce = ca.extensions.get(EXT.nameConstraints);
  if (nce && !nce.critical) throw fail('cert.not-a-ca', 'name constraints are not critical');
  if (!isAnchor && ca.version !== 3) throw fail('cert.not-a-ca', 'an intermediate is not a v3 certificate');
  const ku = decode(() => keyUsageOf(ca));
  if (ku && !ku.has(KU.keyCertSign)) throw fail('cert.not-a-ca', 'an issuer lacks keyUsage keyCertSign');
  if (bc.pathLen !== undefined && belowNonSelfIssued > bc.pathLen) throw fail('cert.not-a-ca', 'path length constraint exceeded');
}

/**
 * CA/B Forum BR 7.1.2.1.3: a root's authority key identifier, when present, holds only a
 * keyIdentifier, and on a self-signed root that is its own subject key identifier.
 */
function checkAnchorAki(anchor: ParsedCertificate): void {
  const aki = decode(() => authorityKeyIdFieldsOf(anchor));
  if (aki === null) return;
  if (aki.keyIdentifier === null) throw fail('cert.malformed', 'the trust anchor’s authority key identifier has no keyIdentifier');
  if (aki.authorityCertIssuer || aki.authorityCertSerialNumber) throw fail('cert.malformed', 'the trust anchor’s authority key identifier names an issuer or serial number');
  const ski = decode(() => subjectKeyIdOf(anchor));
  if (ski !== null && isSelfIssued(anchor) && !equalBytes(ski, aki.keyIdentifier)) throw fail('cert.malformed', 'the self-signed trust anchor’s authority key identifier differs from its subject key identifier');
}

/** RFC 5280 §4.2.1.6 (preferred name syntax of RFC 1034 §3.5, as RFC 1123 relaxed it) with an optional leading `*.` label. */
const DNS_NAME = new RegExp(`^(?:\\*\\.)?${LDH_DOMAIN}$`);

function namesOf(c: ParsedCertificate): ParsedGeneralName[] {
  const sans = decode(() => subjectAltNamesOf(c)) ?? [];
  // emailAddress in the subject DN is an rfc822Name for name constraints (RFC 5280 §4.2.1.10, §6.1.3 (b))
  const emails = decode(() => subjectEmailAddresses(c.subject)).map((value): ParsedGeneralName => ({ type: 'email', value }));
  return [...sans, ...emails, { type: 'dn', value: c.subject }];
}

/** Name × subtree comparisons allowed per path (rustls-webpki's budget). */
const MAX_NAME_CONSTRAINT_COMPARISONS = 250_000;

/** Validates a candidate path (leaf first, anchor last). */
function validatePath(path: ParsedCertificate[], o: VerifyChainOptions): void {
  const anchorIdx = path.length - 1;
  path.forEach((c, i) => checkCertificate(c, o.at, i === anchorIdx, i === 0));
  // Issuers: basic constraints, key usage, path length, name constraints over everything below.
  let nonSelfIssuedBelow = 0;
  let comparisons = 0;
  for (let i = 1; i < path.length; i++) {
    const below = path[i - 1]!;
    if (i > 1 && !isSelfIssued(below)) nonSelfIssuedBelow++;
    const ca = path[i]!;
    checkIssuerRole(ca, nonSelfIssuedBelow, i === anchorIdx);
    const nc = decode(() => nameConstraintsOf(ca));
    if (nc) {
      // quadratic in names × subtrees: bounded, as rustls-webpki bounds it, so a crafted chain cannot buy minutes of CPU
      const subtrees = (nc.permitted?.length ?? 0) + nc.excluded.length;
      for (let j = i - 1; j >= 0; j--) {
        comparisons += subtrees * (decode(() => subjectAltNamesOf(path[j]!))?.length ?? 0) + subtrees;
        if (comparisons > MAX_NAME_CONSTRAINT_COMPARISONS) throw fail('cert.name-constraint', `the chain needs more than ${MAX_NAME_CONSTRAINT_COMPARISONS} name-constraint comparisons`);
      }
      for (let j = i - 1; j >= 0; j--) {
        const sub = path[j]!;
        // RFC 5280 §6.1.3 (b): self-issued intermediates are exempt.
        if (j > 0 && isSelfIssued(sub)) continue;
        if (!decode(() => satisfiesNameConstraints(namesOf(sub), nc))) throw fail('cert.name-constraint', 'a name in the chain violates a CA name constraint');
      }
    }
  }
  checkAnchorAki(path[anchorIdx]!);
  const leaf = path[0]!;
  for (const n of decode(() => subjectAltNamesOf(leaf)) ?? []) {
    if (n.type === 'dns' && (n.value.length > 253 || !DNS_NAME.test(n.value))) throw fail('cert.malformed', 'a subjectAltName dNSName is not a valid domain name');
  }
  if (o.eku && decode(() => basicConstraintsOf(leaf))?.ca) throw fail('cert.wrong-usage', 'a CA certificate cannot be used as an end-entity certificate');
  if (leaf.extensions.has(EXT.nameConstraints)) throw fail('cert.malformed', 'an end-entity certificate carries name constraints');
  const ku = decode(() => keyUsageOf(leaf));
  if (ku && o.eku && !ku.has(KU.digitalSignature)) throw fail('cert.wrong-usage', 'the certificate key usage does not allow digital signatures');
  if (ku?.has(KU.keyCertSign) && !decode(() => basicConstraintsOf(leaf))?.ca) throw fail('cert.wrong-usage', 'keyCertSign in a non-CA certificate');
  if (o.eku) {
    const leafEku = decode(() => extKeyUsageOf(leaf));
    if (leaf.extensions.get(EXT.extKeyUsage)?.critical) throw fail('cert.wrong-usage', 'critical extended key usage');
    // Web PKI rule (stricter than RFC 5280 §4.2.1.12): the leaf must name the purpose in an EKU.
    if (!leafEku || !leafEku.includes(o.eku)) throw fail('cert.wrong-usage', `the certificate is not valid for ${o.eku === EKU.clientAuth ? 'client' : 'this'} authentication`);
    // CA/B BR 7.1.2.7.10: an end-entity certificate names its purposes, never "any purpose"
    if (leafEku.includes(EKU.any)) throw fail('cert.wrong-usage', 'the certificate allows any extended key usage');
    // the anchor too: its EKU restricts what it vouches for, as its name constraints, path length and keyUsage do
    // (a partner CA for TLS servers only must not admit client certificates; openssl verify -purpose refuses it alike)
    for (const [k, ca] of path.slice(1).entries()) {
      const e = decode(() => extKeyUsageOf(ca));
      if (e && !e.includes(o.eku) && !e.includes(EKU.any)) throw fail('cert.wrong-usage', k + 1 === anchorIdx ? 'the trust anchor does not allow this usage' : 'an intermediate does not allow this usage');
    }
  }
  if (o.expectedName) {
    const sans = decode(() => subjectAltNamesOf(leaf)) ?? [];
    if (!sans.some((n) => nameMatches(n, o.expectedName!))) throw fail('cert.name-mismatch', 'the certificate does not carry the expected name');
  }
}

/**
 * RFC 6125 §6.4: exact DNS match, or a whole-label `*` wildcard in the leftmost label
 * only, never over a whole public suffix (`*.co.uk`, `*.s3.amazonaws.com`: the Public
 * Suffix List through `tldts`, private domains included; CA/B BR 3.2.2.6).
 */
function dnsMatch(pattern: string, name: string): boolean {
  const p = pattern.toLowerCase();
  const n = name.toLowerCase().replace(/\.$/, '');
  if (p === n) return true;
  if (!p.startsWith('*.')) return false;
  const rest = p.slice(2);
  if (rest.includes('*') || rest.split('.').length < 2 || getPublicSuffix(rest, { allowPrivateDomains: true }) === rest) return false;
  const dot = n.indexOf('.');
  return dot > 0 && n.slice(dot + 1) === rest;
}

function nameMatches(n: ParsedGeneralName, want: NonNullable<VerifyChainOptions['expectedName']>): boolean {
  if ('dns' in want) return n.type === 'dns' && dnsMatch(n.value, want.dns);
  if ('ip' in want) return n.type === 'ip' && equalBytes(n.value, ipBytes(want.ip));
  return n.type === 'uri' && n.value === want.uri;
}

/**
 * Builds and validates a path from `leafDer` to one of `o.anchors`; throws a
 * PortcullisError with a `cert.*` code when none is valid.
 * @example const { leaf } = await verifyCertificateChain(peerDer, { anchors: [rootDer], intermediates: [intDer], at: clock.now() });
 */
export async function verifyCertificateChain(leafDer: Uint8Array, o: VerifyChainOptions): Promise<VerifiedChain> {
  const opts = { ...o, eku: o.eku === undefined ? EKU.clientAuth : o.eku };
  const leaf = parse(leafDer, 'the certificate');
  const anchors = o.anchors.map((d) => parse(d, 'a trust anchor'));
  const pool: ParsedCertificate[] = [];
  for (const d of o.intermediates ?? []) {
    try {
      pool.push(parseCertificate(d));
    } catch {
      // An unparsable extra certificate cannot be part of a valid path.
    }
  }
  const maxIntermediates = o.maxIntermediates ?? 8;
  let budget = SIGNATURE_BUDGET;
  let firstError: PortcullisError | null = null;
  const signedBy = (c: ParsedCertificate, issuer: ParsedCertificate): boolean => {
    if (!equalBytes(c.issuer, issuer.subject)) return false;
    const aki = decodeOrNull(() => authorityKeyIdOf(c));
    const ski = decodeOrNull(() => subjectKeyIdOf(issuer));
    if (aki && ski && !equalBytes(aki, ski)) return false;
    if (budget-- <= 0) throw fail('cert.untrusted', 'path building gave up (too many candidate issuers)');
    return signatureVerifies(c, issuer);
  };

  const search = (path: ParsedCertificate[]): ParsedCertificate[] | null => {
    const cur = path[path.length - 1]!;
    for (const a of anchors) {
      if (path.some((p) => equalBytes(p.der, a.der)) && path.length > 1) continue;
      if (equalBytes(cur.der, a.der) && path.length === 1) continue;
      if (!signedBy(cur, a)) continue;
      const full = [...path, a];
      try {
        validatePath(full, opts);
        return full;
      } catch (e) {
        if (!(e instanceof PortcullisError)) throw e;
        firstError ??= e;
      }
    }
    // RFC 5280 §6.1.4 (l): self-issued intermediates (key rollover) are not counted, as for pathLenConstraint;
    // the pool has no repeats and the signature budget bounds the search
    if (path.slice(1).filter((c) => !isSelfIssued(c)).length >= maxIntermediates) return null;
    for (const c of pool) {
      if (path.some((p) => equalBytes(p.der, c.der) || (equalBytes(p.subject, c.subject) && equalBytes(p.spki, c.spki)))) continue;
      if (!signedBy(cur, c)) continue;
      const found = search([...path, c]);
      if (found) return found;
    }
    return null;
  };

  const path = search([leaf]);
  if (!path) {
    if (firstError) throw firstError;
    throw fail('cert.untrusted', 'the certificate does not chain to a trusted CA');
  }
  if (o.revocation) {
    for (let i = 0; i < path.length - 1; i++) {
      const status = await o.revocation(path[i]!, path[i + 1]!);
      if (status === 'revoked') throw fail('cert.revoked', 'a certificate in the chain has been revoked');
      if (status !== 'good') throw fail('cert.revocation-unknown', 'the revocation status of a certificate in the chain is unknown');
    }
  }
  return { leaf, path, sans: decode(() => subjectAltNamesOf(leaf)) ?? [] };
}

function decodeOrNull<T>(f: () => T): T | null {
  try {
    return f();
  } catch {
    return null;
  }
}

export interface VerifiedClient extends VerifiedChain {
  /** The app the certificate is bound to (from `spiffe://<trustDomain>/app/<client_id>`). */
  clientId: string;
  serial: string;
}

/**
 * Verifies a client certificate chain (peer certificate first) and returns the app it is bound to.
 * @example const { clientId } = await verifyClientCertificate(peerChainDer, { anchors: [rootDer], at: clock.now(), trustDomain: 'example.org', revocation: storeRevocationLookup(store) });
 */
export async function verifyClientCertificate(
  chain: ReadonlyArray<Uint8Array>,
  o: Omit<VerifyChainOptions, 'eku' | 'intermediates' | 'expectedName'> & { trustDomain: string },
): Promise<VerifiedClient> {
  if (chain.length === 0) throw fail('cert.untrusted', 'no client certificate was presented');
  const v = await verifyCertificateChain(chain[0]!, { ...o, intermediates: chain.slice(1), eku: EKU.clientAuth });
  const prefix = `spiffe://${o.trustDomain}/app/`;
  const ids = v.sans.filter((n): n is { type: 'uri'; value: string } => n.type === 'uri' && n.value.startsWith(prefix)).map((n) => n.value.slice(prefix.length));
  if (ids.length !== 1 || !/^[A-Za-z0-9._~-]{1,128}$/.test(ids[0]!)) throw fail('cert.name-mismatch', 'the client certificate is not bound to exactly one app of this trust domain');
  return { ...v, clientId: ids[0]!, serial: v.leaf.serial };
}
