/**
 * X.509 parsing (RFC 5280 §4.1, §4.2) on @peculiar/asn1-x509: certificates and the
 * extensions the CA and the chain verifier act on, with the raw bytes of the
 * TBSCertificate, names and SubjectPublicKeyInfo kept for exact comparison.
 *
 * Strict: input is accepted only when it is DER. The generic decoder (asn1js) reads
 * BER, so every structure is re-encoded after parsing and must give back the same
 * bytes: DER is the one canonical encoding, and every leniency of a BER reader
 * (long-form or indefinite lengths, an explicit DEFAULT value such as `critical
 * FALSE` or version v1, BOOLEAN TRUE as 0x01, unused bits, trailing data, a field
 * the schema skipped) re-encodes differently. What DER allows but RFC 5280 does
 * not (a non-minimal serial, extensions in a v1 certificate, an empty SAN) is
 * checked by hand. Every failure is an {@link Asn1Error} naming the structure.
 *
 * Certificates are cached by SHA-256 fingerprint: the gateway verifies a client
 * chain on every new TLS connection, and a client reconnecting, the trust anchor
 * and the issuing intermediate are the same bytes each time.
 */
import { hash } from 'node:crypto';
import { AsnConvert, AsnParser } from '@peculiar/asn1-schema';
import {
  AuthorityInfoAccessSyntax,
  AuthorityKeyIdentifier,
  BasicConstraints as AsnBasicConstraints,
  Certificate,
  CRLDistributionPoints,
  ExtendedKeyUsage,
  GeneralName,
  AsnIpConverter,
  KeyUsage,
  NameConstraints as AsnNameConstraints,
  SubjectAlternativeName,
  SubjectKeyIdentifier,
  Version,
  type GeneralSubtrees,
} from '@peculiar/asn1-x509';
import * as asn1js from 'asn1js';

/** A structure that is not well-formed DER of its ASN.1 type (or breaks an RFC 5280 encoding rule). */
export class Asn1Error extends Error {
  override readonly name = 'Asn1Error';
  constructor(
    /** The ASN.1 type, e.g. `Certificate`, `BasicConstraints`. */
    readonly structure: string,
    readonly reason: string,
  ) {
    super(`${structure}: ${reason}`);
  }
}

export const toHex = (b: Uint8Array): string => Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString('hex');

export function equalBytes(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && Buffer.from(a.buffer, a.byteOffset, a.byteLength).equals(Buffer.from(b.buffer, b.byteOffset, b.byteLength));
}

type Ctor<T> = new () => T;

/**
 * Parses `der` as exactly one DER value of `type`; returns the structure and the
 * decoded asn1js tree (its nodes' `valueBeforeDecodeView` are the raw bytes of each part).
 * @example const { value } = parseDer(e.value, BasicConstraints, 'BasicConstraints')
 */
export function parseDer<T>(der: Uint8Array, type: Ctor<T>, what: string): { value: T; tree: asn1js.AsnType } {
  const buf = der.buffer.slice(der.byteOffset, der.byteOffset + der.byteLength) as ArrayBuffer;
  let tree: asn1js.AsnType;
  try {
    const r = asn1js.fromBER(buf);
    if (r.offset === -1) throw new Asn1Error(what, `not DER: ${r.result.error || 'undecodable'}`);
    if (r.offset !== der.byteLength) throw new Asn1Error(what, 'trailing data after the value');
    tree = r.result;
  } catch (e) {
    if (e instanceof Asn1Error) throw e;
    throw new Asn1Error(what, `not DER: ${(e as Error).message}`);
  }
  let value: T;
  try {
    value = AsnParser.fromASN(tree, type);
  } catch (e) {
    throw new Asn1Error(what, `does not match the ASN.1 type (${(e as Error).message.slice(0, 120)})`);
  }
  let again: Uint8Array;
  try {
    again = new Uint8Array(AsnConvert.serialize(value));
  } catch {
    throw new Asn1Error(what, 'holds values that cannot be re-encoded');
  }
  if (!equalBytes(again, der)) throw new Asn1Error(what, 'not DER (the encoding is not the canonical one)');
  return { value, tree };
}

/** The children of a constructed asn1js node (from {@link parseDer}'s tree). */
export function kids(node: asn1js.AsnType | undefined, what: string): asn1js.AsnType[] {
  const v = (node as { valueBlock?: { value?: unknown } } | undefined)?.valueBlock?.value;
  if (!Array.isArray(v)) throw new Asn1Error(what, 'expected a constructed value');
  return v as asn1js.AsnType[];
}

/** The raw DER bytes of an asn1js node. */
export const raw = (node: asn1js.AsnType | undefined, what: string): Uint8Array => {
  if (!node) throw new Asn1Error(what, 'missing field');
  return (node as asn1js.BaseBlock).valueBeforeDecodeView;
};

/** Whether a node carries the context-specific tag [n]. */
export const isContext = (node: asn1js.AsnType | undefined, n: number): boolean => {
  const id = (node as asn1js.BaseBlock | undefined)?.idBlock;
  return id !== undefined && id.tagClass === 3 && id.tagNumber === n;
};

/** Whether a node is a universal INTEGER. */
export const isInteger = (node: asn1js.AsnType | undefined): boolean => {
  const id = (node as asn1js.BaseBlock | undefined)?.idBlock;
  return id !== undefined && id.tagClass === 1 && id.tagNumber === 2;
};

export interface ParsedExtension {
  oid: string;
  critical: boolean;
  /** The extnValue content (the DER of the extension's own structure). */
  value: Uint8Array;
}

export interface ParsedCertificate {
  der: Uint8Array;
  tbs: Uint8Array;
  version: number;
  /** Serial content octets as lower-case hex. */
  serial: string;
  serialBytes: Uint8Array;
  /** The AlgorithmIdentifier inside the TBSCertificate. */
  tbsSignatureAlgorithm: Uint8Array;
  /** The outer AlgorithmIdentifier. */
  signatureAlgorithm: Uint8Array;
  signatureOid: string;
  signature: Uint8Array;
  issuer: Uint8Array;
  subject: Uint8Array;
  notBefore: number;
  notAfter: number;
  spki: Uint8Array;
  /** subjectPublicKey bits (without the unused-bits byte). */
  publicKeyBits: Uint8Array;
  keyAlgorithmOid: string;
  /** The DER of the key algorithm parameters; null when absent or NULL. */
  keyParameters: Uint8Array | null;
  extensions: Map<string, ParsedExtension>;
  /** True when an extension OID appears twice (RFC 5280 §4.2: MUST NOT). */
  duplicateExtension: boolean;
  issuerUniqueId: boolean;
  /** The @peculiar/asn1-x509 structure. */
  asn: Certificate;
}

function parseUncached(der: Uint8Array): ParsedCertificate {
  const W = 'Certificate';
  const { value: cert, tree } = parseDer(der, Certificate, W);
  const [tbsNode, algNode] = kids(tree, W);
  const f = kids(tbsNode, 'TBSCertificate');
  let i = isContext(f[0], 0) ? 1 : 0;
  const tbs = cert.tbsCertificate;
  const serialBytes = new Uint8Array(tbs.serialNumber);
  if (serialBytes.length === 0 || (serialBytes.length > 1 && serialBytes[0] === 0 && !(serialBytes[1]! & 0x80)) || (serialBytes.length > 1 && serialBytes[0] === 0xff && serialBytes[1]! & 0x80)) {
    throw new Asn1Error('TBSCertificate', 'non-minimal serial number');
  }
  i++; // serialNumber
  const tbsSignatureAlgorithm = raw(f[i++], 'TBSCertificate');
  const issuer = raw(f[i++], 'TBSCertificate');
  i++; // validity
  const subject = raw(f[i++], 'TBSCertificate');
  const spki = raw(f[i++], 'TBSCertificate');
  if (tbs.version > Version.v3) throw new Asn1Error('TBSCertificate', 'unknown version');
  const extensions = new Map<string, ParsedExtension>();
  let duplicateExtension = false;
  if (tbs.extensions !== undefined) {
    if (tbs.version !== Version.v3) throw new Asn1Error('TBSCertificate', 'extensions in a non-v3 certificate');
    if (tbs.extensions.length === 0) throw new Asn1Error('Extensions', 'empty');
    for (const e of tbs.extensions) {
      if (extensions.has(e.extnID)) duplicateExtension = true;
      extensions.set(e.extnID, { oid: e.extnID, critical: e.critical, value: new Uint8Array(e.extnValue.buffer) });
    }
  }
  const params = tbs.subjectPublicKeyInfo.algorithm.parameters;
  return {
    der,
    tbs: raw(tbsNode, W),
    version: tbs.version + 1,
    serial: toHex(serialBytes),
    serialBytes,
    tbsSignatureAlgorithm,
    signatureAlgorithm: raw(algNode, W),
    signatureOid: cert.signatureAlgorithm.algorithm,
    signature: new Uint8Array(cert.signatureValue),
    issuer,
    subject,
    notBefore: tbs.validity.notBefore.getTime().getTime(),
    notAfter: tbs.validity.notAfter.getTime().getTime(),
    spki,
    publicKeyBits: new Uint8Array(tbs.subjectPublicKeyInfo.subjectPublicKey),
    keyAlgorithmOid: tbs.subjectPublicKeyInfo.algorithm.algorithm,
    keyParameters: params ? new Uint8Array(params) : null,
    extensions,
    duplicateExtension,
    issuerUniqueId: tbs.issuerUniqueID !== undefined,
    asn: cert,
  };
}

const CACHE_MAX = 1024;
const cache = new Map<string, ParsedCertificate>();

/**
 * Parses a DER certificate; throws {@link Asn1Error} on any encoding problem. Results
 * are cached by SHA-256 fingerprint (treat them as read-only).
 * @example const c = parseCertificate(der); c.serial; c.notAfter; basicConstraintsOf(c)?.ca
 */
export function parseCertificate(der: Uint8Array): ParsedCertificate {
  const fp = hash('sha256', der, 'base64');
  const hit = cache.get(fp);
  if (hit !== undefined) return hit;
  // A private copy: the cached structure must not change with a caller's buffer.
  const c = parseUncached(new Uint8Array(der));
  if (cache.size >= CACHE_MAX) cache.delete(cache.keys().next().value!);
  cache.set(fp, c);
  return c;
}

// ---------------------------------------------------------------- extensions

/** Extension OIDs (RFC 5280 §4.2.1, §4.2.2). */
const OID = {
  subjectKeyIdentifier: '2.5.29.14',
  keyUsage: '2.5.29.15',
  subjectAltName: '2.5.29.17',
  basicConstraints: '2.5.29.19',
  nameConstraints: '2.5.29.30',
  crlDistributionPoints: '2.5.29.31',
  authorityKeyIdentifier: '2.5.29.35',
  extKeyUsage: '2.5.29.37',
  authorityInfoAccess: '1.3.6.1.5.5.7.1.1',
} as const;

const decoded = new WeakMap<ParsedCertificate, Map<string, { v: unknown } | { e: unknown }>>();

/** The decoded extension `oid` of `c` (memoised per certificate), or null when absent. */
function ext<T>(c: ParsedCertificate, oid: string, decode: (value: Uint8Array) => T): T | null {
  const e = c.extensions.get(oid);
  if (!e) return null;
  let m = decoded.get(c);
  if (!m) decoded.set(c, (m = new Map()));
  let r = m.get(oid);
  if (!r) {
    try {
      r = { v: decode(e.value) };
    } catch (err) {
      r = { e: err };
    }
    m.set(oid, r);
  }
  if ('e' in r) throw r.e;
  return r.v as T;
}

export interface BasicConstraints {
  ca: boolean;
  pathLen: number | undefined;
}

export function basicConstraintsOf(c: ParsedCertificate): BasicConstraints | null {
  return ext(c, OID.basicConstraints, (v) => {
    const bc = parseDer(v, AsnBasicConstraints, 'BasicConstraints').value;
    const p = bc.pathLenConstraint;
    if (p !== undefined && !(Number.isSafeInteger(p) && p >= 0 && p < 2 ** 31)) throw new Asn1Error('BasicConstraints', 'bad pathLenConstraint');
    return { ca: bc.cA, pathLen: p };
  });
}

/** The KeyUsage bits that are set (0 = digitalSignature … 8 = decipherOnly), or null when the extension is absent. */
export function keyUsageOf(c: ParsedCertificate): Set<number> | null {
  return ext(c, OID.keyUsage, (v) => {
    const ku = parseDer(v, KeyUsage, 'KeyUsage').value;
    const b = new Uint8Array(ku.value);
    if (b.length === 0) throw new Asn1Error('KeyUsage', 'empty');
    const out = new Set<number>();
    for (let i = 0; i < b.length * 8 - ku.unusedBits; i++) if (b[i >> 3]! & (0x80 >> (i & 7))) out.add(i);
    return out;
  });
}

export function extKeyUsageOf(c: ParsedCertificate): string[] | null {
  return ext(c, OID.extKeyUsage, (v) => {
    const list = [...parseDer(v, ExtendedKeyUsage, 'ExtendedKeyUsage').value];
    if (list.length === 0) throw new Asn1Error('ExtendedKeyUsage', 'empty');
    return list;
  });
}

export type ParsedGeneralName =
  | { type: 'dns'; value: string }
  | { type: 'ip'; value: Uint8Array }
  | { type: 'uri'; value: string }
  | { type: 'email'; value: string }
  | { type: 'dn'; value: Uint8Array }
  | { type: 'other'; tag: number };

/** IA5String contents Portcullis acts on: printable ASCII only. */
function ia5(s: string, what: string): string {
  for (let i = 0; i < s.length; i++) {
    const x = s.charCodeAt(i);
    if (x > 0x7e || x < 0x20) throw new Asn1Error(what, 'non-printable or non-ASCII character in an IA5String name');
  }
  return s;
}

/** The octets of an iPAddress GeneralName (asn1-x509 hands it over as text; its converter is exact for 4, 16, and 8 or 32 octets with a prefix mask). */
function ipBytes(text: string): Uint8Array {
  return new Uint8Array((AsnIpConverter.toASN(text) as asn1js.OctetString).valueBlock.valueHexView);
}

/** A GeneralName as the verifier sees it (the structure was already checked to be DER). */
export function generalName(g: GeneralName): ParsedGeneralName {
  if (g.dNSName !== undefined) return { type: 'dns', value: ia5(g.dNSName, 'GeneralName') };
  if (g.iPAddress !== undefined) return { type: 'ip', value: ipBytes(g.iPAddress) };
  if (g.uniformResourceIdentifier !== undefined) return { type: 'uri', value: ia5(g.uniformResourceIdentifier, 'GeneralName') };
  if (g.rfc822Name !== undefined) return { type: 'email', value: ia5(g.rfc822Name, 'GeneralName') };
  if (g.directoryName !== undefined) return { type: 'dn', value: new Uint8Array(AsnConvert.serialize(g.directoryName)) };
  // Context tags of the remaining forms, as they appear in DER.
  if (g.otherName !== undefined) return { type: 'other', tag: 0xa0 };
  if (g.x400Address !== undefined) return { type: 'other', tag: 0xa3 };
  if (g.ediPartyName !== undefined) return { type: 'other', tag: 0xa5 };
  return { type: 'other', tag: 0x88 };
}

/** Decodes DER GeneralNames (a SAN or IAN value). */
export function generalNames(der: Uint8Array): ParsedGeneralName[] {
  const list = [...parseDer(der, SubjectAlternativeName, 'GeneralNames').value];
  if (list.length === 0) throw new Asn1Error('GeneralNames', 'empty');
  return list.map(generalName);
}

export function subjectAltNamesOf(c: ParsedCertificate): ParsedGeneralName[] | null {
  return ext(c, OID.subjectAltName, generalNames);
}

export function subjectKeyIdOf(c: ParsedCertificate): Uint8Array | null {
  return ext(c, OID.subjectKeyIdentifier, (v) => new Uint8Array(parseDer(v, SubjectKeyIdentifier, 'SubjectKeyIdentifier').value.buffer));
}

export function authorityKeyIdOf(c: ParsedCertificate): Uint8Array | null {
  return ext(c, OID.authorityKeyIdentifier, (v) => {
    const k = parseDer(v, AuthorityKeyIdentifier, 'AuthorityKeyIdentifier').value.keyIdentifier;
    return k ? new Uint8Array(k.buffer) : null;
  });
}

/** The fields of an AuthorityKeyIdentifier (RFC 5280 §4.2.1.1) that are present. */
export function authorityKeyIdFieldsOf(c: ParsedCertificate): { keyIdentifier: Uint8Array | null; authorityCertIssuer: boolean; authorityCertSerialNumber: boolean } | null {
  return ext(c, OID.authorityKeyIdentifier, (v) => {
    const a = parseDer(v, AuthorityKeyIdentifier, 'AuthorityKeyIdentifier').value;
    return {
      keyIdentifier: a.keyIdentifier ? new Uint8Array(a.keyIdentifier.buffer) : null,
      authorityCertIssuer: a.authorityCertIssuer !== undefined,
      authorityCertSerialNumber: a.authorityCertSerialNumber !== undefined,
    };
  });
}

export interface Subtree {
  name: ParsedGeneralName;
}

export interface NameConstraints {
  permitted: Subtree[] | null;
  excluded: Subtree[];
}

/**
 * A domain name in the preferred name syntax of RFC 1034 §3.5 as RFC 1123 relaxed it
 * (LDH labels of 1–63 characters, no empty label), as a RegExp source.
 */
export const LDH_DOMAIN = '(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?\\.)*[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?';

/** A dNSName constraint base: a domain name, no wildcard, no leading period. */
const DNS_CONSTRAINT = new RegExp(`^${LDH_DOMAIN}$`);

function subtrees(t: GeneralSubtrees): Subtree[] {
  if (t.length === 0) throw new Asn1Error('NameConstraints', 'empty GeneralSubtrees');
  return t.map((st) => {
    // RFC 5280 §4.2.1.10: minimum MUST be zero and maximum MUST be absent.
    if (st.minimum !== 0 || st.maximum !== undefined) throw new Asn1Error('NameConstraints', 'a subtree with minimum/maximum');
    const name = generalName(st.base);
    // §4.2.1.10: a dNSName base is a domain name ("" for every name); a leading period is
    // URI and e-mail syntax only, though OpenSSL accepts it for DNS too
    if (name.type === 'dns' && name.value !== '' && !DNS_CONSTRAINT.test(name.value)) throw new Asn1Error('NameConstraints', 'a dNSName subtree that is not a domain name');
    return { name };
  });
}

export function nameConstraintsOf(c: ParsedCertificate): NameConstraints | null {
  return ext(c, OID.nameConstraints, (v) => {
    const nc = parseDer(v, AsnNameConstraints, 'NameConstraints').value;
    if (!nc.permittedSubtrees && !nc.excludedSubtrees) throw new Asn1Error('NameConstraints', 'empty');
    return { permitted: nc.permittedSubtrees ? subtrees(nc.permittedSubtrees) : null, excluded: nc.excludedSubtrees ? subtrees(nc.excludedSubtrees) : [] };
  });
}

/** The URIs of the CRL distribution points (fullName URIs only). */
export function crlDistributionPointsOf(c: ParsedCertificate): string[] | null {
  return ext(c, OID.crlDistributionPoints, (v) => {
    const list = [...parseDer(v, CRLDistributionPoints, 'CRLDistributionPoints').value];
    if (list.length === 0) throw new Asn1Error('CRLDistributionPoints', 'empty');
    return list.flatMap((dp) => (dp.distributionPoint?.fullName ?? []).map(generalName)).flatMap((n) => (n.type === 'uri' ? [n.value] : []));
  });
}

/** The AuthorityInfoAccess entries (RFC 5280 §4.2.2.1) as [method OID, location]. */
export function authorityInfoAccessOf(c: ParsedCertificate): Array<{ method: string; location: ParsedGeneralName }> | null {
  return ext(c, OID.authorityInfoAccess, (v) => {
    const list = [...parseDer(v, AuthorityInfoAccessSyntax, 'AuthorityInfoAccess').value];
    if (list.length === 0) throw new Asn1Error('AuthorityInfoAccess', 'empty');
    return list.map((a) => ({ method: a.accessMethod, location: generalName(a.accessLocation) }));
  });
}
