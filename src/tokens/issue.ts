/**
 * The client-credentials grant (RFC 6749 §4.4) issuing JWT access tokens per
 * RFC 9068: header `typ: at+jwt`; claims iss, sub, aud, client_id, scope, jti, iat, exp.
 * Scopes and audiences are limited to what the app was registered with.
 */
import { SignJWT } from 'jose';
import { PortcullisError } from '../core/errors.js';
import { randomId } from '../core/ids.js';
import type { Clock } from '../core/clock.js';
import type { KeyRing } from '../crypto/keyring.js';
import type { AppRecord } from './store.js';

export interface TokenResponse {
  access_token: string;
  token_type: 'Bearer';
  expires_in: number;
  scope: string;
}

export interface IssueContext {
  issuer: string;
  keys: KeyRing;
  clock: Clock;
  accessTokenTtlMs: number;
}

/** The `error_description` end of a request for a token for several resources (RFC 8707 §2 lets `resource` repeat). */
export const ONE_RESOURCE = 'one resource per token is supported; ask for a token for each resource';

const SCOPE_LIST = /^[\x21\x23-\x5B\x5D-\x7E]+( [\x21\x23-\x5B\x5D-\x7E]+)*$/;

/** Resolves the granted scopes: all requested must be allowed; none requested → all allowed. */
export function grantScopes(app: AppRecord, requested: string | undefined): string[] {
  if (requested === undefined || requested === '') return app.scopes;
  if (!SCOPE_LIST.test(requested)) throw new PortcullisError('oauth.invalid-scope', 'scope is malformed');
  const asked = [...new Set(requested.split(' '))];
  const denied = asked.filter((s) => !app.scopes.includes(s));
  if (denied.length) throw new PortcullisError('oauth.invalid-scope', `scope not allowed for this app: ${denied.join(' ')}`);
  return asked;
}

/**
 * Resolves the audience from `resource` (RFC 8707) or `audience`; none → every registered
 * audience. Both given must name the same resource: a token is issued for one (a token for
 * several would carry the scopes granted for each to the others).
 * @example grantAudience(app, ['orders-api']) // ['orders-api']
 */
export function grantAudience(app: AppRecord, resources: string[]): string[] {
  if (resources.length === 0) return app.audiences;
  const denied = resources.filter((r) => !app.audiences.includes(r));
  // RFC 8707 §2: "invalid_target: The requested resource is invalid, missing, unknown, or malformed."
  if (denied.length) throw new PortcullisError('oauth.invalid-target', `audience not allowed for this app: ${denied.join(' ')}`);
  const asked = [...new Set(resources)];
  if (asked.length > 1) throw new PortcullisError('oauth.invalid-target', `resource and audience name different resources: ${ONE_RESOURCE}`);
  return asked;
}

/**
 * @param cnf RFC 8705 §3.1 confirmation (`{ 'x5t#S256': … }`) when the client authenticated with a certificate.
 */
export async function issueAccessToken(app: AppRecord, scopes: string[], audience: string[], ctx: IssueContext, cnf?: Record<string, string>): Promise<{ response: TokenResponse; jti: string; exp: number }> {
  const key = ctx.keys.signingKey();
  const iat = Math.floor(ctx.clock.now() / 1000);
  const ttl = Math.floor(ctx.accessTokenTtlMs / 1000);
  const jti = randomId(16);
  const token = await new SignJWT({ client_id: app.clientId, scope: scopes.join(' '), ...(cnf ? { cnf } : {}) })
    .setProtectedHeader({ alg: key.alg, kid: key.kid, typ: 'at+jwt' })
    .setIssuer(ctx.issuer)
    .setSubject(app.clientId)
    .setAudience(audience.length === 1 ? audience[0]! : audience)
    .setJti(jti)
    .setIssuedAt(iat)
    .setExpirationTime(iat + ttl)
    .sign(key.privateKey);
  return { response: { access_token: token, token_type: 'Bearer', expires_in: ttl, scope: scopes.join(' ') }, jti, exp: iat + ttl };
}
