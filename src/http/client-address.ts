/**
 * The client address of a request on the identity plane: what the sign-in attempt caps
 * (identity/lockout.ts) count and the `signin.failed` events record. Behind a proxy
 * listed in `gateway.trustedProxies` it is the nearest X-Forwarded-For entry that is not
 * a listed proxy; from any other peer, the connection's address.
 *
 * Proxies do not all write an entry alike: some append `ip:port`, `[v6]:port` or an
 * RFC 7239 quoted `"[v6]:port"`. An entry counts as its address alone (port, brackets and
 * quotes removed, one spelling: `canonicalAddress`), so a client cannot become a new
 * subject with each source port. An entry that is no address at all (`unknown`, an
 * obfuscated `_hidden`, a port above 65535) is not a subject either: the client is then
 * the trusted hop that handed it over, never a fresh identity.
 */
import { isIP } from 'node:net';
import type { FastifyRequest } from 'fastify';
import { proxyList, trustsPeer } from '../gateway/trusted-proxies.js';
import { canonicalAddress } from '../identity/lockout.js';

const BRACKETED = /^\[([^\]]*)\](?::(\d{1,5}))?$/;
const IPV4_PORT = /^([0-9.]+):(\d{1,5})$/;

/**
 * One X-Forwarded-For (or Forwarded `for=`) entry as an address in its canonical
 * spelling; undefined when it is not an IP address, with or without a port.
 *
 * @example forwardedAddress('"[2001:DB8::1]:4711"') // '2001:db8::1'
 */
export function forwardedAddress(entry: string): string | undefined {
  const text = entry.length > 1 && entry.startsWith('"') && entry.endsWith('"') ? entry.slice(1, -1) : entry;
  // brackets hold IPv6 only, a bare `a.b.c.d:port` IPv4 only
  const m = BRACKETED.exec(text) ?? IPV4_PORT.exec(text);
  if (m === null) return canonicalAddress(text);
  if (m[2] !== undefined && Number(m[2]) > 65535) return undefined;
  return isIP(m[1]!) === (text.startsWith('[') ? 6 : 4) ? canonicalAddress(m[1]!) : undefined;
}

/**
 * fastify's `trustProxy` for `gateway.trustedProxies`: whether one hop (the peer or an
 * X-Forwarded-For entry, however spelled) is a listed proxy.
 */
export function proxyTrust(trustedProxies: readonly string[]): (hop: string) => boolean {
  const proxies = proxyList(trustedProxies);
  return (hop) => trustsPeer(proxies, forwardedAddress(hop));
}

/**
 * The request's client address: the last hop fastify's `req.ips` keeps (with `proxyTrust`),
 * or when that entry is no address, the trusted hop before it.
 *
 * @example await pages.post(req.raw, reply.raw, uid, action, form, clientAddress(req));
 */
export function clientAddress(req: FastifyRequest): string | undefined {
  const hops = req.ips ?? [req.ip];
  for (let i = hops.length - 1; i >= 0; i--) {
    const hop = hops[i];
    const a = hop === undefined ? undefined : forwardedAddress(hop);
    if (a !== undefined) return a;
  }
  return undefined;
}
