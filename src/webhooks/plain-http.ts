/**
 * Which webhook URLs may be plain `http:`. A delivery carries the event and its RFC 9421
 * signature (with the nonce a receiver remembers); over plain HTTP anyone on the path
 * reads them, and can hold a delivery back or send it on later. So `http:` is refused
 * unless the operator opts in with `webhooks.allowInsecureHttp`, or the host is a
 * loopback IP literal (127.0.0.0/8, ::1, and IPv6 forms embedding them), whose traffic
 * never leaves the machine. A `localhost` name is not enough: what it resolves to is
 * the resolver's to say. Checked when a subscription is made and again before every
 * delivery (a row stored before this rule, or a configuration changed since).
 */
import { isIP } from 'node:net';
import { forbiddenHostClass } from './target.js';

/**
 * Whether `url` is a plain `http:` URL that `allowInsecureHttp` does not admit.
 *
 * @example refusedPlainHttp(new URL('http://hooks.example.com/in'), false); // true
 * refusedPlainHttp(new URL('http://127.0.0.1:9001/in'), false); // false (loopback literal)
 */
export function refusedPlainHttp(url: URL, allowInsecureHttp: boolean): boolean {
  if (url.protocol !== 'http:' || allowInsecureHttp) return false;
  const h = url.hostname.startsWith('[') ? url.hostname.slice(1, -1) : url.hostname;
  // a literal only: forbiddenHostClass also calls `localhost` names loopback
  return !(isIP(h) !== 0 && forbiddenHostClass(url.hostname) === 'loopback');
}
