/**
 * Client authentication at the token, revocation and introspection endpoints:
 * `client_secret_basic` and `client_secret_post` (RFC 6749 §2.3.1),
 * `private_key_jwt` (RFC 7523 §2.2, OIDC Core §9), and mutual TLS (RFC 8705 §2):
 * `tls_client_auth` (a certificate from the Portcullis CA bound to the app by its
 * SPIFFE URI SAN, the app's `tls_client_auth_san_uri`) and
 * `self_signed_tls_client_auth` (a certificate registered in the app's JWKS, within its
 * own validity period).
 */
import { X509Certificate, createPublicKey } from 'node:crypto';
import { createLocalJWKSet, jwtVerify, errors as joseErrors } from 'jose';
import { PortcullisError } from '../core/errors.js';
import { parseCertificate } from '../pki/parse.js';
import { validityAt } from '../pki/verify-chain.js';
import type { Clock } from '../core/clock.js';
import type { EphemeralStore } from '../core/ephemeral.js';
import type { AuditEventInput } from '../audit/store.js';
import type { AppRecord } from './store.js';
import { checkClientId, checkClientIds } from './client-id.js';
import { verifySecret } from './secrets.js';

export const JWT_BEARER_ASSERTION = 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer';

export interface ClientAuthRequest {
  authorization: string | undefined;
  params: Record<string, string>;
  /** The TLS client certificate chain (DER, peer first), when one was presented. */
  clientCertificate?: readonly Uint8Array[];
}

export const MTLS_METHODS: ReadonlySet<string> = new Set(['tls_client_auth', 'self_signed_tls_client_auth']);

/**
 * The `aud` values that name this server in a client assertion presented at `endpoint`
 * (an absolute URL under the issuer). RFC 7523 §3: "The authorization server MUST reject
 * any JWT that does not contain its own identity as the intended audience"; OIDC Core §9:
 * the token endpoint URL identifies it at every endpoint. Built from the configured issuer,
 * never from the request's Host, so an assertion made for another server is not accepted
 * by naming that server in the Host.
 *
 * @example
 * assertionAudiences('https://id.example', 'https://id.example/oauth2/revoke')
 * // ['https://id.example', 'https://id.example/oauth2/token', 'https://id.example/oauth2/revoke']
 */
export function assertionAudiences(issuer: string, endpoint: string): string[] {
  return [...new Set([issuer, `${issuer.replace(/\/$/, '')}/oauth2/token`, endpoint])];
}

/** The explicit type of a client authentication JWT (draft-ietf-oauth-rfc7523bis §3.2), the media type `application/client-authentication+jwt`. */
export const CLIENT_AUTHENTICATION_JWT_TYPE = 'client-authentication+jwt';

/**
 * Whether a JOSE `typ` marks a client authentication JWT: `client-authentication+jwt`, or the
 * full media type `application/client-authentication+jwt` (RFC 7515 §4.1.9: the `application/`
 * prefix may be left out; media types compare case-insensitively).
 */
export function isClientAuthenticationJwt(typ: unknown): boolean {
  if (typeof typ !== 'string') return false;
  const t = typ.toLowerCase();
  return t === CLIENT_AUTHENTICATION_JWT_TYPE || t === `application/${CLIENT_AUTHENTICATION_JWT_TYPE}`;
}

/**
 * The audience rule of draft-ietf-oauth-rfc7523bis, against the audience injection attack: a
 * client that signs assertions for whatever endpoint URL an authorization server advertises
 * can be led by a malicious one to sign an assertion whose `aud` is an endpoint of this server,
 * which the attacker then presents here as that client. So an assertion must name this
 * server's issuer identifier as its sole audience (a string, or an array of that one value,
 * which the draft allows since -03; never an endpoint URL, never beside another value) when it
 * is typed `client-authentication+jwt` (the client declares it follows the draft), and every
 * assertion when `issuerAudienceOnly` (`tokens.clientAssertions.issuerAudienceOnly`). Other
 * assertions keep assertionAudiences (OIDC Core §9). Run after the signature and the audience
 * of assertionAudiences were verified, by TokenService and by oidc-provider's
 * `assertJwtClientAuthClaimsAndHeader`. Throws `oauth.invalid-client`.
 *
 * @example requireIssuerAudience(protectedHeader, payload.aud, { issuer, issuerAudienceOnly: false });
 */
export function requireIssuerAudience(header: { typ?: unknown }, aud: unknown, opts: { issuer: string; issuerAudienceOnly?: boolean }): void {
  const typed = isClientAuthenticationJwt(header.typ);
  if (!typed && opts.issuerAudienceOnly !== true) return;
  const sole = typeof aud === 'string' ? aud : Array.isArray(aud) && aud.length === 1 ? aud[0] : undefined;
  if (sole === opts.issuer) return;
  throw invalidClient(
    typed
      ? `client_assertion typed ${CLIENT_AUTHENTICATION_JWT_TYPE} must have the issuer identifier (${opts.issuer}) as its sole aud`
      : `this server accepts only its issuer identifier (${opts.issuer}) as the sole aud of client_assertion`,
  );
}

/** The endpoints that authenticate clients, by path, and the audit event type of a failed client authentication at each. */
export const CLIENT_AUTH_DENIALS = {
  '/oauth2/token': 'token.denied',
  '/oauth2/revoke': 'token.revoke-refused',
  '/oauth2/introspect': 'token.introspect-refused',
} as const;

export type ClientAuthEndpoint = keyof typeof CLIENT_AUTH_DENIALS;

/**
 * The longest unverified client id audited as it was named. Portcullis's ids are about 20
 * characters (`app_` and 12 random bytes); anything longer than this names no app, and an
 * anonymous caller could otherwise store up to a whole request body per request.
 */
const MAX_AUDITED_CLIENT_ID = 256;
/** How much of a longer one is kept, in `data.clientIdStart`, beside its length. */
const CLIENT_ID_START = 64;

/**
 * The audit event of a failed client authentication (`oauth.invalid-client`) at `endpoint`,
 * whichever server answered it (TokenService, or oidc-provider for a sign-in app): the
 * client id the caller named (unverified; null when none), never its secret or assertion.
 * An id longer than any client id is not stored: its length and first characters are.
 *
 * @example audit.record(clientAuthDenied('/oauth2/revoke', namedClientId(req.authorization, req.params), clock.now()));
 */
export function clientAuthDenied(endpoint: ClientAuthEndpoint, clientId: string | undefined, time: number): AuditEventInput {
  const event = { time, type: CLIENT_AUTH_DENIALS[endpoint], actor: 'anonymous', reason: 'oauth.invalid-client' };
  if (clientId !== undefined && clientId.length > MAX_AUDITED_CLIENT_ID) {
    return { ...event, clientId: null, data: { endpoint, clientIdLength: clientId.length, clientIdStart: clientId.slice(0, CLIENT_ID_START) } };
  }
  return { ...event, clientId: clientId ?? null, data: { endpoint } };
}

export interface ClientAuthContext {
  findApp(clientId: string): AppRecord | undefined;
  ephemeral: EphemeralStore;
  clock: Clock;
  /** Accepted `aud` values of a client assertion: the issuer and the endpoint URL. */
  assertionAudiences: string[];
  /** This server's issuer identifier: the sole `aud` of a typed assertion (requireIssuerAudience). */
  issuer: string;
  /** `tokens.clientAssertions.issuerAudienceOnly`: the issuer as sole `aud` of every assertion. */
  issuerAudienceOnly?: boolean;
  /**
   * `tls_client_auth`: verifies the chain against the Portcullis CA (valid now, clientAuth,
   * not revoked) and returns the app it is bound to; throws `cert.*` otherwise.
   */
  verifyTlsClient?(chain: readonly Uint8Array[]): Promise<string | null>;
  /**
   * RFC 7009 §2.1 (revocation only): a caller that presents no credentials and names a public
   * app by `client_id` is that app, identified, not authenticated (it has nothing to prove).
   */
  identifyPublicClient?: boolean;
}

/**
 * Every 401 carries a challenge (RFC 9110 §15.5.2), also when the client authenticated
 * in the body or by certificate: Basic is one this endpoint takes (RFC 6749 §5.2).
 */
const invalidClient = (why: string) => new PortcullisError('oauth.invalid-client', why, { details: { wwwAuthenticate: 'Basic realm="portcullis"' } });

function decodeBasic(header: string): { clientId: string; secret: string } {
  const m = /^Basic +([A-Za-z0-9+/=._~-]+) *$/i.exec(header);
  if (!m) throw invalidClient('malformed Basic authorization header');
  const decoded = Buffer.from(m[1]!, 'base64').toString('utf8');
  const i = decoded.indexOf(':');
  if (i < 0) throw invalidClient('malformed Basic credentials');
  try {
    // RFC 6749 §2.3.1: client id and secret are form-urlencoded before Basic encoding.
    return {
      clientId: decodeURIComponent(decoded.slice(0, i).replace(/\+/g, ' ')),
      secret: decodeURIComponent(decoded.slice(i + 1).replace(/\+/g, ' ')),
    };
  } catch {
    throw invalidClient('malformed Basic credentials');
  }
}

function requireActive(app: AppRecord | undefined): AppRecord {
  if (!app) throw invalidClient('client authentication failed');
  if (app.status !== 'active') throw invalidClient('client authentication failed: the app is disabled');
  return app;
}

/** Authenticates the calling client or throws `oauth.invalid-client` / `oauth.invalid-request`. */
export async function authenticateClient(req: ClientAuthRequest, ctx: ClientAuthContext): Promise<AppRecord> {
  const { params } = req;
  checkClientIds(req.authorization, params);
  const hasBasic = req.authorization !== undefined && /^basic /i.test(req.authorization);
  const hasPost = params.client_secret !== undefined;
  const hasAssertion = params.client_assertion !== undefined || params.client_assertion_type !== undefined;
  if (Number(hasBasic) + Number(hasPost) + Number(hasAssertion) > 1) {
    throw new PortcullisError('oauth.invalid-request', 'more than one client authentication method was used');
  }
  if (hasBasic) {
    const { clientId, secret } = decodeBasic(req.authorization!);
    if (params.client_id !== undefined && params.client_id !== clientId) throw new PortcullisError('oauth.invalid-request', 'client_id does not match the Basic credentials');
    const app = ctx.findApp(clientId);
    // Always run the comparison, so an unknown client takes as long as a wrong secret.
    const ok = verifySecret(secret, app?.secretVerifier ?? 'sha256$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA');
    if (!app || !ok) throw invalidClient('client authentication failed');
    return requireActive(app);
  }
  if (hasPost) {
    const clientId = params.client_id;
    if (!clientId) throw new PortcullisError('oauth.invalid-request', 'client_id is required with client_secret');
    const app = ctx.findApp(clientId);
    const ok = verifySecret(params.client_secret!, app?.secretVerifier ?? 'sha256$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA');
    if (!app || !ok) throw invalidClient('client authentication failed');
    return requireActive(app);
  }
  if (hasAssertion) return authenticateAssertion(params, ctx);
  const named = params.client_id !== undefined ? ctx.findApp(params.client_id) : undefined;
  // a public app has no client authentication, whatever method a row of an older version holds (migration 0021)
  if (named && named.appType !== 'public' && MTLS_METHODS.has(named.tokenEndpointAuthMethod)) return authenticateMtls(named, req.clientCertificate ?? [], ctx);
  // RFC 7009 §2.1: the server "first validates the client credentials (in case of a confidential
  // client)"; a public client is only identified, by its client_id
  if (named?.appType === 'public' && ctx.identifyPublicClient === true) return requireActive(named);
  throw invalidClient('client authentication is required');
}

/** RFC 8705 §2: the TLS handshake proved the key; the certificate must be the app's. */
async function authenticateMtls(app: AppRecord, chain: readonly Uint8Array[], ctx: ClientAuthContext): Promise<AppRecord> {
  if (chain.length === 0) throw invalidClient('this app authenticates with a client certificate (mutual TLS) and none was presented');
  if (app.tokenEndpointAuthMethod === 'tls_client_auth') {
    if (!ctx.verifyTlsClient) throw invalidClient('tls_client_auth is not available (no CA trust domain configured)');
    let bound: string | null;
    try {
      bound = await ctx.verifyTlsClient(chain);
    } catch (e) {
      const why = e instanceof PortcullisError ? e.code : 'invalid';
      throw invalidClient(`the client certificate was refused (${why})`);
    }
    // RFC 8705 §2.1.2: the subject alternative name must equal the registered tls_client_auth_san_uri.
    if (bound !== app.clientId) throw invalidClient('the client certificate is bound to another app');
    return requireActive(app);
  }
  if (!registeredCertificateMatches(app, chain[0]!)) throw invalidClient('the client certificate is not registered for this app');
  // No CA vouches for a self-signed certificate: its own validity period is checked here, as at sign-in.
  let validity: ReturnType<typeof validityAt>;
  try {
    validity = validityAt(parseCertificate(chain[0]!), ctx.clock.now());
  } catch {
    throw invalidClient('the client certificate cannot be read');
  }
  if (validity === 'expired') throw invalidClient('the client certificate has expired');
  if (validity === 'not-yet-valid') throw invalidClient('the client certificate is not valid yet');
  return requireActive(app);
}

/** RFC 8705 §2.2.2: the presented certificate must match one registered in the app's JWKS (x5c, or the public key). */
function registeredCertificateMatches(app: AppRecord, der: Uint8Array): boolean {
  let presented: X509Certificate;
  try {
    presented = new X509Certificate(der);
  } catch {
    return false;
  }
  const spki = presented.publicKey.export({ format: 'der', type: 'spki' });
  for (const k of app.jwks ?? []) {
    try {
      if (Array.isArray(k.x5c) && k.x5c.length > 0) {
        if (Buffer.from(k.x5c[0]!, 'base64').equals(Buffer.from(der))) return true;
        continue;
      }
      if (createPublicKey({ key: k as import('node:crypto').JsonWebKey, format: 'jwk' }).export({ format: 'der', type: 'spki' }).equals(spki)) return true;
    } catch {
      // an unusable registered key matches nothing
    }
  }
  return false;
}

/** A client assertion is accepted while its `iat` is at most this old (seconds), with this clock tolerance. */
const ASSERTION_MAX_AGE_S = 600;
const ASSERTION_TOLERANCE_S = 30;

async function authenticateAssertion(params: Record<string, string>, ctx: ClientAuthContext): Promise<AppRecord> {
  if (params.client_assertion_type !== JWT_BEARER_ASSERTION) throw new PortcullisError('oauth.invalid-request', `client_assertion_type must be ${JWT_BEARER_ASSERTION}`);
  const assertion = params.client_assertion;
  if (!assertion) throw new PortcullisError('oauth.invalid-request', 'client_assertion is required');
  // The unverified `sub` only picks the app whose keys then must verify the assertion.
  let claimed: string | undefined;
  try {
    const payload = JSON.parse(Buffer.from(assertion.split('.')[1] ?? '', 'base64url').toString('utf8')) as { sub?: unknown };
    claimed = typeof payload.sub === 'string' ? payload.sub : undefined;
  } catch {
    throw invalidClient('client_assertion is not a JWT');
  }
  checkClientId(claimed, 'the sub of client_assertion');
  const clientId = params.client_id ?? claimed;
  if (!clientId) throw invalidClient('client_assertion has no sub');
  const app = ctx.findApp(clientId);
  if (!app || app.tokenEndpointAuthMethod !== 'private_key_jwt' || !app.jwks) throw invalidClient('client authentication failed');
  let payload;
  let protectedHeader;
  try {
    ({ payload, protectedHeader } = await jwtVerify(assertion, createLocalJWKSet({ keys: app.jwks }), {
      algorithms: ['ES256', 'ES384', 'EdDSA', 'RS256', 'PS256'],
      issuer: clientId,
      subject: clientId,
      audience: ctx.assertionAudiences,
      requiredClaims: ['exp', 'jti'],
      currentDate: new Date(ctx.clock.now()),
      maxTokenAge: ASSERTION_MAX_AGE_S,
      clockTolerance: ASSERTION_TOLERANCE_S,
    }));
  } catch (e) {
    const why = e instanceof joseErrors.JOSEError ? e.code : 'invalid';
    throw invalidClient(`client_assertion rejected (${why})`);
  }
  requireIssuerAudience(protectedHeader, payload.aud, ctx);
  await spendAssertion(payload, clientId, ctx);
  return requireActive(app);
}

/**
 * The checks of a client assertion whose signature, `iss` and `aud` were verified, which
 * every server behind /oauth2/* runs (TokenService here, oidc-provider for sign-in apps through
 * its `assertJwtClientAuthClaimsAndHeader`): `sub` is the client (RFC 7523 §3 item 2), `iat`
 * at most ASSERTION_MAX_AGE_S old whatever `exp` says, and the `jti` used once (§3 item 7) in
 * the ephemeral store every node shares, under one key, so an assertion spent at one server
 * is spent at the other. Throws `oauth.invalid-client`.
 *
 * @example await spendAssertion(payload, clientId, { ephemeral, clock });
 */
export async function spendAssertion(payload: { sub?: unknown; iat?: unknown; exp?: unknown; jti?: unknown }, clientId: string, ctx: Pick<ClientAuthContext, 'ephemeral' | 'clock'>): Promise<void> {
  const { sub, iat, exp, jti } = payload;
  if (sub !== clientId) throw invalidClient('the sub of client_assertion is not the client');
  if (typeof iat !== 'number' || !Number.isFinite(iat)) throw invalidClient('client_assertion has no iat');
  if (typeof exp !== 'number' || !Number.isFinite(exp)) throw invalidClient('client_assertion has no exp');
  if (typeof jti !== 'string' || jti === '') throw invalidClient('client_assertion has no jti');
  const nowS = ctx.clock.now() / 1000;
  if (iat > nowS + ASSERTION_TOLERANCE_S) throw invalidClient('client_assertion was issued in the future (iat)');
  if (nowS - iat > ASSERTION_MAX_AGE_S + ASSERTION_TOLERANCE_S) throw invalidClient(`client_assertion is too old (iat more than ${ASSERTION_MAX_AGE_S} s ago)`);
  if (exp + ASSERTION_TOLERANCE_S <= nowS) throw invalidClient('client_assertion has expired');
  // RFC 7523 §3 item 7: the assertion's jti may be used only once. It is remembered while the
  // assertion could be accepted: until exp, or until its iat is too old, whichever comes first.
  const acceptedUntil = Math.min(exp, iat + ASSERTION_MAX_AGE_S) + ASSERTION_TOLERANCE_S;
  const ttl = Math.max(1000, acceptedUntil * 1000 - ctx.clock.now());
  // A store that started empty after iat (a restart) may have forgotten a use: refused too.
  const use = await ctx.ephemeral.consumeOnceMadeAt(`assertion:${clientId}:${jti}`, ttl, iat * 1000);
  if (use === 'used') throw invalidClient('client_assertion was already used (replay)');
  if (use === 'unknown') throw invalidClient('client_assertion was made before the replay store started (a restart), so a replay cannot be ruled out; make a new one');
}
