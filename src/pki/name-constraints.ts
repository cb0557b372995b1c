/**
 * Name constraints (RFC 5280 §4.2.1.10, §6.1.3 (b)-(c)): whether the names of a
 * certificate lie inside a CA's permitted subtrees and outside its excluded ones.
 * A name form that the constraints do not mention is unconstrained.
 */
import { AsnConvert } from '@peculiar/asn1-schema';
import { Name } from '@peculiar/asn1-x509';
import { parseDer, type NameConstraints, type ParsedGeneralName } from './parse.js';

function dnsMatches(name: string, base: string): boolean {
  const n = name.toLowerCase().replace(/\.$/, '');
  const b = base.toLowerCase();
  if (b === '') return true;
  // (a base with a leading period is refused when the constraint is parsed)
  // "Any DNS name that can be constructed by simply adding zero or more labels to
  // the left-hand side of the name satisfies the name constraint."
  return n === b || n.endsWith(`.${b}`);
}

/**
 * Whether a wildcard dNSName (`*.example.com`) could stand for a name inside an
 * excluded subtree: `*.example.com` matches `bar.example.com`, so a CA that forbids
 * `bar.example.com` must not vouch for it (CVE-2025-61727; RFC 5280 leaves wildcards
 * to RFC 9525 and neither says how they meet name constraints, so the check is the
 * defensive one). Names within the subtree itself are caught by `dnsMatches`.
 */
function wildcardCovers(name: string, base: string): boolean {
  const n = name.toLowerCase().replace(/\.$/, '');
  if (!n.startsWith('*.')) return false;
  const b = base.toLowerCase();
  const parent = n.slice(1);
  // the base is one label (what the * stands for) left of the wildcard's parent domain
  return b.endsWith(parent) && b.length > parent.length && !b.slice(0, -parent.length).includes('.');
}

/**
 * The host of a URI as a domain name a URI constraint can be compared with: lower case,
 * the absolute form (`a.example.`) read as the same name (as dnsMatches reads it), port and
 * userinfo set aside. Null when there is none, or when it is no domain name the check can
 * compare: an IP literal (`[::1]`, `10.0.0.1`), percent-encoding, an empty label, a
 * character no host name has, a port that is not digits. RFC 5280 §4.2.1.10 applies the
 * constraint to the host, so such a name is refused under any URI constraint (Go refuses IP
 * hosts and ASCII percent-escapes too).
 */
function uriHost(uri: string): string | null {
  const m = /^[A-Za-z][A-Za-z0-9+.-]*:\/\/([^/?#]*)/.exec(uri);
  if (!m) return null;
  const authority = m[1]!.slice(m[1]!.lastIndexOf('@') + 1);
  const hp = /^([^:]*)(?::\d*)?$/.exec(authority);
  if (!hp || hp[1] === '') return null;
  const host = hp[1]!.toLowerCase().replace(/\.$/, '');
  const labels = host.split('.');
  if (!labels.every((l) => /^[a-z0-9_-]+$/.test(l))) return null;
  // a numeric last label is an IPv4 address (as URL parsers read it: 10.0.0.1, 0x0a.1), never a domain
  if (/^(?:\d+|0x[0-9a-f]*)$/.test(labels[labels.length - 1]!)) return null;
  return host;
}

function uriMatches(uri: string, base: string): boolean {
  const host = uriHost(uri);
  // no host, no match: outside every permitted subtree (refused), and refused by an excluded one in satisfiesNameConstraints
  if (host === null) return false;
  const b = base.toLowerCase();
  // "When the constraint begins with a period, it MAY be expanded with one or more
  // subdomains"; otherwise it specifies a host.
  return b.startsWith('.') ? host.endsWith(b) : host === b;
}

/**
 * The domain of a mailbox, as a mail system reads it: lower-cased, one trailing dot
 * removed (`x@a.evil.example.` is delivered to `a.evil.example`). null when there is none
 * or it is no domain name the check can compare: an address literal (`[10.0.0.1]`), an
 * empty label, a character no host name has.
 */
function emailHost(email: string): string | null {
  const at = email.lastIndexOf('@');
  if (at < 0) return null;
  const host = email.slice(at + 1).toLowerCase().replace(/\.$/, '');
  return host.split('.').every((l) => /^[a-z0-9_-]+$/.test(l)) ? host : null;
}

function emailMatches(email: string, base: string): boolean {
  const host = emailHost(email);
  // no comparable domain, no match: outside every permitted subtree, and refused by an excluded one in satisfiesNameConstraints
  if (host === null) return false;
  const at = email.lastIndexOf('@');
  const b = base.toLowerCase();
  if (b.includes('@')) return email.slice(0, at) === b.slice(0, b.lastIndexOf('@')) && host === b.slice(b.lastIndexOf('@') + 1);
  if (b.startsWith('.')) return host.endsWith(b);
  return host === b;
}

function ipInRange(ip: Uint8Array, base: Uint8Array): boolean {
  if (base.length !== ip.length * 2) return false;
  for (let i = 0; i < ip.length; i++) if ((ip[i]! & base[ip.length + i]!) !== (base[i]! & base[ip.length + i]!)) return false;
  return true;
}

/** The RFC 4291 §2.5.5.2 prefix of an IPv4-mapped IPv6 address, ::ffff:0:0/96. */
const MAPPED = [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff];

const isMapped = (addr: Uint8Array): boolean => addr.length === 16 && MAPPED.every((b, i) => addr[i] === b);

/** The IPv4 address an iPAddress name stands for: itself, or the address an IPv4-mapped IPv6 one carries. */
function ipv4Of(ip: Uint8Array): Uint8Array | null {
  if (ip.length === 4) return ip;
  return isMapped(ip) ? ip.subarray(12) : null;
}

/** The IPv4 subtree an iPAddress constraint stands for: itself, or an IPv6 one inside ::ffff:0:0/96 (mask of at least 96 bits). */
function ipv4SubtreeOf(base: Uint8Array): Uint8Array | null {
  if (base.length === 8) return base;
  if (base.length !== 32 || !isMapped(base.subarray(0, 16)) || !base.subarray(16, 28).every((b) => b === 0xff)) return null;
  return Uint8Array.from([...base.subarray(12, 16), ...base.subarray(28)]);
}

/**
 * Whether an iPAddress name lies in a subtree. An IPv4-mapped address (`::ffff:10.0.0.1`) is
 * compared as its IPv4 address with IPv4 subtrees, since Go's crypto/tls (net.IP.Equal) and
 * others accept a certificate naming it for 10.0.0.1: compared by length, it passed a CA that
 * excludes 10.0.0.0/8. Against a permitted subtree it is that IPv4 address only (an IPv6 range
 * such as ::/0 does not permit it); an excluded IPv6 subtree that holds it as written still
 * excludes it.
 */
function ipMatches(ip: Uint8Array, base: Uint8Array, excluded: boolean): boolean {
  const v4 = ipv4Of(ip);
  const base4 = ipv4SubtreeOf(base);
  if (v4 !== null && base4 !== null && ipInRange(v4, base4)) return true;
  if (isMapped(ip) && !excluded) return false;
  return ipInRange(ip, base);
}

/** Attribute values compared as text (DirectoryString, and IA5String for domainComponent and emailAddress). */
const TEXT_KINDS = ['printableString', 'utf8String', 'teletexString', 'universalString', 'bmpString', 'ia5String'] as const;

/**
 * RFC 5280 §7.1 (after RFC 4518): "case-insensitive" and "insignificant whitespace"
 * — compatibility-normalised, case-folded, leading and trailing whitespace removed and
 * internal runs collapsed to one space. The string type does not take part.
 */
const normalisedText = (s: string): string => s.normalize('NFKC').toLowerCase().replace(/\s+/g, ' ').trim();

/** Each RDN of a Name as a comparable key: its attributes (type and normalised value) as a set. */
function rdns(name: Uint8Array): string[] {
  return parseDer(name, Name, 'Name').value.map((rdn) =>
    JSON.stringify(
      rdn
        .map((atv) => {
          const v = atv.value as unknown as Record<string, unknown>;
          const kind = TEXT_KINDS.find((k) => typeof v[k] === 'string');
          // any other value type is compared by its encoding
          return `${atv.type}=${kind !== undefined ? `t:${normalisedText(v[kind] as string)}` : `b:${Buffer.from(AsnConvert.serialize(atv.value)).toString('hex')}`}`;
        })
        .sort(),
    ),
  );
}

const EMAIL_ADDRESS = '1.2.840.113549.1.9.1';

/**
 * The legacy emailAddress attributes of a subject DN. RFC 5280 §4.2.1.10: "When
 * constraints are imposed on the rfc822Name name form, but the certificate does not
 * include a subject alternative name, the rfc822Name constraint MUST be applied to the
 * attribute of type emailAddress in the subject distinguished name."
 * @example subjectEmailAddresses(leaf.subject) // ['alice@example.com']
 */
export function subjectEmailAddresses(subject: Uint8Array): string[] {
  const out: string[] = [];
  for (const rdn of parseDer(subject, Name, 'Name').value) {
    for (const atv of rdn) if (atv.type === EMAIL_ADDRESS) out.push(atv.value.toString());
  }
  return out;
}

/**
 * DN subtree: the base's RDNs are a prefix of the name's RDNs, each compared as RFC 5280
 * §7.1 asks (normalised text, not bytes), for permitted and excluded subtrees alike: a
 * name re-encoded in another case or string type must not slip past an excluded one.
 */
function dnMatches(name: Uint8Array, base: Uint8Array): boolean {
  const b = rdns(base);
  if (b.length === 0) return true;
  const n = rdns(name);
  if (b.length > n.length) return false;
  return b.every((r, i) => r === n[i]);
}

function matches(name: ParsedGeneralName, base: ParsedGeneralName, excluded: boolean): boolean | null {
  if (name.type !== base.type) return null;
  switch (name.type) {
    case 'dns':
      return dnsMatches(name.value, (base as { value: string }).value);
    case 'uri':
      return uriMatches(name.value, (base as { value: string }).value);
    case 'email':
      return emailMatches(name.value, (base as { value: string }).value);
    case 'ip':
      return ipMatches(name.value, (base as { value: Uint8Array }).value, excluded);
    case 'dn':
      return dnMatches(name.value, (base as { value: Uint8Array }).value);
    default:
      return false;
  }
}

/**
 * True when every name satisfies the constraints.
 * @example satisfiesNameConstraints([{ type: 'dns', value: 'a.example.org' }], nc)
 */
export function satisfiesNameConstraints(names: ParsedGeneralName[], nc: NameConstraints): boolean {
  for (const name of names) {
    for (const ex of nc.excluded) {
      if (matches(name, ex.name, true) === true) return false;
      if (name.type === 'dns' && ex.name.type === 'dns' && wildcardCovers(name.value, ex.name.value)) return false;
      // a form Portcullis cannot compare (otherName, x400Address, ediPartyName) that the constraint names: RFC 5280 §4.2.1.10 says process or reject
      if (name.type === 'other' && ex.name.type === 'other' && ex.name.tag === name.tag) return false;
      // a URI constraint applies to the host: a URI without one (urn:, spiffe:x), or with one that is no domain name (an IP literal, percent-encoded), cannot be processed against it, so it is rejected (as Go does)
      if (name.type === 'uri' && ex.name.type === 'uri' && uriHost(name.value) === null) return false;
      // the same for a mailbox whose domain cannot be compared (an address literal, an empty label)
      if (name.type === 'email' && ex.name.type === 'email' && emailHost(name.value) === null) return false;
    }
    if (nc.permitted) {
      const sameType = nc.permitted.filter((p) => p.name.type === name.type);
      if (sameType.length > 0 && !sameType.some((p) => matches(name, p.name, false) === true)) return false;
      if (name.type === 'other' && nc.permitted.some((p) => p.name.type === 'other')) return false;
    }
  }
  return true;
}
