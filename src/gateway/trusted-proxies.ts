/**
 * `gateway.trustedProxies`: the proxies in front of this node whose forwarding headers
 * (X-Forwarded-For/-Proto/-Host, Forwarded) are believed. From any other peer those
 * headers are the client's claims about itself. The gateway and the identity plane share
 * this rule.
 */
import { BlockList, isIPv6 } from 'node:net';

/**
 * The list as a BlockList (one native lookup per request), or undefined when empty.
 *
 * @example
 * const proxies = proxyList(config.gateway.trustedProxies);
 * if (trustsPeer(proxies, req.socket.remoteAddress)) keepForwardedHeaders();
 */
export function proxyList(entries: readonly string[]): BlockList | undefined {
  if (entries.length === 0) return undefined;
  const list = new BlockList();
  for (const e of entries) {
    const slash = e.indexOf('/');
    const address = slash === -1 ? e : e.slice(0, slash);
    const type = isIPv6(address) ? 'ipv6' : 'ipv4';
    if (slash === -1) list.addAddress(address, type);
    else list.addSubnet(address, Number(e.slice(slash + 1)), type);
  }
  return list;
}

/** Whether the direct peer `ip` is one of the trusted proxies (an unknown address never is). */
export function trustsPeer(list: BlockList | undefined, ip: string | undefined): boolean {
  return list !== undefined && ip !== undefined && ip !== '' && list.check(ip, isIPv6(ip) ? 'ipv6' : 'ipv4');
}
