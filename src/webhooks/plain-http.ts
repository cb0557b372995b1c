/**
 * Which webhook URLs may be plain `http:`. A delivery carries the event and its RFC 9421
 * signature (with the nonce a receiver remembers); over plain HTTP anyone on the path
 * reads them, and can hold a delivery back or send it on later. So `http:` is refused
 * unless the operator opts in with `webhooks.allowInsecureHttp`, or the host is a
 * loopback IP literal (127.0.0.0/8, ::1, ::ffff:127.0.0.0/104: core/loopback.ts), whose
 * traffic never leaves the machine. A `localhost` name is not enough: what it resolves to
 * is the resolver's to say. Nor is a NAT64 address embedding 127.0.0.1 (64:ff9b::7f00:1),
 * though the SSRF guard gives it the embedded address's class (target.ts): it is routed to
 * the NAT64 translator, off the host. Checked when a subscription is made and again before every
 * delivery (a row stored before this rule, or a configuration changed since).
 */
import { isLoopbackAddress } from '../core/loopback.js';

/**
 * Whether `url` is a plain `http:` URL that `allowInsecureHttp` does not admit.
 *
 * @example refusedPlainHttp(new URL('http://hooks.example.com/in'), false); // true
 * refusedPlainHttp(new URL('http://127.0.0.1:9001/in'), false); // false (loopback literal)
 */
export function refusedPlainHttp(url: URL, allowInsecureHttp: boolean): boolean {
  if (url.protocol !== 'http:' || allowInsecureHttp) return false;
  const h = url.hostname.startsWith('[') ? url.hostname.slice(1, -1) : url.hostname;
  return !isLoopbackAddress(h);
}
