/**
 * RFC 6750 §2.1 Authorization Request Header Field:
 *
 *     credentials = "Bearer" 1*SP b64token
 *     b64token    = 1*( ALPHA / DIGIT / "-" / "." / "_" / "~" / "+" / "/" ) *"="
 *
 * The scheme is case-insensitive (RFC 9110 §11.1). Exactly one Authorization header
 * may be sent: two headers are ambiguous (which one did the upstream see?), so they
 * are refused rather than picked from.
 */
import { PortcullisError } from '../core/errors.js';

const B64TOKEN = /^[A-Za-z0-9\-._~+/]+=*$/;

/**
 * The bearer token from the Authorization header(s) of a request.
 * `count` is how many Authorization headers were received, `value` the first.
 * @example parseBearer(1, 'Bearer eyJ...') // 'eyJ...'
 */
export function parseBearer(count: number, value: string | undefined): string {
  const token = bearerCandidate(count, value);
  checkB64token(token);
  return token;
}

/**
 * The credential after `Bearer ` without the b64token syntax check: a token found in
 * the verified-token cache was checked when it was verified (same text, same result),
 * so the hot path checks syntax only on a miss.
 */
export function bearerCandidate(count: number, value: string | undefined): string {
  if (count === 0 || value === undefined) throw new PortcullisError('token.missing', 'no bearer token');
  if (count > 1) throw new PortcullisError('token.malformed', 'more than one Authorization header');
  // "Bearer" is 6 characters, then at least one SP
  if (value.length < 8 || value.charCodeAt(6) !== 32 || !isBearerScheme(value)) {
    throw new PortcullisError('token.malformed', 'Authorization is not a Bearer credential');
  }
  let i = 7;
  while (value.charCodeAt(i) === 32) i++;
  return value.slice(i);
}

const BEARER = 'bearer';

/** Case-insensitive `Bearer` at the start of `value`, without allocating. */
function isBearerScheme(value: string): boolean {
  for (let i = 0; i < 6; i++) {
    // ASCII letters: setting bit 0x20 lower-cases
    if ((value.charCodeAt(i) | 0x20) !== BEARER.charCodeAt(i)) return false;
  }
  return true;
}

/** Throws `token.malformed` unless the credential is b64token syntax. */
export function checkB64token(token: string): void {
  if (!B64TOKEN.test(token)) throw new PortcullisError('token.malformed', 'bearer token has characters outside b64token');
}
