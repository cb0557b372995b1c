/**
 * The request target as the route table sees it and the upstream receives it.
 *
 * A gateway that matches one path and forwards another is bypassed: `/public/../admin`,
 * `/public/%2e%2e/admin`, `/%61dmin` or `//admin` can reach an upstream route the
 * table would have protected, once the upstream normalises them. So the path is
 * normalised here (RFC 3986 §6.2.2: percent-encoded unreserved characters decoded,
 * percent-encoding hex upper-cased) and anything that still means different things
 * to different parsers (dot segments, empty segments, backslashes, encoded `/`, `\`
 * or NUL, broken percent-encoding) is refused with `request.malformed`; the route is
 * matched against, and the upstream is sent, exactly the normalised path.
 */
import { PortcullisError } from '../core/errors.js';

export interface RequestTarget {
  /** Normalised absolute path, without the query. */
  path: string;
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

function decodeUnreserved(path: string): string {
  let out = '';
  let last = 0;
  for (let i = path.indexOf('%'); i !== -1; i = path.indexOf('%', i + 1)) {
    const hi = hexValue(path.charCodeAt(i + 1));
    const lo = hexValue(path.charCodeAt(i + 2));
    if (hi < 0 || lo < 0) throw malformed('has broken percent-encoding');
    const c = hi * 16 + lo;
    if (c === 47 || c === 92 || c === 0) throw malformed('has an encoded slash, backslash or NUL');
    out += path.slice(last, i) + (isUnreserved(c) ? String.fromCharCode(c) : '%' + HEX[hi]! + HEX[lo]!);
    last = i + 3;
    i += 2;
  }
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
  const q = url.indexOf('?');
  let path = q === -1 ? url : url.slice(0, q);
  const query = q === -1 ? '' : url.slice(q);
  if (path.includes('\\')) throw malformed('has a backslash');
  if (path.includes('%')) path = decodeUnreserved(path);
  if (path.length > 1) checkSegments(path);
  return { path, query };
}
