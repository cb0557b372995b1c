/**
 * Loopback IP literals: 127.0.0.0/8 and ::1 (RFC 1122 §3.2.1.3, RFC 4291 §2.5.3), and an
 * IPv4-mapped form of the first, which a dual-stack socket delivers as IPv4. No other IPv6
 * form embedding 127.0.0.1 is loopback: a NAT64 address (64:ff9b::/96, RFC 6052) is routed to
 * the translator, off the host, and an IPv4-compatible one (::7f00:1) reaches no IPv4 host.
 */
import { BlockList, isIP } from 'node:net';

const LOOPBACK = new BlockList();
LOOPBACK.addSubnet('127.0.0.0', 8, 'ipv4');
LOOPBACK.addAddress('::1', 'ipv6');

/**
 * Whether an IP address is loopback: 127.0.0.0/8 or ::1, in any spelling (`0:0:0:0:0:0:0:1`),
 * IPv4-mapped too (`::ffff:127.0.0.1`, `::ffff:7f00:1`). A name (`localhost`) is not an address: false.
 *
 * @example
 * isLoopbackAddress('::ffff:127.0.0.1'); // true
 * isLoopbackAddress('64:ff9b::7f00:1'); // false (NAT64)
 */
export function isLoopbackAddress(address: string): boolean {
  const version = isIP(address);
  return version !== 0 && LOOPBACK.check(address, version === 4 ? 'ipv4' : 'ipv6');
}
