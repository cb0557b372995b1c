/**
 * The identity plane's rule for forwarding headers, the gateway's (`gateway.trustedProxies`):
 * X-Forwarded-Host/-Proto/-For/… and Forwarded are kept only when the direct peer is a
 * trusted proxy. From any other peer they are removed before any handler reads them —
 * ours, or oidc-provider's, whose Koa takes the host, scheme (and with it the cookies'
 * `secure` flag) and client address from them — so a client cannot choose the URLs the
 * provider builds (redirects, form actions).
 *
 * From a trusted proxy, X-Forwarded-Host and X-Forwarded-Proto are then cut to their
 * last value (`lastForwardedValues`, once every value is checked).
 */
import type { IncomingMessage } from 'node:http';
import { PortcullisError } from '../core/errors.js';
import { parseForwarded } from '../gateway/forwarded.js';
import { proxyList, trustsPeer } from '../gateway/trusted-proxies.js';

const isForwarding = (name: string): boolean => name === 'forwarded' || name.startsWith('x-forwarded-');

/**
 * Returns a function that strips forwarding headers from a request whose peer is not
 * one of `trustedProxies` (addresses or CIDR blocks).
 *
 * @example
 * const strip = forwardedHeaderGuard(config.gateway.trustedProxies);
 * app.addHook('onRequest', (req, _reply, done) => (strip(req.raw), done()));
 */
export function forwardedHeaderGuard(trustedProxies: readonly string[]): (req: IncomingMessage) => void {
  const proxies = proxyList(trustedProxies);
  return (req) => {
    let present = false;
    for (const name in req.headers) if (isForwarding(name)) present = true;
    if (!present || trustsPeer(proxies, req.socket.remoteAddress)) return;
    for (const name of Object.keys(req.headers)) if (isForwarding(name)) delete req.headers[name];
    const raw: string[] = [];
    for (let i = 0; i < req.rawHeaders.length; i += 2) if (!isForwarding(req.rawHeaders[i]!.toLowerCase())) raw.push(req.rawHeaders[i]!, req.rawHeaders[i + 1]!);
    req.rawHeaders = raw;
  };
}

/**
 * Cuts X-Forwarded-Host and X-Forwarded-Proto to their last value. Koa reads the first,
 * and a proxy that appends to what the client sent leaves the client's value first; the
 * last is the one the trusted peer itself added (with a chain of appending proxies, the
 * innermost one's: a wrong host fails, a client's choice is never used). Run after
 * `forwardedHeaderGuard` and the checks of every value.
 */
export function lastForwardedValues(req: IncomingMessage): void {
  lastValueOnly(req, 'x-forwarded-host');
  lastValueOnly(req, 'x-forwarded-proto');
}

/** Cuts a list field to its last value, in `headers` and in `rawHeaders` (one line). */
function lastValueOnly(req: IncomingMessage, name: string): void {
  const v = req.headers[name];
  if (v === undefined || (typeof v === 'string' && !v.includes(','))) return;
  const joined = Array.isArray(v) ? v.join(',') : v;
  const last = joined.slice(joined.lastIndexOf(',') + 1).trim();
  req.headers[name] = last;
  const raw: string[] = [];
  let kept = false;
  for (let i = 0; i < req.rawHeaders.length; i += 2) {
    if (req.rawHeaders[i]!.toLowerCase() !== name) raw.push(req.rawHeaders[i]!, req.rawHeaders[i + 1]!);
    else if (!kept) {
      raw.push(req.rawHeaders[i]!, last);
      kept = true;
    }
  }
  req.rawHeaders = raw;
}

/**
 * A trusted proxy that writes only RFC 7239 `Forwarded`: the `for=` of its elements become
 * X-Forwarded-For, and the `host=` and `proto=` of its last element (the one the trusted
 * peer added) X-Forwarded-Host and -Proto, where the request has no field of that name, so
 * the client address, host and scheme are read from either form alike. Where the request
 * has both forms, the last X-Forwarded-Host and -Proto must equal (any case) that element's
 * `host=` and `proto=`: a proxy that writes one form may pass its client's other form on,
 * so a disagreement is refused rather than one form chosen. Throws `request.malformed`
 * for a Forwarded field that is not RFC 7239 syntax and for such a disagreement. Run after
 * `forwardedHeaderGuard` (which removes Forwarded from any other peer).
 */
export function forwardedAsXForwarded(req: IncomingMessage): void {
  const field = req.headers['forwarded'];
  if (field === undefined) return;
  const elements = parseForwarded(Array.isArray(field) ? field.join(',') : field);
  const set = (name: string, value: string | undefined, mustAgree: boolean) => {
    if (value === undefined) return;
    const present = req.headers[name];
    if (present === undefined) {
      req.headers[name] = value;
      req.rawHeaders.push(name, value);
      return;
    }
    if (!mustAgree) return;
    // a proxy that writes one form may pass its client's other form on: two statements, no choice
    const joined = Array.isArray(present) ? present.join(',') : present;
    if (joined.slice(joined.lastIndexOf(',') + 1).trim().toLowerCase() !== value.toLowerCase()) {
      throw new PortcullisError('request.malformed', `the trusted proxy's ${name} disagrees with its Forwarded element`);
    }
  };
  const fors = elements.flatMap((e) => (e.has('for') ? [e.get('for')!] : []));
  if (fors.length !== 0) set('x-forwarded-for', fors.join(', '), false);
  // host and scheme only from the element the trusted peer added (the last): the ones before
  // it may be the client's own
  const last = elements.at(-1);
  set('x-forwarded-host', last?.get('host'), true);
  set('x-forwarded-proto', last?.get('proto'), true);
}
