/** Decoders for the certificate extensions the CA and the verifier act on (RFC 5280 §4.2). */
import { DerError, TAG, children, content, oidToString, readOne, whole, type Tlv } from './der.js';
import { EXT } from './certificate.js';
import type { ParsedCertificate } from './parse.js';

export interface BasicConstraints {
  ca: boolean;
  pathLen: number | undefined;
}

export function basicConstraintsOf(c: ParsedCertificate): BasicConstraints | null {
  const e = c.extensions.get(EXT.basicConstraints);
  if (!e) return null;
  const s = readOne(e.value);
  if (s.tag !== TAG.SEQUENCE) throw new DerError('bad basicConstraints');
  const parts = children(s);
  let ca = false;
  let pathLen: number | undefined;
  let i = 0;
  if (parts[i]?.tag === TAG.BOOLEAN) {
    const b = content(parts[i]!);
    // DER: cA DEFAULT FALSE is omitted when false.
    if (b.length !== 1 || b[0] !== 0xff) throw new DerError('bad cA flag');
    ca = true;
    i++;
  }
  if (parts[i]?.tag === TAG.INTEGER) {
    const b = content(parts[i]!);
    if (b.length === 0 || b[0]! & 0x80 || b.length > 4) throw new DerError('bad pathLenConstraint');
    pathLen = b.reduce((a, x) => a * 256 + x, 0);
    i++;
  }
  if (i !== parts.length) throw new DerError('bad basicConstraints');
  return { ca, pathLen };
}

/** The KeyUsage bits that are set, or null when the extension is absent. */
export function keyUsageOf(c: ParsedCertificate): Set<number> | null {
  const e = c.extensions.get(EXT.keyUsage);
  if (!e) return null;
  const t = readOne(e.value);
  if (t.tag !== TAG.BIT_STRING) throw new DerError('bad keyUsage');
  const b = content(t);
  const unused = b[0]!;
  if (unused > 7 || b.length < 2) throw new DerError('bad keyUsage');
  const out = new Set<number>();
  for (let i = 0; i < (b.length - 1) * 8 - unused; i++) if (b[1 + (i >> 3)]! & (0x80 >> (i & 7))) out.add(i);
  return out;
}

export function extKeyUsageOf(c: ParsedCertificate): string[] | null {
  const e = c.extensions.get(EXT.extKeyUsage);
  if (!e) return null;
  const s = readOne(e.value);
  if (s.tag !== TAG.SEQUENCE) throw new DerError('bad extKeyUsage');
  const list = children(s).map((t) => {
    if (t.tag !== TAG.OID) throw new DerError('bad extKeyUsage');
    return oidToString(content(t));
  });
  if (list.length === 0) throw new DerError('empty extKeyUsage');
  return list;
}

export type ParsedGeneralName =
  | { type: 'dns'; value: string }
  | { type: 'ip'; value: Uint8Array }
  | { type: 'uri'; value: string }
  | { type: 'email'; value: string }
  | { type: 'dn'; value: Uint8Array }
  | { type: 'other'; tag: number };

const ascii = (b: Uint8Array): string => {
  for (const x of b) if (x > 0x7e || x < 0x20) throw new DerError('non-ASCII IA5String');
  return String.fromCharCode(...b);
};

export function parseGeneralName(t: Tlv): ParsedGeneralName {
  switch (t.tag) {
    case 0x82:
      return { type: 'dns', value: ascii(content(t)) };
    case 0x87:
      return { type: 'ip', value: content(t) };
    case 0x86:
      return { type: 'uri', value: ascii(content(t)) };
    case 0x81:
      return { type: 'email', value: ascii(content(t)) };
    case 0xa4:
      return { type: 'dn', value: whole(children(t)[0] ?? t) };
    default:
      return { type: 'other', tag: t.tag };
  }
}

export function generalNames(der: Uint8Array): ParsedGeneralName[] {
  const s = readOne(der);
  if (s.tag !== TAG.SEQUENCE) throw new DerError('bad GeneralNames');
  const list = children(s).map(parseGeneralName);
  if (list.length === 0) throw new DerError('empty GeneralNames');
  return list;
}

export function subjectAltNamesOf(c: ParsedCertificate): ParsedGeneralName[] | null {
  const e = c.extensions.get(EXT.subjectAltName);
  return e ? generalNames(e.value) : null;
}

export function subjectKeyIdOf(c: ParsedCertificate): Uint8Array | null {
  const e = c.extensions.get(EXT.subjectKeyIdentifier);
  if (!e) return null;
  const t = readOne(e.value);
  if (t.tag !== TAG.OCTET_STRING) throw new DerError('bad subjectKeyIdentifier');
  return content(t);
}

export function authorityKeyIdOf(c: ParsedCertificate): Uint8Array | null {
  const e = c.extensions.get(EXT.authorityKeyIdentifier);
  if (!e) return null;
  const s = readOne(e.value);
  if (s.tag !== TAG.SEQUENCE) throw new DerError('bad authorityKeyIdentifier');
  const k = children(s).find((t) => t.tag === 0x80);
  return k ? content(k) : null;
}

export interface Subtree {
  name: ParsedGeneralName;
}

export interface NameConstraints {
  permitted: Subtree[] | null;
  excluded: Subtree[];
}

export function nameConstraintsOf(c: ParsedCertificate): NameConstraints | null {
  const e = c.extensions.get(EXT.nameConstraints);
  if (!e) return null;
  const s = readOne(e.value);
  if (s.tag !== TAG.SEQUENCE) throw new DerError('bad nameConstraints');
  const out: NameConstraints = { permitted: null, excluded: [] };
  const parts = children(s);
  if (parts.length === 0) throw new DerError('empty nameConstraints');
  for (const p of parts) {
    const trees = children(p).map((st) => {
      const f = children(st);
      // RFC 5280 §4.2.1.10: minimum MUST be zero and maximum MUST be absent.
      if (f.length !== 1) throw new DerError('nameConstraints with minimum/maximum');
      return { name: parseGeneralName(f[0]!) };
    });
    if (trees.length === 0) throw new DerError('empty GeneralSubtrees');
    if (p.tag === 0xa0 && out.permitted === null) out.permitted = trees;
    else if (p.tag === 0xa1 && out.excluded.length === 0) out.excluded = trees;
    else throw new DerError('bad nameConstraints');
  }
  return out;
}

/** The attributes of a Name as [oid, value bytes, tag] triples. */
export function nameAttributes(name: Uint8Array): Array<{ oid: string; tag: number; value: Uint8Array }> {
  const out: Array<{ oid: string; tag: number; value: Uint8Array }> = [];
  for (const rdn of children(readOne(name))) {
    if (rdn.tag !== TAG.SET) throw new DerError('bad RDN');
    const atvs = children(rdn);
    if (atvs.length === 0) throw new DerError('empty RDN');
    for (const atv of atvs) {
      const [o, v] = children(atv);
      if (!o || o.tag !== TAG.OID || !v) throw new DerError('bad AttributeTypeAndValue');
      out.push({ oid: oidToString(content(o)), tag: v.tag, value: content(v) });
    }
  }
  return out;
}

/** Common names of a Name, decoded. */
export function commonNames(name: Uint8Array): string[] {
  return nameAttributes(name)
    .filter((a) => a.oid === '2.5.4.3')
    .map((a) => new TextDecoder().decode(a.value));
}

/** A one-line text form for humans (`O=Portcullis, CN=api`). */
export function nameToString(name: Uint8Array): string {
  const short: Record<string, string> = { '2.5.4.3': 'CN', '2.5.4.10': 'O', '2.5.4.11': 'OU', '2.5.4.6': 'C', '2.5.4.7': 'L', '2.5.4.8': 'ST' };
  return nameAttributes(name)
    .map((a) => `${short[a.oid] ?? a.oid}=${new TextDecoder().decode(a.value)}`)
    .join(', ');
}
