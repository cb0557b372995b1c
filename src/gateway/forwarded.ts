/**
 * What a trusted proxy's X-Forwarded-Proto and RFC 7239 Forwarded become upstream
 * (gateway.ts), read as the identity plane reads them (http/forwarded-headers.ts,
 * http/host-header.ts). A proxy that appends to what its client sent writes
 * `X-Forwarded-Proto: <client's>, <its own>` and `Forwarded: <client's elements>, <its own>`,
 * and Express's `req.protocol` (with trust proxy), Spring's ForwardedHeaderFilter and others
 * read the first: so the scheme goes on as one value, the proxy's own, and Forwarded keeps
 * its hop list (`for=`, `by=`) with the host and scheme only in the gateway's own element,
 * the ones it routed on and states in X-Forwarded-Host and -Proto.
 */
import type { ScannedRequest } from './headers.js';
import { PortcullisError } from '../core/errors.js';
import { TCHAR, TOKEN } from '../core/http-token.js';

const SCHEME = /^https?$/i;

/**
 * The scheme a trusted proxy stated in X-Forwarded-Proto (every line joined): its last
 * value, in lower case; throws `request.malformed` unless every value is `http` or `https`
 * (any case). The gateway's and the identity plane's (http/host-header.ts) one rule.
 *
 * @example forwardedScheme('https, http') // 'http'
 */
export function forwardedScheme(field: string): string {
  let from = 0;
  for (;;) {
    const comma = field.indexOf(',', from);
    const v = (comma === -1 ? field.slice(from) : field.slice(from, comma)).trim();
    if (!SCHEME.test(v)) throw new PortcullisError('request.malformed', 'invalid X-Forwarded-Proto header');
    if (comma === -1) return v.toLowerCase();
    from = comma + 1;
  }
}

function malformedForwarded(why: string): PortcullisError {
  return new PortcullisError('request.malformed', `invalid Forwarded header: ${why}`);
}

/**
 * The elements of an RFC 7239 Forwarded field, each a map of its parameters (names in lower
 * case, quoted values unquoted); throws `request.malformed` for anything else: a pair without
 * `=`, a name that is no token, a value that is neither token nor quoted-string, a parameter
 * twice in one element (§4). OWS is allowed around the commas only.
 *
 * @example parseForwarded('for=192.0.2.60;proto=http, for="[2001:db8::1]:4711"')
 * // [Map { 'for' => '192.0.2.60', 'proto' => 'http' }, Map { 'for' => '[2001:db8::1]:4711' }]
 */
export function parseForwarded(field: string): Array<Map<string, string>> {
  const elements: Array<Map<string, string>> = [];
  let el = new Map<string, string>();
  let i = 0;
  const n = field.length;
  const ows = () => {
    while (i < n && (field[i] === ' ' || field[i] === '\t')) i++;
  };
  ows();
  while (i <= n) {
    if (i === n || field[i] === ',') {
      elements.push(el);
      el = new Map();
      if (i === n) break;
      i++;
      ows();
      continue;
    }
    if (field[i] === ';') {
      i++;
      continue;
    }
    const start = i;
    while (i < n && TCHAR.test(field[i]!)) i++;
    const name = field.slice(start, i).toLowerCase();
    if (name === '' || field[i] !== '=') throw malformedForwarded('a parameter is not name=value');
    i++;
    let value = '';
    if (field[i] === '"') {
      i++;
      for (;;) {
        if (i >= n) throw malformedForwarded('an unterminated quoted string');
        const c = field[i++]!;
        if (c === '"') break;
        if (c === '\\') {
          if (i >= n) throw malformedForwarded('an unterminated quoted string');
          value += field[i++];
        } else value += c;
      }
    } else {
      const v = i;
      while (i < n && TCHAR.test(field[i]!)) i++;
      value = field.slice(v, i);
      if (value === '') throw malformedForwarded(`${name} has no value`);
    }
    if (el.has(name)) throw malformedForwarded(`${name} appears twice in one element`);
    el.set(name, value);
    ows();
    if (i < n && field[i] !== ';' && field[i] !== ',') throw malformedForwarded('a value is followed by something else');
  }
  return elements.filter((e) => e.size > 0);
}

/** What a trusted proxy stated, checked on arrival: the scheme, and the Forwarded elements to pass on. */
export interface ProxyForwarding {
  /** Its last X-Forwarded-Proto entry and/or its last Forwarded element's `proto=` (equal when both), in lower case; undefined when it stated none. */
  scheme: string | undefined;
  /** The Forwarded elements it sent, without `host=` and `proto=` (an element left empty dropped); undefined when it sent none. */
  elements: Array<Map<string, string>> | undefined;
}

/**
 * Reads a trusted proxy's X-Forwarded-Proto and Forwarded (every line of each joined),
 * leaving out a field it named in Connection (for its hop only). The scheme is the last
 * X-Forwarded-Proto entry (`forwardedScheme`) or the `proto=` of the last Forwarded
 * element (the one the proxy added), which must be `http` or `https`; when both are there
 * they must agree (any case), since a proxy that writes one form may pass its client's
 * other form on unchanged. Throws `request.malformed` for either field malformed or for
 * the two disagreeing. Call only when one of them is present.
 *
 * @example proxyForwarding(scanRequestHeaders(['Forwarded', 'host=evil, for=10.0.0.1;proto=https'])) // { scheme: 'https', elements: [Map { 'for' => '10.0.0.1' }] }
 */
export function proxyForwarding(h: ScannedRequest): ProxyForwarding {
  const hop = h.connectionNamed;
  const xfp = h.xForwardedProto === undefined || hop?.has('x-forwarded-proto') ? undefined : h.xForwardedProto;
  let scheme = xfp === undefined ? undefined : forwardedScheme(xfp);
  if (h.forwarded === undefined || hop?.has('forwarded')) return { scheme, elements: undefined };
  const received = parseForwarded(h.forwarded);
  const proto = received.at(-1)?.get('proto');
  if (proto !== undefined) {
    if (!SCHEME.test(proto)) throw malformedForwarded('proto is neither http nor https');
    // a proxy that writes one form may pass its client's other form on: two statements, no choice
    if (scheme !== undefined && scheme !== proto.toLowerCase()) throw malformedForwarded('proto= disagrees with X-Forwarded-Proto');
    scheme = proto.toLowerCase();
  }
  const elements: Array<Map<string, string>> = [];
  for (const e of received) {
    e.delete('host');
    e.delete('proto');
    if (e.size !== 0) elements.push(e);
  }
  return { scheme, elements };
}

/** A Forwarded value: the token as it is, else a quoted-string (RFC 7239 §4). */
function forwardedValue(v: string): string {
  return TOKEN.test(v) ? v : '"' + v.replace(/["\\]/g, '\\$&') + '"';
}

/**
 * The Forwarded field for the upstream: the received `elements`, then the gateway's own,
 * naming its peer (`for=`, an IPv6 address in brackets, `unknown` when there is none), the
 * `host` it routed on and the `scheme` it states in X-Forwarded-Proto.
 *
 * @example forwardedField([Map { 'for' => '10.0.0.1' }], '10.9.0.1', 'api.example', 'https') // 'for=10.0.0.1, for=10.9.0.1;host=api.example;proto=https'
 */
export function forwardedField(elements: ReadonlyArray<ReadonlyMap<string, string>>, peer: string, host: string | undefined, scheme: string): string {
  let out = '';
  for (const e of elements) {
    let el = '';
    for (const [name, value] of e) el += (el === '' ? '' : ';') + name + '=' + forwardedValue(value);
    out += el + ', ';
  }
  out += 'for=' + (peer === '' ? 'unknown' : peer.includes(':') ? `"[${peer}]"` : peer);
  if (host !== undefined) out += ';host=' + forwardedValue(host);
  return out + ';proto=' + scheme;
}
