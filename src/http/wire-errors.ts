/**
 * Wire formats for errors, at the edge only: OAuth error responses (RFC 6749 §5.2)
 * for the token endpoints, RFC 9457 problem+json for everything else. A 5xx never
 * carries the internal message.
 */
import { ERRORS, PortcullisError, retryAfterSeconds, toPortcullisError, type ErrorCode } from '../core/errors.js';

const OAUTH_ERROR: Partial<Record<ErrorCode, string>> = {
  'oauth.invalid-request': 'invalid_request',
  'oauth.invalid-client': 'invalid_client',
  'oauth.unauthorized-client': 'unauthorized_client',
  'oauth.unsupported-grant-type': 'unsupported_grant_type',
  'oauth.invalid-scope': 'invalid_scope',
  'oauth.invalid-target': 'invalid_target',
  'oauth.unsupported-token-type': 'unsupported_token_type',
  'request.invalid': 'invalid_request',
  'request.malformed': 'invalid_request',
  'request.unsupported-media-type': 'invalid_request',
  'request.body-too-large': 'invalid_request',
};

export interface WireError {
  status: number;
  headers: Record<string, string>;
  body: Record<string, unknown>;
}

export function oauthError(e: unknown): WireError {
  const err = toPortcullisError(e);
  const error = OAUTH_ERROR[err.code];
  if (!error) return problem(err);
  const headers: Record<string, string> = { 'cache-control': 'no-store', 'content-type': 'application/json' };
  const www = err.details?.wwwAuthenticate;
  if (typeof www === 'string') headers['www-authenticate'] = www;
  return { status: err.status, headers, body: { error, error_description: descriptionSafe(err.message) } };
}

/**
 * RFC 6749 §5.2: "Values for the error_description parameter MUST NOT include characters
 * outside the set %x20-21 / %x23-5B / %x5D-7E." Messages may name what the client sent.
 */
function descriptionSafe(message: string): string {
  return message.replace(/[^\x20\x21\x23-\x5B\x5D-\x7E]/gu, '?');
}

export function problem(e: unknown, instance?: string): WireError {
  const err = toPortcullisError(e);
  const spec = ERRORS[err.code];
  const body: Record<string, unknown> = {
    type: `urn:portcullis:error:${err.code}`,
    title: spec.meaning,
    status: err.status,
    code: err.code,
    detail: err.expose ? err.message : 'internal error',
  };
  if (instance) body.instance = instance;
  if (err.expose && err.details) {
    for (const [k, v] of Object.entries(err.details)) if (k !== 'wwwAuthenticate') body[k] = v;
  }
  const headers: Record<string, string> = { 'content-type': 'application/problem+json', 'cache-control': 'no-store' };
  // a dependency refused at once while it is taken for down (store/durable/breaker.ts), or a
  // 429 (a sign-in throttle, a renewal too early), says when to come back
  const retryAfter = retryAfterSeconds(err);
  if (retryAfter !== undefined) headers['retry-after'] = retryAfter;
  return { status: err.status, headers, body };
}

export { PortcullisError };
