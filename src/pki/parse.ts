/**
 * A strict X.509 certificate parser (RFC 5280 §4.1) over the DER reader: the
 * fields the CA and the chain verifier need, with the raw bytes of names, the
 * TBSCertificate and the SubjectPublicKeyInfo kept for exact comparison.
 */
import { DerError, TAG, children, content, expectTag, oidToString, readOne, whole, type Tlv } from './der.js';

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
  keyParameters: Uint8Array | null;
  extensions: Map<string, ParsedExtension>;
  /** True when an extension OID appears twice (RFC 5280 §4.2: MUST NOT). */
  duplicateExtension: boolean;
  issuerUniqueId: boolean;
}

/** Parses UTCTime / GeneralizedTime content strictly (RFC 5280 §4.1.2.5: seconds, Zulu). */
export function parseTime(t: Tlv): number {
  const s = new TextDecoder().decode(content(t));
  let m: RegExpExecArray | null;
  let y: number;
  if (t.tag === TAG.UTC_TIME) {
    m = /^(\d\d)(\d\d)(\d\d)(\d\d)(\d\d)(\d\d)Z$/.exec(s);
    if (!m) throw new DerError('bad UTCTime');
    y = Number(m[1]);
    y += y < 50 ? 2000 : 1900;
  } else if (t.tag === TAG.GENERALIZED_TIME) {
    m = /^(\d\d\d\d)(\d\d)(\d\d)(\d\d)(\d\d)(\d\d)(?:\.\d*[1-9])?Z$/.exec(s);
    if (!m) throw new DerError('bad GeneralizedTime');
    y = Number(m[1]);
  } else throw new DerError('expected a time');
  const [mo, d, h, mi, se] = [m[2], m[3], m[4], m[5], m[6]].map(Number) as [number, number, number, number, number];
  if (mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 || se > 59) throw new DerError('bad time value');
  const ms = Date.UTC(y, mo - 1, d, h, mi, se);
  if (new Date(ms).getUTCDate() !== d) throw new DerError('bad day of month');
  return ms;
}

export const toHex = (b: Uint8Array): string => Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString('hex');

/** Parses a certificate; throws DerError on any encoding problem. */
export function parseCertificate(der: Uint8Array): ParsedCertificate {
  const cert = expectTag(readOne(der), TAG.SEQUENCE, 'Certificate');
  const [tbsT, algT, sigT, ...extra] = children(cert);
  if (extra.length) throw new DerError('trailing fields in Certificate');
  expectTag(tbsT, TAG.SEQUENCE, 'TBSCertificate');
  expectTag(algT, TAG.SEQUENCE, 'signatureAlgorithm');
  expectTag(sigT, TAG.BIT_STRING, 'signatureValue');
  const f = children(tbsT!);
  let i = 0;
  let version = 1;
  if (f[i]?.tag === 0xa0) {
    const v = children(f[i]!);
    const vt = expectTag(v[0], TAG.INTEGER, 'version');
    const vc = content(vt);
    if (v.length !== 1 || vc.length !== 1) throw new DerError('bad version');
    version = vc[0]! + 1;
    // DER: DEFAULT v1 MUST be omitted.
    if (version === 1 || version > 3) throw new DerError('bad version');
    i++;
  }
  const serialT = expectTag(f[i++], TAG.INTEGER, 'serialNumber');
  const serialBytes = content(serialT);
  if (serialBytes.length === 0 || (serialBytes.length > 1 && serialBytes[0] === 0 && !(serialBytes[1]! & 0x80))) throw new DerError('non-minimal serial');
  const tbsAlg = expectTag(f[i++], TAG.SEQUENCE, 'signature');
  const issuer = expectTag(f[i++], TAG.SEQUENCE, 'issuer');
  const validity = children(expectTag(f[i++], TAG.SEQUENCE, 'validity'));
  if (validity.length !== 2) throw new DerError('bad validity');
  const subject = expectTag(f[i++], TAG.SEQUENCE, 'subject');
  const spkiT = expectTag(f[i++], TAG.SEQUENCE, 'subjectPublicKeyInfo');
  const [keyAlgT, keyBitsT] = children(spkiT);
  const keyAlg = children(expectTag(keyAlgT, TAG.SEQUENCE, 'algorithm'));
  const keyBits = content(expectTag(keyBitsT, TAG.BIT_STRING, 'subjectPublicKey'));
  let issuerUniqueId = false;
  if (f[i]?.tag === 0x81) {
    issuerUniqueId = true;
    i++;
  }
  if (f[i]?.tag === 0x82) i++;
  const extensions = new Map<string, ParsedExtension>();
  let duplicateExtension = false;
  if (f[i]?.tag === 0xa3) {
    if (version !== 3) throw new DerError('extensions in a non-v3 certificate');
    const list = children(expectTag(children(f[i]!)[0], TAG.SEQUENCE, 'Extensions'));
    if (list.length === 0) throw new DerError('empty Extensions');
    for (const e of list) {
      const parts = children(expectTag(e, TAG.SEQUENCE, 'Extension'));
      const id = oidToString(content(expectTag(parts[0], TAG.OID, 'extnID')));
      let critical = false;
      let k = 1;
      if (parts[k]?.tag === TAG.BOOLEAN) {
        const b = content(parts[k]!);
        // DER: DEFAULT FALSE is omitted and TRUE is 0xFF.
        if (b.length !== 1 || b[0] !== 0xff) throw new DerError('bad critical flag');
        critical = true;
        k++;
      }
      const value = content(expectTag(parts[k], TAG.OCTET_STRING, 'extnValue'));
      if (parts.length !== k + 1) throw new DerError('bad Extension');
      if (extensions.has(id)) duplicateExtension = true;
      extensions.set(id, { oid: id, critical, value });
    }
    i++;
  }
  if (i !== f.length) throw new DerError('unexpected fields in TBSCertificate');
  const sigBytes = content(sigT!);
  if (sigBytes[0] !== 0) throw new DerError('signature with unused bits');
  const algParts = children(algT!);
  return {
    der,
    tbs: whole(tbsT!),
    version,
    serial: toHex(serialBytes),
    serialBytes,
    tbsSignatureAlgorithm: whole(tbsAlg),
    signatureAlgorithm: whole(algT!),
    signatureOid: oidToString(content(expectTag(algParts[0], TAG.OID, 'algorithm'))),
    signature: sigBytes.subarray(1),
    issuer: whole(issuer),
    subject: whole(subject),
    notBefore: parseTime(validity[0]!),
    notAfter: parseTime(validity[1]!),
    spki: whole(spkiT),
    publicKeyBits: keyBits.subarray(1),
    keyAlgorithmOid: oidToString(content(expectTag(keyAlg[0], TAG.OID, 'key algorithm'))),
    keyParameters: keyAlg[1] ? whole(keyAlg[1]) : null,
    extensions,
    duplicateExtension,
    issuerUniqueId,
  };
}
