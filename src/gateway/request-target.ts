/**
 * The request target as the route table sees it and the upstream receives it.
 *
 * A gateway that matches one path and forwards another is bypassed: `/public/../admin`,
 * `/public/%2e%2e/admin`, `/%61dmin` or `//admin` can reach an upstream route the
 * table would have protected, once the upstream normalises them. So the path is
 * normalised here (RFC 3986 §6.2.2: percent-encoded unreserved characters decoded,
 * percent-encoding hex upper-cased) and anything that still means different things
 * to different parsers (dot segments, empty segments, backslashes, encoded `/`, `\`
 * or NUL, broken percent-encoding, a `#` fragment) is refused with `request.malformed`; the route is
 * matched against, and the upstream is sent, exactly the normalised path. So are
 * encodings some upstreams read as another path: an encoded C0 control or DEL
 * (`%09`, `%0D%0A`, `%7F`: stripped or rejected, and header material to an upstream that
 * logs or redirects), a segment that begins or ends with an encoded space (`/admin%20`:
 * Spring's AntPathMatcher with trimTokens routes it as `/admin`, CVE-2016-5007; a space
 * inside a segment, `my%20report.pdf`, is kept), and percent-encoded bytes that are not
 * well-formed UTF-8 (RFC 3629: `%C0%AE` is an overlong `.`, a dot segment to a lenient
 * decoder; surrogates, stray or cut sequences). Only paths with a `%` pay for these checks.
 * Written literally, none of these reaches here: Node's HTTP parser refuses a control
 * character, DEL or byte outside ASCII in the target (HPE_INVALID_URL, answered as
 * `request.malformed`), and a space ends the target (`GET /admin  HTTP/1.1` is `/admin`).
 *
 * Path parameters (RFC 3986 §3.3, `;` in a segment) are dropped from every segment by
 * servlet containers before they route, so `/admin;x/users` is their `/admin/users`.
 * Routes are matched on the path without its parameters (`matchPath`), the upstream
 * is sent the path unchanged, and a segment that is empty, `.` or `..` once its
 * parameters are removed (`/public/..;/admin`) is refused, as is an encoded `;`.
 */
import { isIPv6 } from 'node:net';
import { PortcullisError } from '../core/errors.js';
import { isHostPort } from '../signatures/components.js';
import { stripPort } from './route-table.js';

export interface RequestTarget {
  /** Normalised absolute path, without the query. */
  path: string;
  /** `path` without path parameters (`;…` of each segment), what routes match; `path` itself when it has none. */
  matchPath: string;
  /** The query including its leading `?`, or ''. */
  query: string;
}

const HEX = '0123456789ABCDEF';

function hexValue(c: number): number {
  if (c >= 48 && c <= 57) return c - 48;
  if (c >= 65 && c <= 70) return c - 55;
  if (c >= 97 && c <= 102) return c - 87;
  return -1;
}

function isUnreserved(c: number): boolean {
  return (c >= 65 && c <= 90) || (c >= 97 && c <= 122) || (c >= 48 && c <= 57) || c === 45 || c === 46 || c === 95 || c === 126;
}

function malformed(why: string): PortcullisError {
  return new PortcullisError('request.malformed', `request target ${why}`);
}

/** Checks that no segment of an already-decoded path is empty, `.` or `..`. */
function checkSegments(path: string): void {
  // segment starts after each '/'; path[0] is '/'
  let start = 1;
  const n = path.length;
  for (let i = 1; i <= n; i++) {
    if (i === n || path.charCodeAt(i) === 47) {
      const len = i - start;
      if (len === 0) {
        if (i !== n) throw malformed('has an empty path segment');
      } else if (len <= 2 && path.charCodeAt(start) === 46 && (len === 1 || path.charCodeAt(start + 1) === 46)) {
        throw malformed('has a dot segment');
      }
      start = i + 1;
    }
  }
}

/**
 * The least and greatest continuation byte allowed right after a UTF-8 lead byte
 * (RFC 3629 §4: no overlong forms, no surrogates, nothing above U+10FFFF), packed as
 * `count << 16 | min << 8 | max`; 0 for a byte that cannot start a sequence.
 */
function utf8Lead(b: number): number {
  if (b >= 0xc2 && b <= 0xdf) return (1 << 16) | (0x80 << 8) | 0xbf;
  if (b === 0xe0) return (2 << 16) | (0xa0 << 8) | 0xbf;
  if (b === 0xed) return (2 << 16) | (0x80 << 8) | 0x9f;
  if (b >= 0xe1 && b <= 0xef) return (2 << 16) | (0x80 << 8) | 0xbf;
  if (b === 0xf0) return (3 << 16) | (0x90 << 8) | 0xbf;
  if (b === 0xf4) return (3 << 16) | (0x80 << 8) | 0x8f;
  if (b >= 0xf1 && b <= 0xf3) return (3 << 16) | (0x80 << 8) | 0xbf;
  return 0;
}

/** Whether the character at `i` ends a segment: the path's end, `/` or a `;` parameter. */
function endsSegment(path: string, i: number): boolean {
  return i === path.length || path.charCodeAt(i) === 47 || path.charCodeAt(i) === 59;
}

function decodeUnreserved(path: string): string {
  let out = '';
  let last = 0;
  // continuation bytes still owed by the UTF-8 sequence being read, and where the next must be
  let owed = 0;
  let nextAt = -1;
  let min = 0x80;
  let max = 0xbf;
  for (let i = path.indexOf('%'); i !== -1; i = path.indexOf('%', i + 1)) {
    const hi = hexValue(path.charCodeAt(i + 1));
    const lo = hexValue(path.charCodeAt(i + 2));
    if (hi < 0 || lo < 0) throw malformed('has broken percent-encoding');
    const c = hi * 16 + lo;
    if (owed > 0) {
      if (i !== nextAt || c < min || c > max) throw malformed('has percent-encoded bytes that are not UTF-8');
      owed--;
      min = 0x80;
      max = 0xbf;
      nextAt = i + 3;
    } else if (c >= 0x80) {
      const lead = utf8Lead(c);
      if (lead === 0) throw malformed('has percent-encoded bytes that are not UTF-8');
      owed = lead >>> 16;
      min = (lead >>> 8) & 0xff;
      max = lead & 0xff;
      nextAt = i + 3;
    } else if (c === 47 || c === 92 || c === 0 || c === 59) {
      throw malformed('has an encoded slash, backslash, semicolon or NUL');
    } else if (c < 0x20 || c === 0x7f) {
      throw malformed('has an encoded control character');
    } else if (c === 0x20 && (path.charCodeAt(i - 1) === 47 || endsSegment(path, i + 3))) {
      throw malformed('has a segment that begins or ends with an encoded space');
    }
    out += path.slice(last, i) + (isUnreserved(c) ? String.fromCharCode(c) : '%' + HEX[hi]! + HEX[lo]!);
    last = i + 3;
    i += 2;
  }
  if (owed > 0) throw malformed('has percent-encoded bytes that are not UTF-8');
  return out + path.slice(last);
}

/**
 * Splits and normalises `req.url`; throws `request.malformed` for targets that are not
 * origin-form or that could be read as another path by the upstream.
 * @example parseRequestTarget('/orders/%7Ebob?x=1') // { path: '/orders/~bob', query: '?x=1' }
 */
export function parseRequestTarget(url: string): RequestTarget {
  // RFC 9112 §3.2: a gateway is sent origin-form; absolute-form and asterisk-form are refused.
  if (url.charCodeAt(0) !== 47) throw malformed('is not origin-form');
  // origin-form is absolute-path ["?" query]: an upstream would cut the path at a "#" the route table matched past
  if (url.includes('#')) throw malformed('has a fragment');
  const q = url.indexOf('?');
  let path = q === -1 ? url : url.slice(0, q);
  const query = q === -1 ? '' : url.slice(q);
  if (query.length > 1 && MAYBE_OVERRIDE.test(query) && hasMethodOverrideParam(query)) {
    throw new PortcullisError('request.method-override', 'a `_method` query parameter would have the upstream run another method than the one the gateway routed and checked');
  }
  path = normalisePath(path);
  const matchPath = path.includes(';') ? withoutParameters(path) : path;
  if (matchPath !== path) checkSegments(matchPath);
  return { path, matchPath, query };
}

/**
 * An absolute path (no query) normalised as a request's is: percent-encoded unreserved
 * characters decoded and hex upper-cased; `request.malformed` for a backslash, broken
 * percent-encoding, an encoded `/`, `\\`, `;`, NUL or other control character, an encoded
 * space at a segment's edge, percent-encoded bytes that are not UTF-8, or a dot or empty segment.
 * @example normalisePath('/%7Ebob/%c3%a9') // '/~bob/%C3%A9'
 */
export function normalisePath(path: string): string {
  if (path.includes('\\')) throw malformed('has a backslash');
  if (path.includes('%')) path = decodeUnreserved(path);
  if (path.length > 1) checkSegments(path);
  return path;
}

/** RFC 3986 §3.3 pchar and `/`, with `%` but without `;`: what a request's matched path is made of. */
const PREFIX_CHARS = /^[A-Za-z0-9\-._~!$&'()*+,=:@/%]*$/;

/**
 * A route's configured path prefix in the form request paths are matched in
 * (`normalisePath`), so `/%7Euser` matches the `/~user` requests are normalised to.
 * A prefix that no normalised request path could start with (one `normalisePath`
 * refuses, or with a `;` parameter, a space, `?`, `#` or a character outside ASCII) is
 * `config.invalid`: its route would silently never match.
 * @example normalisePathPrefix('/%7euser/') // '/~user/'
 */
export function normalisePathPrefix(prefix: string): string {
  if (prefix.includes(';')) throw new PortcullisError('config.invalid', 'no request can match this prefix: routes are matched on the path without its `;` parameters');
  if (!PREFIX_CHARS.test(prefix)) throw new PortcullisError('config.invalid', 'no request can match this prefix: it has a character a request path does not carry as is (percent-encode it)');
  try {
    return normalisePath(prefix);
  } catch (e) {
    throw new PortcullisError('config.invalid', `no request can match this prefix: the gateway refuses a request whose ${(e as Error).message}`);
  }
}

/** A query that could name `_method`: only these are scanned (the `_` is there, or encoded). */
const MAYBE_OVERRIDE = /_|%5f/i;

/**
 * Whether a query (with its leading `?`) has a parameter named `_method` (any case), as
 * the query parsers of Express (`method-override('_method')`), Symfony and PHP read it:
 * pairs split on `&` and `;`, the name percent-decoded with `+` as a space, a trailing
 * `[…]` removed. Only names of 7 characters or more are looked at, and only those with
 * `%` or `+` decoded.
 */
function hasMethodOverrideParam(query: string): boolean {
  const n = query.length;
  for (let start = 1; start < n; ) {
    let end = start;
    let nameEnd = -1;
    let encoded = false;
    for (; end < n; end++) {
      const c = query.charCodeAt(end);
      if (c === 38 || c === 59) break; // & ;
      if (nameEnd === -1) {
        if (c === 61) nameEnd = end; // =
        else if (c === 37 || c === 43) encoded = true; // % +
      }
    }
    if (nameEnd === -1) nameEnd = end;
    if (nameEnd - start >= 7 && (encoded ? isEncodedMethodName(query.slice(start, nameEnd)) : isMethodName(query, start, nameEnd))) return true;
    start = end + 1;
  }
  return false;
}

const METHOD_NAME = '_method';

/** Whether `s[start, end)` is `_method` in any case, alone or before `[`; no allocation. */
function isMethodName(s: string, start: number, end: number): boolean {
  if (end - start !== 7 && s.charCodeAt(start + 7) !== 91) return false;
  for (let i = 0; i < 7; i++) if ((s.charCodeAt(start + i) | (i === 0 ? 0 : 0x20)) !== METHOD_NAME.charCodeAt(i)) return false;
  return true;
}

/**
 * The same for a name with `%` or `+`, decoded as the most lenient parsers do (PHP's
 * urldecode, qs on a malformed name): each valid `%XX` is its byte, anything else is kept.
 * A strict decoder would give up on `_%6Dethod[%ZZ]`, which PHP reads as `_method[…]`.
 */
function isEncodedMethodName(raw: string): boolean {
  const name = raw.replace(/\+/g, ' ').replace(/%([0-9A-Fa-f]{2})/g, (_, hex: string) => String.fromCharCode(parseInt(hex, 16)));
  return name.length >= 7 && isMethodName(name, 0, name.length);
}

/** `/a;x/b;y=1` → `/a/b`. */
function withoutParameters(path: string): string {
  let out = '';
  let last = 0;
  for (let i = path.indexOf(';'); i !== -1; i = path.indexOf(';', last)) {
    out += path.slice(last, i);
    const slash = path.indexOf('/', i);
    if (slash === -1) return out;
    last = slash;
  }
  return out + path.slice(last);
}

/**
 * The index in `path` where the part after the first `n` characters of its `matchPath`
 * starts, skipping the parameters of the segment those characters end in (what
 * `stripPrefix` keeps of a path with parameters).
 * @example afterMatched('/svc;v=2/items', 4) // 8
 */
export function afterMatched(path: string, n: number): number {
  let i = 0;
  for (let kept = 0; kept < n && i < path.length; i++) {
    if (path.charCodeAt(i) === 59 /* ; */) {
      const slash = path.indexOf('/', i);
      if (slash === -1) return path.length;
      i = slash;
    }
    kept++;
  }
  if (path.charCodeAt(i) === 59) {
    const slash = path.indexOf('/', i);
    return slash === -1 ? path.length : slash;
  }
  return i;
}

/** The last Host value found valid: clients repeat theirs on every request. */
let lastValidHost = '\0';

/** RFC 3986 §3.2.2 IPv4address: four dec-octets, no leading zeros (and the one trailing dot routes ignore). */
const IPV4 = /^(?:(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)\.){3}(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)\.?$/;

function isDigit(c: number): boolean {
  return c >= 48 && c <= 57;
}

/**
 * The WHATWG URL Standard's "ends in a number" check: a host whose last label (after one
 * trailing dot) is all digits, or `0x` and hex digits, is parsed as an IPv4 address in
 * any of its legacy forms (`127.1`, `0x7f.0.0.1`, `0177.0.0.1`, `2130706433`).
 */
function endsInNumber(name: string): boolean {
  let end = name.length;
  if (end > 1 && name.charCodeAt(end - 1) === 46 /* . */) end--;
  const start = name.lastIndexOf('.', end - 1) + 1;
  if (start === end) return false;
  let i = start;
  while (i < end && isDigit(name.charCodeAt(i))) i++;
  if (i === end) return true;
  if (end - start < 2 || name.charCodeAt(start) !== 48 /* 0 */ || (name.charCodeAt(start + 1) | 32) !== 120 /* x */) return false;
  for (i = start + 2; i < end; i++) if (hexValue(name.charCodeAt(i)) < 0) return false;
  return true;
}

/** RFC 3986 §3.2.2 sub-delims, which a reg-name may hold and no DNS name does. */
const SUB_DELIMS = /[!$&'()*+,;=]/;

/**
 * Whether a Host field value is `uri-host [":" port]` (RFC 9110 §7.2, RFC 3986 §3.2.2)
 * that names its host one way only: by the same check the signature library makes before
 * it builds a target URI (`isHostPort`), then an optional port of at most 5 digits, no
 * more than 65535 (URL parsers refuse a higher one), and further
 * - no percent-encoding: RFC 3986 allows it in a reg-name, but the route table compares
 *   the name as sent while URL parsers decode it (`api%2eexample.com` is `api.example.com`
 *   to the WHATWG parser), so it would miss its host route and reach a broader one;
 * - no sub-delims (`,` `;` `=` …): the Host is passed on in X-Forwarded-Host, a list whose
 *   first name Express's `req.hostname` takes and whose last Rack and Rails take, so
 *   `api.example.com,x` would miss its host route and still be served as `api.example.com`;
 * - no empty label (`.a.example`, `a..example`, `a.example..`, `.`): no DNS name has one, and
 *   routes compare the name as sent, so `api.example.com..` would miss its host route; the one
 *   trailing dot of the absolute form (`api.example.com.`) is the same name, which routes ignore;
 * - a name that a URL parser reads as an IPv4 address is the dotted-decimal IPv4address
 *   (`127.1`, `0x7f.0.0.1`, `2130706433` are 127.0.0.1 to it);
 * - an IP-literal is an IPv6 address (no IPvFuture, no zone id); its other spellings are
 *   matched as one by the route table (`hostKey`).
 * Userinfo, a path, a query, a fragment, whitespace and anything else that would make the
 * authority read differently are refused.
 *
 * @example isValidHost('api.example.com:8443') // true
 * @example isValidHost('api.example.com/payments') // false
 * @example isValidHost('api%2eexample.com') // false
 */
export function isValidHost(host: string): boolean {
  if (host === lastValidHost) return true;
  if (!isHostPort(host) || host.includes('%') || SUB_DELIMS.test(host)) return false;
  const name = stripPort(host);
  if (host.length - name.length === 6 && host.slice(name.length + 1) > '65535') return false;
  if (name.charCodeAt(0) === 91 /* [ */) {
    if (!isIPv6(name.slice(1, -1))) return false;
  } else if (name.charCodeAt(0) === 46 /* . */ || name.includes('..') || (endsInNumber(name) && !IPV4.test(name))) return false;
  lastValidHost = host;
  return true;
}

const PORT_PROBLEM = 'a route matches its host on every port (the client writes the port in Host): remove the port';

/**
 * Why a route's configured `match.host` is wrong, or undefined when a request can match it:
 * routes compare a Host `isValidHost` accepts, without its port and its one trailing dot
 * (`hostKey`), so a host that is no such Host would silently never match (its requests
 * going through a broader route), and a port would be ignored (the route matching the host
 * on every port). Upper case is fine: hosts are compared lower-cased.
 * @example routeHostProblem('api.example.com') // undefined
 * @example routeHostProblem('*.example.com') // 'no request can match this host: it has the sub-delimiter `*` …'
 */
export function routeHostProblem(host: string): string | undefined {
  const never = 'no request can match this host: ';
  if (host.charCodeAt(0) === 91 /* [ */) {
    const close = host.indexOf(']');
    if (close !== -1 && close < host.length - 1 && host.charCodeAt(close + 1) === 58 /* : */) return PORT_PROBLEM;
    return isValidHost(host) ? undefined : never + 'an IP literal must be an IPv6 address in brackets ([2001:db8::1]), without a zone id';
  }
  if (isIPv6(host)) return never + 'an IPv6 address is written in brackets ([::1])';
  if (/[\u0080-\uffff]/.test(host)) return never + 'a request Host is ASCII: write an internationalised name in its ASCII form (xn--…)';
  const sub = SUB_DELIMS.exec(host);
  if (sub !== null) return never + `it has the sub-delimiter \`${sub[0]}\`, which the gateway refuses in a request Host${sub[0] === '*' ? ' (a route matches one host: there is no wildcard; give each name its own route)' : ''}`;
  if (host.includes('%')) return never + 'it has percent-encoding, which the gateway refuses in a request Host: write the name decoded';
  if (host.includes(':') && isHostPort(host)) return PORT_PROBLEM;
  if (!isHostPort(host)) return never + 'it has a character no host name has (a space, `/`, `@`, `:`, `?`, `#`, `\\` …): write the name alone';
  if (host.charCodeAt(0) === 46 /* . */ || host.includes('..')) return never + 'it has an empty label (a leading dot, or two dots in a row), which the gateway refuses in a request Host';
  if (endsInNumber(host) && !IPV4.test(host)) return never + 'a URL parser reads it as a legacy form of an IPv4 address (127.1, 0x7f.0.0.1, 2130706433), which the gateway refuses in a request Host: write the dotted-decimal address';
  return isValidHost(host) ? undefined : never + 'the gateway refuses it in a request Host';
}
