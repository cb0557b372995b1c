/**
 * Where webhooks may go (SSRF): only to public unicast addresses, unless the operator
 * opts in with `webhooks.allowPrivateTargets`, which lets them reach internal receivers
 * (loopback, private, link-local…) but never a cloud metadata address (class `metadata`
 * below, in any form). Checked on the URL when a subscription
 * is made (IP literals and `localhost` names), and again on every address a host name
 * resolves to when a delivery connects (the DNS lookup of the connection itself, so a
 * name that rebinds to 127.0.0.1 after registration is still refused).
 *
 * Refused: loopback, unspecified, "this network", RFC 1918 private, shared CGNAT
 * (100.64/10), link-local (169.254/16 with the cloud metadata address, fe80::/10),
 * unique-local (fc00::/7), site-local, multicast, broadcast, documentation (with
 * 3fff::/20, RFC 9637) and benchmarking ranges, IETF protocol assignments, SRv6 SIDs
 * (5f00::/16, RFC 9602), and IPv6 forms that embed an IPv4
 * address (mapped, NAT64, 6to4, Teredo) unless the embedded address is itself public,
 * however the IPv6 address is written (compressed or not, any case), and the rest of
 * ::/8, which IANA's special-purpose registry marks reserved by the IETF (RFC 4291 §2.4):
 * the deprecated IPv4-compatible ::a.b.c.d (never public, whatever it embeds) and the
 * RFC 2765 translated form ::ffff:0:0:0/96 among them; an IPv4-compatible form of a
 * metadata address is `metadata`, as its IPv4-mapped form is, and so is one in the
 * local-use NAT64 prefix 64:ff9b:1::/48 (RFC 8215) at any place RFC 6052 puts it. Also Azure's WireServer,
 * 168.63.129.16: a public address, but one only Azure VMs reach, where the platform
 * answers for the VM (goal state, extension settings, health, DNS), so a cloud metadata
 * endpoint like 169.254.169.254.
 */
import { lookup as dnsLookup, type LookupAddress, type LookupAllOptions, type LookupOneOptions } from 'node:dns';
import { BlockList, isIP } from 'node:net';

const SPECIAL = new BlockList();
for (const [net, bits] of [
  ['0.0.0.0', 8],
  ['10.0.0.0', 8],
  ['100.64.0.0', 10],
  ['127.0.0.0', 8],
  ['169.254.0.0', 16],
  ['172.16.0.0', 12],
  ['192.0.0.0', 24],
  ['192.0.2.0', 24],
  ['192.88.99.0', 24],
  ['192.168.0.0', 16],
  ['198.18.0.0', 15],
  ['198.51.100.0', 24],
  ['203.0.113.0', 24],
  ['224.0.0.0', 4],
  ['240.0.0.0', 4],
  // Azure WireServer: public, yet a platform endpoint inside every Azure VM's network (the metadata class below)
  ['168.63.129.16', 32],
] as const)
  SPECIAL.addSubnet(net, bits, 'ipv4');
for (const [net, bits] of [
  ['::', 128],
  ['::1', 128],
  ['::', 96],
  ['::ffff:0:0:0', 96],
  ['64:ff9b:1::', 48],
  ['100::', 64],
  ['2001::', 23],
  ['2001:db8::', 32],
  ['2002::', 16],
  ['3fff::', 20],
  ['5f00::', 16],
  ['fc00::', 7],
  ['fe80::', 10],
  ['fec0::', 10],
  ['ff00::', 8],
] as const)
  SPECIAL.addSubnet(net, bits, 'ipv6');

/** An IPv6 address in its canonical text (RFC 5952: lower case, longest zero run compressed), as the URL parser writes it. */
function canonicalIpv6(ip: string): string {
  return new URL(`http://[${ip}]/`).hostname.slice(1, -1);
}

/** The eight 16-bit groups of an IPv6 address in canonical text (hex groups, at most one `::`). */
function ipv6Groups(ip: string): number[] {
  const [head, tail] = ip.split('::') as [string, string | undefined];
  const parse = (part: string | undefined): number[] => (part ? part.split(':').map((g) => parseInt(g, 16)) : []);
  const hi = parse(head);
  const lo = parse(tail);
  return [...hi, ...new Array<number>(8 - hi.length - lo.length).fill(0), ...lo];
}

/**
 * The IPv4 address an IPv6 address (canonical text) embeds in its last 32 bits, for
 * ::ffff:0:0/96 and 64:ff9b::/96: read from the groups, not the text, since an embedded
 * 0.0.x.x joins the zero run (`64:ff9b::1` is 0.0.0.1).
 */
function embeddedIpv4(ip: string): string | undefined {
  const g = ipv6Groups(ip);
  const mapped = g[0] === 0 && g[1] === 0 && g[2] === 0 && g[3] === 0 && g[4] === 0 && g[5] === 0xffff;
  const nat64 = g[0] === 0x64 && g[1] === 0xff9b && g[2] === 0 && g[3] === 0 && g[4] === 0 && g[5] === 0;
  if (!mapped && !nat64) return undefined;
  return `${g[6]! >> 8}.${g[6]! & 255}.${g[7]! >> 8}.${g[7]! & 255}`;
}

/**
 * The IPv4 addresses an address in the local-use NAT64 prefix 64:ff9b:1::/48 (RFC 8215)
 * may embed: the translator's prefix is /48, /56, /64 or /96 within it, each placing the
 * IPv4 address elsewhere (RFC 6052 §2.2, skipping bits 64–71), and which one is configured
 * is the network's to say, so every place is read.
 */
function localUseNat64Ipv4s(ip: string): string[] {
  const g = ipv6Groups(ip);
  if (g[0] !== 0x64 || g[1] !== 0xff9b || g[2] !== 1) return [];
  const b = g.flatMap((x) => [x >> 8, x & 255]);
  return [
    [b[6], b[7], b[9], b[10]],
    [b[7], b[9], b[10], b[11]],
    [b[9], b[10], b[11], b[12]],
    [b[12], b[13], b[14], b[15]],
  ].map((o) => o.join('.'));
}

/**
 * The IPv4 address a deprecated IPv4-compatible address (::a.b.c.d, RFC 4291 §2.5.5.1)
 * embeds, for any address in ::/96 but :: and ::1.
 */
function compatibleIpv4(ip: string): string | undefined {
  const g = ipv6Groups(ip);
  if (g.slice(0, 6).some((x) => x !== 0) || (g[6] === 0 && g[7]! <= 1)) return undefined;
  return `${g[6]! >> 8}.${g[6]! & 255}.${g[7]! >> 8}.${g[7]! & 255}`;
}

/** Where the zone id of an IPv6 address (`fe80::1%eth0`, RFC 4007 §11) starts, or -1. */
function zoneStart(ip: string): number {
  return ip.indexOf('%');
}

/**
 * Whether `ip` is a public unicast address a webhook may be sent to; never one with
 * a zone id, which names an interface-scoped destination.
 *
 * @example isPublicAddress('169.254.169.254'); // false
 * isPublicAddress('93.184.215.14'); // true
 */
export function isPublicAddress(ip: string): boolean {
  const family = isIP(ip);
  if (family === 4) return !SPECIAL.check(ip, 'ipv4');
  if (family !== 6 || zoneStart(ip) !== -1) return false;
  const canonical = canonicalIpv6(ip);
  const v4 = embeddedIpv4(canonical);
  if (v4 !== undefined) return isPublicAddress(v4);
  // ::/8 is reserved by the IETF (RFC 4291 §2.4); not in SPECIAL, since BlockList checks an IPv4 address against IPv6 rules as ::ffff:a.b.c.d
  if (ipv6Groups(canonical)[0]! < 0x100) return false;
  return !SPECIAL.check(ip, 'ipv6');
}

/**
 * The kind of a refused address, for the audit trail (which never names the address):
 * `metadata` (cloud instance metadata services), `loopback`, `unspecified` (and "this
 * network"), `link-local`, `private` (RFC 1918, unique-local fc00::/7, site-local),
 * `shared` (CGNAT 100.64/10), `multicast`, `documentation`, `reserved` (every other
 * special-use range: benchmarking, broadcast, IETF and transition ranges), or `none`
 * (a name that resolved to no address).
 */
export type AddressClass = 'metadata' | 'loopback' | 'unspecified' | 'link-local' | 'private' | 'shared' | 'multicast' | 'documentation' | 'reserved' | 'none';

function blockList(v4: ReadonlyArray<readonly [string, number]>, v6: ReadonlyArray<readonly [string, number]>): BlockList {
  const b = new BlockList();
  for (const [net, bits] of v4) b.addSubnet(net, bits, 'ipv4');
  for (const [net, bits] of v6) b.addSubnet(net, bits, 'ipv6');
  return b;
}

/** Checked in this order; a special-use address in none of them is `reserved`. */
const CLASSES: ReadonlyArray<readonly [AddressClass, BlockList]> = [
  // AWS/GCP/Azure/OpenStack, ECS task metadata, Alibaba Cloud, Azure WireServer; AWS and GCP over IPv6
  ['metadata', blockList([['169.254.169.254', 32], ['169.254.170.2', 32], ['100.100.100.200', 32], ['168.63.129.16', 32]], [['fd00:ec2::254', 128], ['fd20:ce::254', 128]])],
  ['loopback', blockList([['127.0.0.0', 8]], [['::1', 128]])],
  ['unspecified', blockList([['0.0.0.0', 8]], [['::', 128]])],
  ['link-local', blockList([['169.254.0.0', 16]], [['fe80::', 10]])],
  ['private', blockList([['10.0.0.0', 8], ['172.16.0.0', 12], ['192.168.0.0', 16]], [['fc00::', 7], ['fec0::', 10]])],
  ['shared', blockList([['100.64.0.0', 10]], [])],
  ['multicast', blockList([['224.0.0.0', 4]], [['ff00::', 8]])],
  ['documentation', blockList([['192.0.2.0', 24], ['198.51.100.0', 24], ['203.0.113.0', 24]], [['2001:db8::', 32], ['3fff::', 20]])],
];

/**
 * The class of a non-public address (undefined for a public one); an IPv6 form that
 * embeds an IPv4 address takes the class of that address, except an IPv4-compatible one,
 * which is `metadata` if it embeds a metadata address and `reserved` otherwise (it does
 * not reach the embedded host, so it is not that host's loopback); one in the local-use
 * NAT64 prefix 64:ff9b:1::/48 likewise, reading every place RFC 6052 may put the IPv4
 * address (the translator's prefix length is not known here); one with a zone id
 * takes the class of the address without it (`reserved` if that is public).
 *
 * @example addressClass('169.254.169.254'); // 'metadata'
 * addressClass('::ffff:10.0.0.1'); // 'private'
 * addressClass('::a9fe:a9fe'); // 'metadata' (IPv4-compatible 169.254.169.254)
 */
export function addressClass(ip: string): AddressClass | undefined {
  if (isPublicAddress(ip)) return undefined;
  const family = isIP(ip);
  const zone = family === 6 ? zoneStart(ip) : -1;
  if (zone !== -1) return addressClass(ip.slice(0, zone)) ?? 'reserved';
  if (family === 6) {
    const canonical = canonicalIpv6(ip);
    const v4 = embeddedIpv4(canonical);
    if (v4 !== undefined) return addressClass(v4);
    const compatible = compatibleIpv4(canonical);
    if (compatible !== undefined) return addressClass(compatible) === 'metadata' ? 'metadata' : 'reserved';
    // behind a local-use translator (its prefix length unknown here): metadata in any place is metadata
    if (localUseNat64Ipv4s(canonical).some((v4) => addressClass(v4) === 'metadata')) return 'metadata';
  }
  if (family === 0) return 'reserved';
  const type = family === 4 ? 'ipv4' : 'ipv6';
  for (const [cls, list] of CLASSES) if (list.check(ip, type)) return cls;
  return 'reserved';
}

/** A refused destination; `code` is what the delivery log records (no socket detail), `addressClass` what the audit trail does. */
export class ForbiddenTargetError extends Error {
  readonly code = 'target-forbidden';
  constructor(
    what: string,
    readonly addressClass: AddressClass,
  ) {
    super(`webhook destination ${what} is not a public address`);
  }
}

/**
 * The class of a URL host (as `URL.hostname` gives it) that is refused before any lookup —
 * a non-public IP literal, or a `localhost` name (`loopback`) — else undefined.
 */
export function forbiddenHostClass(hostname: string): AddressClass | undefined {
  const h = hostname.startsWith('[') ? hostname.slice(1, -1) : hostname;
  if (isIP(h) !== 0) return addressClass(h);
  const name = h.toLowerCase().replace(/\.$/, '');
  return name === 'localhost' || name.endsWith('.localhost') ? 'loopback' : undefined;
}

/** Whether a URL host (as `URL.hostname` gives it) is refused before any lookup: a non-public IP literal or a `localhost` name. */
export function forbiddenHost(hostname: string): boolean {
  return forbiddenHostClass(hostname) !== undefined;
}

type LookupCallback = (err: NodeJS.ErrnoException | null, address: string | LookupAddress[], family?: number) => void;

/** A resolver asked for every address of a name (`dns.lookup` with `all: true`). */
export type ResolveAll = (hostname: string, options: LookupAllOptions, callback: (err: NodeJS.ErrnoException | null, addresses: LookupAddress[]) => void) => void;

/**
 * `resolve` with concurrent lookups of one name (and the same options) sharing one call,
 * each caller getting its answer. `dns.lookup` is getaddrinfo on libuv's thread pool (four
 * threads by default, also hashing passwords and reading files), held until the system
 * resolver gives up on a name server that never answers, however soon the attempt timed
 * out: each attempt to one receiver asking on its own let that receiver hold the pool.
 *
 * @example new Agent({ connect: { lookup: publicOnlyLookupWith(sharedLookups(dns.lookup)) } })
 */
export function sharedLookups(resolve: ResolveAll): ResolveAll {
  const pending = new Map<string, Array<(err: NodeJS.ErrnoException | null, addresses: LookupAddress[]) => void>>();
  return (hostname, options, callback) => {
    const key = JSON.stringify([hostname, options.family ?? 0, options.hints ?? 0, options.order ?? null, options.verbatim ?? null]);
    const waiting = pending.get(key);
    if (waiting !== undefined) return void waiting.push(callback);
    const callers = [callback];
    pending.set(key, callers);
    try {
      resolve(hostname, options, (err, addresses) => {
        pending.delete(key);
        for (const cb of callers) cb(err, addresses);
      });
    } catch (e) {
      pending.delete(key);
      throw e;
    }
  };
}

/**
 * A `net.connect` lookup over `resolve` that refuses (ForbiddenTargetError) when `refused`
 * names a class for any resolved address, or when there is none (every address, so a
 * round-robin name cannot slip one through). The connection goes to an address this one
 * lookup returned: the address checked is the one connected to.
 */
function checkedLookupWith(resolve: ResolveAll, refused: (ip: string) => AddressClass | undefined) {
  return (hostname: string, options: LookupOneOptions | LookupAllOptions, callback: LookupCallback): void => {
    resolve(hostname, { ...options, all: true }, (err, addresses) => {
      if (err) return callback(err, []);
      let cls: AddressClass | undefined = addresses.length === 0 ? 'none' : undefined;
      for (const a of addresses) cls ??= refused(a.address);
      if (cls !== undefined) return callback(new ForbiddenTargetError(hostname, cls) as unknown as NodeJS.ErrnoException, []);
      if ((options as LookupAllOptions).all) return callback(null, addresses);
      callback(null, addresses[0]!.address, addresses[0]!.family);
    });
  };
}

/**
 * A `net.connect` lookup over `resolve` that refuses when any resolved address is not
 * public.
 *
 * @example new Agent({ connect: { lookup: publicOnlyLookupWith(dns.lookup) } })
 */
export function publicOnlyLookupWith(resolve: ResolveAll) {
  return checkedLookupWith(resolve, addressClass);
}

/** {@link publicOnlyLookupWith} over the system resolver (`dns.lookup`). */
export const publicOnlyLookup = publicOnlyLookupWith(dnsLookup);

/**
 * The class an address is refused as under `webhooks.allowPrivateTargets`: `metadata`
 * for a cloud metadata endpoint (in any form), else undefined. The opt-in is for internal
 * receivers, never for the instance's credentials.
 */
export function metadataClass(ip: string): 'metadata' | undefined {
  return addressClass(ip) === 'metadata' ? 'metadata' : undefined;
}

/**
 * The lookup under `webhooks.allowPrivateTargets`: like {@link publicOnlyLookupWith}, but
 * refuses only cloud metadata addresses (and a name that resolved to none); loopback,
 * private and other link-local ones pass.
 */
export function noMetadataLookupWith(resolve: ResolveAll) {
  return checkedLookupWith(resolve, metadataClass);
}
