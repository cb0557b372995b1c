/**
 * Gateway denials on the wire.
 *
 * Token failures carry `WWW-Authenticate: Bearer` (RFC 6750 §3): no token → no
 * `error` attribute (§3.1: "the resource server SHOULD NOT include an error code");
 * a bad token → `error="invalid_token"`; missing scope → 403 `error="insufficient_scope"`
 * with the `scope` needed. A 503 (an issuer's key set that cannot be retrieved, a store down)
 * carries no challenge: the token was never judged, and RFC 6750 §3 challenges a request whose
 * token "does not enable access"; an `invalid_token` there would send a client holding a good
 * token back to the authorization server for nothing; it carries `Retry-After` when the error
 * says when the dependency may be tried again, as a 429 does. Every body is RFC 9457 problem+json `{type, title, status,
 * detail, code}`. Unexpected failures are 500 `internal` with no detail.
 */
import type { ServerResponse } from 'node:http';
import { ERRORS, retryAfterSeconds, type ErrorCode, type PortcullisError } from '../core/errors.js';
import { stepUpChallenge } from './assurance-policy.js';

export const REALM = 'portcullis';
export const PROBLEM_TYPE_BASE = 'urn:portcullis:error:';

/** RFC 6750 §3: error_description and scope use %x20-21 / %x23-5B / %x5D-7E only. */
function quotedSafe(s: string): string {
  return s.replace(/[^\x20\x21\x23-\x5B\x5D-\x7E]/g, '');
}

/** The WWW-Authenticate value for a denial, or undefined when it carries none. */
export function wwwAuthenticate(err: PortcullisError): string | undefined {
  const code = err.code;
  if (code === 'token.missing') return `Bearer realm="${REALM}"`;
  if (code === 'token.insufficient-scope') {
    const scope = typeof err.details?.['scope'] === 'string' ? (err.details['scope'] as string) : '';
    return `Bearer realm="${REALM}", error="insufficient_scope", error_description="${quotedSafe(err.message)}", scope="${quotedSafe(scope)}"`;
  }
  // RFC 9470 §3: step-up carries acr_values / max_age
  if (code === 'token.insufficient-user-authentication') return stepUpChallenge(err, REALM);
  if (code.startsWith('token.')) return `Bearer realm="${REALM}", error="invalid_token", error_description="${quotedSafe(err.message)}"`;
  return undefined;
}

export interface Problem {
  type: string;
  title: string;
  status: number;
  detail?: string;
  code: ErrorCode;
}

/** The RFC 9457 body for an error; the message is only shown when the error is exposable. */
export function problemOf(err: PortcullisError): Problem {
  const p: Problem = { type: PROBLEM_TYPE_BASE + err.code, title: ERRORS[err.code].meaning, status: err.status, code: err.code };
  if (err.expose) p.detail = err.message;
  if (err.code === 'token.insufficient-scope' && typeof err.details?.['scope'] === 'string') (p as Problem & { scope?: string }).scope = err.details['scope'] as string;
  return p;
}

/**
 * Writes the denial unless a response has already started (then the connection is cut,
 * since a half-sent upstream response cannot be turned into an error).
 * @example writeError(res, new PortcullisError('route.not-found', 'no route'))
 */
export function writeError(res: ServerResponse, err: PortcullisError, closeConnection = false): void {
  if (res.headersSent) {
    res.destroy();
    return;
  }
  const body = JSON.stringify(problemOf(err));
  const headers: Record<string, string | number> = {
    'content-type': 'application/problem+json',
    'content-length': Buffer.byteLength(body),
    'cache-control': 'no-store',
  };
  const challenge = wwwAuthenticate(err);
  if (challenge !== undefined) headers['www-authenticate'] = challenge;
  // a 503 whose dependency is not tried again for a while (an issuer's JWKS after a failed retrieval), or a 429, says when to come back
  const retryAfter = retryAfterSeconds(err);
  if (retryAfter !== undefined) headers['retry-after'] = retryAfter;
  if (closeConnection) headers['connection'] = 'close';
  res.writeHead(err.status, headers);
  res.end(body);
}

/** A raw HTTP/1.1 response for errors the server raises before a request exists (431, 400). */
export function rawErrorResponse(err: PortcullisError): string {
  const body = JSON.stringify(problemOf(err));
  const reason = err.status === 431 ? 'Request Header Fields Too Large' : err.status === 408 ? 'Request Timeout' : 'Bad Request';
  return `HTTP/1.1 ${err.status} ${reason}\r\ncontent-type: application/problem+json\r\ncontent-length: ${Buffer.byteLength(body)}\r\ncache-control: no-store\r\nconnection: close\r\n\r\n${body}`;
}
