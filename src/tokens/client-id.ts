/**
 * The client identifier as a request to the token, revocation or introspection endpoint
 * carries it: the form's `client_id`, or the client id of HTTP Basic credentials
 * (form-urlencoded, then base64: RFC 6749 §2.3.1). One with a control character (C0,
 * DEL, C1) or bytes that are not UTF-8 names no client: it is a malformed request, RFC
 * 6749 §5.2 `invalid_request` naming the parameter, refused before the client is looked
 * up, logged or audited.
 */
import { PortcullisError } from '../core/errors.js';

const CONTROL = /[\u0000-\u001f\u007f-\u009f]/;
const BASIC = /^Basic +([A-Za-z0-9+/=._~-]+) *$/i;
const strictUtf8 = new TextDecoder('utf-8', { fatal: true });

/** String.prototype.isWellFormed (ES2024: Node 20 has it, the TypeScript lib here stops at ES2023). */
const isWellFormed = (s: string): boolean => (s as string & { isWellFormed(): boolean }).isWellFormed();

const malformed = (message: string): PortcullisError => new PortcullisError('oauth.invalid-request', message);

/** What is wrong with a decoded client id, or undefined; never the id itself. */
function problemOf(clientId: string): string | undefined {
  const c = CONTROL.exec(clientId)?.[0];
  if (c !== undefined) return `contains the control character U+${c.charCodeAt(0).toString(16).toUpperCase().padStart(4, '0')}`;
  // The body and the form are decoded leniently: bytes that are not UTF-8 arrive as U+FFFD,
  // which no client id holds (they are `app_` and base64url).
  if (clientId.includes('\uFFFD') || !isWellFormed(clientId)) return 'is not valid UTF-8';
  return undefined;
}

/**
 * The client id of Basic credentials, decoded strictly: the bytes before the first colon,
 * then form-urldecoding, must both be UTF-8. Undefined when the header is not Basic or is
 * malformed otherwise (client authentication answers that: 401 `invalid_client`).
 */
function basicClientId(authorization: string): { clientId: string } | { notUtf8: true } | undefined {
  const m = BASIC.exec(authorization);
  if (!m) return undefined;
  const raw = Buffer.from(m[1]!, 'base64');
  const colon = raw.indexOf(0x3a);
  if (colon < 0) return undefined;
  let encoded: string;
  try {
    encoded = strictUtf8.decode(raw.subarray(0, colon));
  } catch {
    return { notUtf8: true };
  }
  if (/%(?![0-9A-Fa-f]{2})/.test(encoded)) return undefined;
  const spaced = encoded.replace(/\+/g, ' ');
  const bytes: Buffer[] = [];
  let at = 0;
  for (const p of spaced.matchAll(/%([0-9A-Fa-f]{2})/g)) {
    bytes.push(Buffer.from(spaced.slice(at, p.index), 'utf8'), Buffer.from([parseInt(p[1]!, 16)]));
    at = p.index + 3;
  }
  bytes.push(Buffer.from(spaced.slice(at), 'utf8'));
  try {
    return { clientId: strictUtf8.decode(Buffer.concat(bytes)) };
  } catch {
    return { notUtf8: true };
  }
}

/**
 * The client id a request names: its Basic credentials' (when well-formed), else the
 * form's `client_id`; undefined when it names none. Unverified: for the audit trail of a
 * refused request, never for a decision.
 *
 * @example namedClientId(req.headers.authorization, form) // 'app_…'
 */
export function namedClientId(authorization: string | undefined, params: Readonly<Record<string, string | undefined>>): string | undefined {
  const basic = authorization === undefined ? undefined : basicClientId(authorization);
  if (basic !== undefined && 'clientId' in basic && problemOf(basic.clientId) === undefined) return basic.clientId;
  return params['client_id'];
}

/**
 * Refuses a malformed client id in the Basic credentials of `authorization` or in the
 * form's `client_id` with `oauth.invalid-request`, naming which; passes anything else
 * (a missing or wrong client is client authentication's to answer).
 *
 * @example
 * checkClientIds(req.headers.authorization, parseForm(body)); // before any client lookup
 */
export function checkClientIds(authorization: string | undefined, params: Readonly<Record<string, string | undefined>>): void {
  if (authorization !== undefined) {
    const basic = basicClientId(authorization);
    const problem = basic === undefined ? undefined : 'notUtf8' in basic ? 'is not valid UTF-8' : problemOf(basic.clientId);
    if (problem !== undefined) throw malformed(`the client id of the Basic credentials ${problem}`);
  }
  checkClientId(params['client_id'], 'client_id');
}

/**
 * Refuses a malformed client id named `parameter` (`client_id`, or where else a client id
 * was read from) with `oauth.invalid-request`; undefined passes.
 *
 * @example
 * checkClientId(claims.sub, 'the sub of client_assertion');
 */
export function checkClientId(clientId: string | undefined, parameter: string): void {
  if (clientId === undefined) return;
  const problem = problemOf(clientId);
  if (problem !== undefined) throw malformed(`${parameter} ${problem}`);
}
