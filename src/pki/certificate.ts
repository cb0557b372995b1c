/**
 * Building and signing X.509 v3 certificates (RFC 5280 §4.1, §4.2) with the
 * `@peculiar/asn1-x509` structures, serialized by `@peculiar/asn1-schema`.
 *
 * Issuance is bound by ASN.1 work in JavaScript (PERFORMANCE.md), so the constant
 * parts of a profile (issuer name, AKI, CRL DP, AIA, key usage, EKU) are serialized
 * once per issuing CA and carried into every leaf's TBSCertificate as pre-encoded
 * DER (`preEncoded`): per leaf only the serial, validity, subject, SKI and SAN are
 * built.
 */
import { createHash, randomBytes } from 'node:crypto';
import { isIP } from 'node:net';
import { AsnConvert, OctetString } from '@peculiar/asn1-schema';
import {
  AccessDescription,
  AlgorithmIdentifier,
  AttributeTypeAndValue,
  AttributeValue,
  AuthorityInfoAccessSyntax,
  AuthorityKeyIdentifier,
  BasicConstraints,
  CRLDistributionPoints,
  Certificate,
  DistributionPoint,
  DistributionPointName,
  ExtendedKeyUsage,
  Extension,
  Extensions,
  GeneralName as AsnGeneralName,
  GeneralSubtree,
  GeneralSubtrees,
  KeyIdentifier,
  KeyUsage,
  Name,
  NameConstraints,
  RelativeDistinguishedName,
  SubjectAlternativeName,
  SubjectKeyIdentifier,
  SubjectPublicKeyInfo,
  TBSCertificate,
  Validity,
  Version,
  id_ad_caIssuers,
  id_ad_ocsp,
} from '@peculiar/asn1-x509';
import type { CaSigner } from './signer.js';

export const EXT = {
  subjectKeyIdentifier: '2.5.29.14',
  keyUsage: '2.5.29.15',
  subjectAltName: '2.5.29.17',
  issuerAltName: '2.5.29.18',
  basicConstraints: '2.5.29.19',
  crlNumber: '2.5.29.20',
  reasonCode: '2.5.29.21',
  nameConstraints: '2.5.29.30',
  crlDistributionPoints: '2.5.29.31',
  certificatePolicies: '2.5.29.32',
  policyMappings: '2.5.29.33',
  authorityKeyIdentifier: '2.5.29.35',
  policyConstraints: '2.5.29.36',
  extKeyUsage: '2.5.29.37',
  inhibitAnyPolicy: '2.5.29.54',
  authorityInfoAccess: '1.3.6.1.5.5.7.1.1',
} as const;

export const EKU = {
  serverAuth: '1.3.6.1.5.5.7.3.1',
  clientAuth: '1.3.6.1.5.5.7.3.2',
  ocspSigning: '1.3.6.1.5.5.7.3.9',
  any: '2.5.29.37.0',
} as const;

/** KeyUsage bit numbers (RFC 5280 §4.2.1.3). */
export const KU = { digitalSignature: 0, nonRepudiation: 1, keyEncipherment: 2, dataEncipherment: 3, keyAgreement: 4, keyCertSign: 5, cRLSign: 6, encipherOnly: 7, decipherOnly: 8 } as const;

// ---------------------------------------------------------------- asn1-schema glue

const EMPTY = new ArrayBuffer(0);

/** The exact ArrayBuffer of a byte string (no copy when the view spans its whole buffer). */
export function bufferOf(b: Uint8Array): ArrayBuffer {
  return b.byteOffset === 0 && b.byteLength === b.buffer.byteLength && b.buffer instanceof ArrayBuffer ? b.buffer : (b.slice().buffer as ArrayBuffer);
}

/** An asn1js block that writes DER it was given verbatim. */
class RawBlock {
  constructor(private readonly der: ArrayBuffer) {}
  toBER(_sizeOnly?: boolean, writer?: { write(b: ArrayBuffer): void }): ArrayBuffer {
    if (!writer) return this.der;
    writer.write(this.der);
    return EMPTY;
  }
}

/** A pre-encoded value: asn1-schema takes any object with toASN/fromASN as convertible. */
class PreEncoded {
  private readonly block: RawBlock;
  constructor(der: Uint8Array) {
    this.block = new RawBlock(bufferOf(der));
  }
  toASN(): RawBlock {
    return this.block;
  }
  fromASN(): this {
    throw new TypeError('a pre-encoded ASN.1 value is write-only');
  }
}

/**
 * DER that was serialized before (a template piece, a key's SubjectPublicKeyInfo),
 * placed where asn1-schema expects a `T` and written out unchanged.
 * @example new TBSCertificate({ issuer: preEncoded<Name>(issuerDer), ... })
 */
export function preEncoded<T>(der: Uint8Array): T {
  return new PreEncoded(der) as unknown as T;
}

/** `AsnConvert.serialize` as a Uint8Array. */
export function serialize(value: unknown): Uint8Array {
  return new Uint8Array(AsnConvert.serialize(value));
}

/** Byte-wise equality of two public byte strings (names, keys; not for secrets). */
export function bytesEqual(a: Uint8Array, b: Uint8Array): boolean {
  return a.byteLength === b.byteLength && Buffer.compare(a, b) === 0;
}

// ---------------------------------------------------------------- names

export type NameAttr = 'CN' | 'O' | 'OU' | 'C' | 'L' | 'ST';
const ATTR_OID: Record<NameAttr, string> = { CN: '2.5.4.3', O: '2.5.4.10', OU: '2.5.4.11', C: '2.5.4.6', L: '2.5.4.7', ST: '2.5.4.8' };

/** A distinguished name, one attribute per RDN, in the order given (countryName as PrintableString, the rest UTF8String). */
export function nameOf(rdns: ReadonlyArray<readonly [NameAttr, string]>): Name {
  return new Name(
    rdns.map(
      ([a, v]) =>
        new RelativeDistinguishedName([
          new AttributeTypeAndValue({ type: ATTR_OID[a], value: new AttributeValue(a === 'C' ? { printableString: v } : { utf8String: v }) }),
        ]),
    ),
  );
}

/**
 * A distinguished name as DER.
 * @example encodeName([['O', 'Portcullis'], ['CN', 'Portcullis Root CA']])
 */
export function encodeName(rdns: ReadonlyArray<readonly [NameAttr, string]>): Uint8Array {
  return serialize(nameOf(rdns));
}

export type GeneralName = { dns: string } | { ip: string } | { uri: string };

/** IPv4/IPv6 text to its 4/16 octets. */
export function ipBytes(ip: string): Uint8Array {
  const v = isIP(ip);
  if (v === 4) return Uint8Array.from(ip.split('.').map(Number));
  if (v !== 6) throw new RangeError(`not an IP address: ${ip}`);
  let s = ip;
  let v4: Uint8Array | null = null;
  const last = s.lastIndexOf(':');
  if (s.slice(last + 1).includes('.')) {
    v4 = ipBytes(s.slice(last + 1));
    s = `${s.slice(0, last + 1)}0:0`;
  }
  const cut = s.indexOf('::');
  const head = cut < 0 ? s.split(':') : s.slice(0, cut) ? s.slice(0, cut).split(':') : [];
  const tail = cut < 0 ? [] : s.slice(cut + 2) ? s.slice(cut + 2).split(':') : [];
  const words = cut < 0 ? head : [...head, ...new Array<string>(8 - head.length - tail.length).fill('0'), ...tail];
  const out = new Uint8Array(16);
  words.forEach((w, i) => {
    const n = parseInt(w, 16);
    out[i * 2] = n >> 8;
    out[i * 2 + 1] = n & 0xff;
  });
  if (v4) out.set(v4, 12);
  return out;
}

/**
 * iPAddress octets (an address, or address and contiguous mask in a name constraint)
 * in the text form asn1-x509's iPAddress converter reads back to the same octets:
 * dotted IPv4, eight uncompressed IPv6 groups, `/prefix` for a mask.
 */
function ipText(octets: Uint8Array): string {
  const addr = (b: Uint8Array): string =>
    b.length === 4 ? b.join('.') : Array.from({ length: 8 }, (_, i) => ((b[i * 2]! << 8) | b[i * 2 + 1]!).toString(16)).join(':');
  if (octets.length === 4 || octets.length === 16) return addr(octets);
  const half = octets.length / 2;
  let prefix = 0;
  for (const b of octets.subarray(half)) for (let m = 0x80; m; m >>= 1) if (b & m) prefix++;
  return `${addr(octets.subarray(0, half))}/${prefix}`;
}

export function generalNameOf(n: GeneralName): AsnGeneralName {
  if ('dns' in n) return new AsnGeneralName({ dNSName: n.dns });
  if ('ip' in n) return new AsnGeneralName({ iPAddress: ipText(ipBytes(n.ip)) });
  return new AsnGeneralName({ uniformResourceIdentifier: n.uri });
}

export function encodeGeneralName(n: GeneralName): Uint8Array {
  return serialize(generalNameOf(n));
}

// ---------------------------------------------------------------- extensions

/** An Extension whose extnValue is the given DER. */
export function extensionOf(id: string, critical: boolean, value: Uint8Array): Extension {
  return new Extension({ extnID: id, critical, extnValue: new OctetString(bufferOf(value)) });
}

export function extension(id: string, critical: boolean, value: Uint8Array): Uint8Array {
  return serialize(extensionOf(id, critical, value));
}

/** KeyUsage as a DER named-bit BIT STRING (trailing zero bits removed). */
export function keyUsageValue(bits: number[]): Uint8Array {
  return serialize(new KeyUsage(bits.reduce((flags, b) => flags | (1 << b), 0)));
}

export function basicConstraintsValue(ca: boolean, pathLen?: number): Uint8Array {
  return serialize(new BasicConstraints(ca ? (pathLen === undefined ? { cA: true } : { cA: true, pathLenConstraint: pathLen }) : {}));
}

/** RFC 5280 §4.2.1.2 method (1): SHA-1 of the subjectPublicKey bits. */
export function keyIdentifier(spki: Uint8Array): Uint8Array {
  const bits = AsnConvert.parse(spki, SubjectPublicKeyInfo).subjectPublicKey;
  return new Uint8Array(createHash('sha1').update(new Uint8Array(bits)).digest());
}

export const skiValue = (keyId: Uint8Array): Uint8Array => serialize(new SubjectKeyIdentifier(bufferOf(keyId)));
export const akiValue = (keyId: Uint8Array): Uint8Array => serialize(new AuthorityKeyIdentifier({ keyIdentifier: new KeyIdentifier(bufferOf(keyId)) }));
export const ekuValue = (oids: string[]): Uint8Array => serialize(new ExtendedKeyUsage(oids));
export const sanValue = (names: GeneralName[]): Uint8Array => serialize(new SubjectAlternativeName(names.map(generalNameOf)));

export function crlDistributionPointsValue(urls: string[]): Uint8Array {
  return serialize(
    new CRLDistributionPoints(
      urls.map((u) => new DistributionPoint({ distributionPoint: new DistributionPointName({ fullName: [generalNameOf({ uri: u })] }) })),
    ),
  );
}

export function aiaValue(ocsp: string | undefined, caIssuers: string | undefined): Uint8Array {
  const parts: AccessDescription[] = [];
  if (ocsp) parts.push(new AccessDescription({ accessMethod: id_ad_ocsp, accessLocation: generalNameOf({ uri: ocsp }) }));
  if (caIssuers) parts.push(new AccessDescription({ accessMethod: id_ad_caIssuers, accessLocation: generalNameOf({ uri: caIssuers }) }));
  return serialize(new AuthorityInfoAccessSyntax(parts));
}

/** Name constraints with permitted subtrees only (RFC 5280 §4.2.1.10). */
export function nameConstraintsValue(permitted: { dns?: string[]; uri?: string[]; ip?: string[] }): Uint8Array {
  const subtrees: GeneralSubtree[] = [];
  for (const d of permitted.dns ?? []) subtrees.push(new GeneralSubtree({ base: generalNameOf({ dns: d }) }));
  for (const u of permitted.uri ?? []) subtrees.push(new GeneralSubtree({ base: generalNameOf({ uri: u }) }));
  for (const cidr of permitted.ip ?? []) {
    const [addr, bitsText] = cidr.split('/');
    const a = ipBytes(addr!);
    const bits = Number(bitsText ?? a.length * 8);
    const mask = new Uint8Array(a.length);
    for (let i = 0; i < bits; i++) mask[i >> 3]! |= 0x80 >> (i & 7);
    const octets = new Uint8Array(a.length * 2);
    octets.set(a.map((b, i) => b & mask[i]!));
    octets.set(mask, a.length);
    subtrees.push(new GeneralSubtree({ base: new AsnGeneralName({ iPAddress: ipText(octets) }) }));
  }
  return serialize(new NameConstraints({ permittedSubtrees: new GeneralSubtrees(subtrees) }));
}

// ---------------------------------------------------------------- TBSCertificate

/** A positive 127-bit random serial (RFC 5280 §4.1.2.2: at most 20 octets, positive, unique). */
export function randomSerial(): Uint8Array {
  const b = randomBytes(16);
  b[0] = (b[0]! & 0x7f) | 0x40;
  return new Uint8Array(b);
}

/** The INTEGER content octets of a non-negative number given as unsigned big-endian bytes (minimal, sign octet added). */
export function integerOctets(bytes: Uint8Array): Uint8Array {
  let i = 0;
  while (i < bytes.length - 1 && bytes[i] === 0) i++;
  const b = bytes.subarray(i);
  if (b.length === 0) return Uint8Array.of(0);
  if (!(b[0]! & 0x80)) return b;
  const out = new Uint8Array(b.length + 1);
  out.set(b, 1);
  return out;
}

export interface TbsInput {
  serial: Uint8Array;
  /** DER AlgorithmIdentifier. */
  signatureAlgorithm: Uint8Array;
  /** DER Name. */
  issuer: Uint8Array;
  notBefore: number;
  notAfter: number;
  /** DER Name. */
  subject: Uint8Array;
  /** DER SubjectPublicKeyInfo. */
  spki: Uint8Array;
  /** Encoded Extension elements, or Extension objects, in order. */
  extensions: Array<Uint8Array | Extension>;
}

/** A v3 TBSCertificate; the DER pieces of `t` are carried pre-encoded. */
export function tbsCertificateOf(t: TbsInput): TBSCertificate {
  return new TBSCertificate({
    version: Version.v3,
    serialNumber: bufferOf(integerOctets(t.serial)),
    signature: preEncoded<AlgorithmIdentifier>(t.signatureAlgorithm),
    issuer: preEncoded<Name>(t.issuer),
    // Time picks UTCTime through 2049 and GeneralizedTime from 2050 (RFC 5280 §4.1.2.5).
    validity: new Validity({ notBefore: new Date(t.notBefore), notAfter: new Date(t.notAfter) }),
    subject: preEncoded<Name>(t.subject),
    subjectPublicKeyInfo: preEncoded<SubjectPublicKeyInfo>(t.spki),
    extensions: new Extensions(t.extensions.map((e) => (e instanceof Uint8Array ? preEncoded<Extension>(e) : e))),
  });
}

export function encodeTbs(t: TbsInput): Uint8Array {
  return serialize(tbsCertificateOf(t));
}

/**
 * Signs a DER TBS structure (certificate, CRL or OCSP tbsResponseData) into the
 * shape they share: SEQUENCE { tbs, signatureAlgorithm, BIT STRING signature }
 * (written through asn1-x509's Certificate).
 */
export async function signStructure(tbs: Uint8Array, signer: CaSigner): Promise<Uint8Array> {
  const sig = await signer.sign(tbs);
  return serialize(
    new Certificate({
      tbsCertificate: preEncoded<TBSCertificate>(tbs),
      signatureAlgorithm: preEncoded<AlgorithmIdentifier>(signer.signatureAlgorithm),
      signatureValue: bufferOf(sig),
    }),
  );
}
