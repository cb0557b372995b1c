/**
 * Building and signing X.509 v3 certificates (RFC 5280 §4.1, §4.2) from DER
 * pieces. Constant parts of a profile (issuer name, AKI, CRL DP, AIA, key usage,
 * EKU) are encoded once per issuing CA and reused for every leaf.
 */
import { createHash, randomBytes } from 'node:crypto';
import { isIP } from 'node:net';
import {

  bitString,
  bool,
  children,
  concat,
  content,
  explicit,

  implicitPrim,
  int,
  octets,
  oid,
  printable,
  readOne,
  seq,
  setOf,
  time,
  tlv,
  uint,
  utf8,
} from './der.js';
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

export type NameAttr = 'CN' | 'O' | 'OU' | 'C' | 'L' | 'ST';
const ATTR_OID: Record<NameAttr, string> = { CN: '2.5.4.3', O: '2.5.4.10', OU: '2.5.4.11', C: '2.5.4.6', L: '2.5.4.7', ST: '2.5.4.8' };

/**
 * A distinguished name, one attribute per RDN, in the order given.
 * @example encodeName([['O', 'Portcullis'], ['CN', 'Portcullis Root CA']])
 */
export function encodeName(rdns: ReadonlyArray<readonly [NameAttr, string]>): Uint8Array {
  return seq(...rdns.map(([a, v]) => setOf(seq(oid(ATTR_OID[a]), a === 'C' ? printable(v) : utf8(v)))));
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

export function encodeGeneralName(n: GeneralName): Uint8Array {
  if ('dns' in n) return implicitPrim(2, new TextEncoder().encode(n.dns));
  if ('ip' in n) return implicitPrim(7, ipBytes(n.ip));
  return implicitPrim(6, new TextEncoder().encode(n.uri));
}

export function extension(id: string, critical: boolean, value: Uint8Array): Uint8Array {
  return critical ? seq(oid(id), bool(true), octets(value)) : seq(oid(id), octets(value));
}

/** KeyUsage as a DER named-bit BIT STRING (trailing zero bits removed). */
export function keyUsageValue(bits: number[]): Uint8Array {
  const max = Math.max(...bits);
  const bytes = new Uint8Array(Math.floor(max / 8) + 1);
  for (const b of bits) bytes[b >> 3]! |= 0x80 >> (b & 7);
  return bitString(bytes, 7 - (max & 7));
}

export function basicConstraintsValue(ca: boolean, pathLen?: number): Uint8Array {
  if (!ca) return seq();
  return pathLen === undefined ? seq(bool(true)) : seq(bool(true), int(pathLen));
}

/** RFC 5280 §4.2.1.2 method (1): SHA-1 of the subjectPublicKey bits. */
export function keyIdentifier(spki: Uint8Array): Uint8Array {
  const parts = children(readOne(spki));
  const bits = content(parts[1]!).subarray(1);
  return new Uint8Array(createHash('sha1').update(bits).digest());
}

export const skiValue = (keyId: Uint8Array): Uint8Array => octets(keyId);
export const akiValue = (keyId: Uint8Array): Uint8Array => seq(implicitPrim(0, keyId));
export const ekuValue = (oids: string[]): Uint8Array => seq(...oids.map(oid));
export const sanValue = (names: GeneralName[]): Uint8Array => seq(...names.map(encodeGeneralName));

export function crlDistributionPointsValue(urls: string[]): Uint8Array {
  return seq(...urls.map((u) => seq(explicit(0, tlv(0xa0, encodeGeneralName({ uri: u }))))));
}

export function aiaValue(ocsp: string | undefined, caIssuers: string | undefined): Uint8Array {
  const parts: Uint8Array[] = [];
  if (ocsp) parts.push(seq(oid('1.3.6.1.5.5.7.48.1'), encodeGeneralName({ uri: ocsp })));
  if (caIssuers) parts.push(seq(oid('1.3.6.1.5.5.7.48.2'), encodeGeneralName({ uri: caIssuers })));
  return seq(...parts);
}

/** Name constraints with permitted subtrees only (RFC 5280 §4.2.1.10). */
export function nameConstraintsValue(permitted: { dns?: string[]; uri?: string[]; ip?: string[] }): Uint8Array {
  const subtrees: Uint8Array[] = [];
  for (const d of permitted.dns ?? []) subtrees.push(seq(encodeGeneralName({ dns: d })));
  for (const u of permitted.uri ?? []) subtrees.push(seq(implicitPrim(6, new TextEncoder().encode(u))));
  for (const cidr of permitted.ip ?? []) {
    const [addr, bitsText] = cidr.split('/');
    const a = ipBytes(addr!);
    const bits = Number(bitsText ?? a.length * 8);
    const mask = new Uint8Array(a.length);
    for (let i = 0; i < bits; i++) mask[i >> 3]! |= 0x80 >> (i & 7);
    subtrees.push(seq(implicitPrim(7, concat([a.map((b, i) => b & mask[i]!), mask]))));
  }
  return seq(tlv(0xa0, ...subtrees));
}

/** A positive 127-bit random serial (RFC 5280 §4.1.2.2: at most 20 octets, positive, unique). */
export function randomSerial(): Uint8Array {
  const b = randomBytes(16);
  b[0] = (b[0]! & 0x7f) | 0x40;
  return new Uint8Array(b);
}

export interface TbsInput {
  serial: Uint8Array;
  signatureAlgorithm: Uint8Array;
  issuer: Uint8Array;
  notBefore: number;
  notAfter: number;
  subject: Uint8Array;
  spki: Uint8Array;
  /** Encoded Extension elements, in order. */
  extensions: Uint8Array[];
}

export function encodeTbs(t: TbsInput): Uint8Array {
  return seq(
    explicit(0, int(2)),
    uint(t.serial),
    t.signatureAlgorithm,
    t.issuer,
    seq(time(t.notBefore), time(t.notAfter)),
    t.subject,
    t.spki,
    explicit(3, seq(...t.extensions)),
  );
}

/** Signs a TBS structure (certificate, CRL or OCSP tbsResponseData) into SEQUENCE { tbs, alg, BIT STRING sig }. */
export async function signStructure(tbs: Uint8Array, signer: CaSigner): Promise<Uint8Array> {
  const sig = await signer.sign(tbs);
  return seq(tbs, signer.signatureAlgorithm, bitString(sig));
}
