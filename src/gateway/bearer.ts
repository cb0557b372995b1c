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
  if (count === 0 || value === undefined) throw new PortcullisError('token.missing', 'no bearer token');
  if (count > 1) throw new PortcullisError('token.malformed', 'more than one Authorization header');
  // "Bearer" is 6 characters, then at least one SP
  if (value.length < 8 || value.charCodeAt(6) !== 32 || value.slice(0, 6).toLowerCase() !== 'bearer') {
    throw new PortcullisError('token.malformed', 'Authorization is not a Bearer credential');
  }
  let i = 7;
  while (value.charCodeAt(i) === 32) i++;
  const token = value.slice(i);
  if (!B64TOKEN.test(token)) throw new PortcullisError('token.malformed', 'bearer token has characters outside b64token');
  return token;
}
