/**
 * The token endpoints' logic, independent of HTTP: the client-credentials grant,
 * revocation (RFC 7009) and introspection (RFC 7662).
 */
import { createHash } from 'node:crypto';
import { PortcullisError } from '../core/errors.js';
import { pastSecondOf, type Clock } from '../core/clock.js';
import type { EphemeralStore } from '../core/ephemeral.js';
import type { EventBus } from '../core/events.js';
import type { DurableAuditSink } from '../audit/sink.js';
import type { KeyRing } from '../crypto/keyring.js';
import type { AppService } from './apps.js';
import { assertionAudiences, authenticateClient, clientAuthDenied, MTLS_METHODS, type ClientAuthContext, type ClientAuthEndpoint, type ClientAuthRequest } from './client-auth.js';
import { namedClientId } from './client-id.js';
import { grantAudience, grantScopes, issueAccessToken, type TokenResponse } from './issue.js';
import type { RevocationSet } from './revocation-set.js';
import type { TokenRevocationStore } from './store.js';
import { mayIntrospect } from './may-introspect.js';
import { verifyOwnToken, type AccessTokenClaims } from './verify-own-token.js';

export interface TokenServiceDeps {
  issuer: string;
  apps: AppService;
  keys: KeyRing;
  revokedTokens: TokenRevocationStore;
  revocations: RevocationSet;
  events: EventBus;
  ephemeral: EphemeralStore;
  /** Denials and issuance are recorded in the background; a revocation waits for its event to be stored. */
  audit: DurableAuditSink;
  clock: Clock;
  accessTokenTtlMs: number;
  /**
   * The gateways' clock-skew leeway (`tokens.leeway`): they take a token as unexpired until
   * `exp` + this, so a revocation must hold that long too.
   */
  leewayMs?: number;
  /** `tokens.maxTokenLifetime`: a longer-lived token of ours is not active, as the gateway refuses it. */
  maxTokenLifetimeMs?: number;
  /** Verified tokens kept for introspection (0 disables). */
  cacheSize?: number;
  /** `tokens.clientAssertions.issuerAudienceOnly`: every client assertion must name the issuer alone as its `aud`. */
  assertionIssuerAudienceOnly?: boolean;
  /** RFC 8705 tls_client_auth: verifies a client certificate chain and returns its app (pki/authority.ts). */
  verifyTlsClient?: ClientAuthContext['verifyTlsClient'];
}

export interface EndpointRequest extends ClientAuthRequest {
  /** The endpoint's own URL, accepted as a client assertion audience. */
  endpoint: string;
}

export type IntrospectionResponse =
  | { active: false }
  | ({ active: true; token_type: 'Bearer' } & Pick<AccessTokenClaims, 'iss' | 'sub' | 'aud' | 'client_id' | 'jti' | 'iat' | 'exp'> & {
      scope: string;
      /** RFC 8705 §3.2: the certificate confirmation of a certificate-bound token. */
      cnf?: { 'x5t#S256': string };
    });

export class TokenService {
  private readonly cache = new Map<string, AccessTokenClaims>();

  constructor(private readonly d: TokenServiceDeps) {
    d.revocations.onRevoke(() => this.cache.clear());
  }

  /** Authenticates the caller; a failure is audited (every endpoint, so no guess goes unrecorded). */
  private async auth(req: EndpointRequest, endpoint: ClientAuthEndpoint) {
    try {
      return await authenticateClient(req, {
        identifyPublicClient: endpoint === '/oauth2/revoke',
        findApp: (id) => this.d.apps.find(id),
        ephemeral: this.d.ephemeral,
        clock: this.d.clock,
        assertionAudiences: assertionAudiences(this.d.issuer, req.endpoint),
        issuer: this.d.issuer,
        issuerAudienceOnly: this.d.assertionIssuerAudienceOnly === true,
        ...(this.d.verifyTlsClient ? { verifyTlsClient: this.d.verifyTlsClient } : {}),
      });
    } catch (e) {
      if (e instanceof PortcullisError && e.code === 'oauth.invalid-client') {
        this.d.audit.record(clientAuthDenied(endpoint, namedClientId(req.authorization, req.params), this.d.clock.now()));
      }
      throw e;
    }
  }

  /** POST /oauth2/token */
  async token(req: EndpointRequest): Promise<TokenResponse> {
    const grantType = req.params.grant_type;
    if (!grantType) throw new PortcullisError('oauth.invalid-request', 'grant_type is required');
    const app = await this.auth(req, '/oauth2/token');
    if (grantType !== 'client_credentials') {
      // RFC 6749 §5.2: a grant this server serves to apps that sign users in, asked for by an app without it
      if ((grantType === 'authorization_code' || grantType === 'refresh_token') && !(app.grantTypes ?? ['client_credentials']).includes(grantType)) {
        this.d.audit.record({ time: this.d.clock.now(), type: 'token.denied', actor: `client:${app.clientId}`, clientId: app.clientId, reason: 'oauth.unauthorized-client' });
        throw new PortcullisError('oauth.unauthorized-client', `this app is not registered for the ${grantType} grant`);
      }
      throw new PortcullisError('oauth.unsupported-grant-type', `grant_type ${grantType} is not supported`);
    }
    // Records from before grant types existed have none: client credentials was their only grant.
    if (app.grantTypes !== undefined && !app.grantTypes.includes('client_credentials')) {
      this.d.audit.record({ time: this.d.clock.now(), type: 'token.denied', actor: `client:${app.clientId}`, clientId: app.clientId, reason: 'oauth.unauthorized-client' });
      throw new PortcullisError('oauth.unauthorized-client', 'this app is not registered for the client_credentials grant');
    }
    let scopes: string[];
    let audience: string[];
    try {
      scopes = grantScopes(app, req.params.scope);
      const resources = [req.params.resource, req.params.audience].filter((v): v is string => typeof v === 'string' && v !== '');
      audience = grantAudience(app, resources);
    } catch (e) {
      if (e instanceof PortcullisError) {
        this.d.audit.record({ time: this.d.clock.now(), type: 'token.denied', actor: `client:${app.clientId}`, clientId: app.clientId, reason: e.code });
      }
      throw e;
    }
    // a token asked for in the second of its app's cutoff (revoke-tokens, then a new token) would be refused for life
    await pastSecondOf(this.d.clock, app.tokensRevokedBefore);
    const { response, jti } = await issueAccessToken(app, scopes, audience, {
      issuer: this.d.issuer,
      keys: this.d.keys,
      clock: this.d.clock,
      accessTokenTtlMs: this.d.accessTokenTtlMs,
    }, certificateConfirmation(app.tokenEndpointAuthMethod, req.clientCertificate));
    this.d.audit.record({ time: this.d.clock.now(), type: 'token.issued', actor: `client:${app.clientId}`, clientId: app.clientId, data: { jti, scope: response.scope, aud: audience } });
    return response;
  }

  /**
   * POST /oauth2/revoke (RFC 7009). Unknown, foreign and expired tokens are a successful
   * no-op (§2.2). A revocation resolves once its audit event is stored; the revocation
   * itself holds even when that fails. A public app (no credentials) is identified by its
   * `client_id` (§2.1) and revokes only its own tokens, as every other caller.
   */
  async revoke(req: EndpointRequest): Promise<void> {
    const app = await this.auth(req, '/oauth2/revoke');
    const token = req.params.token;
    if (!token) throw new PortcullisError('oauth.invalid-request', 'token is required');
    const hint = req.params.token_type_hint;
    if (hint !== undefined && hint !== 'access_token' && hint !== 'refresh_token') {
      throw new PortcullisError('oauth.unsupported-token-type', `token_type_hint ${hint} is not supported`);
    }
    const claims = await verifyOwnToken(token, this.d.keys, this.d.issuer);
    if (!claims) return;
    // RFC 7009 §2.1: the server verifies that the token was issued to the client making the request.
    // a public app is named, not proven: whoever holds its token may revoke it, as the app may
    const identified = app.appType === 'public' ? { clientAuthentication: 'none' } : undefined;
    if (claims.client_id !== app.clientId) {
      this.d.audit.record({ time: this.d.clock.now(), type: 'token.revoke-refused', actor: `client:${app.clientId}`, clientId: app.clientId, reason: 'oauth.unauthorized-client', ...(identified ? { data: identified } : {}) });
      throw new PortcullisError('oauth.unauthorized-client', 'the token was not issued to this client');
    }
    try {
      await this.revokeClaims(claims, `client:${app.clientId}`, identified);
    } catch (e) {
      // stored but not confirmed in force (change.not-in-force): its event is stored before that answer too
      await this.d.audit.flush().catch(() => undefined);
      throw e;
    }
    // an acknowledged revocation is audited first: `audit.unavailable` (503) when its event cannot be stored
    await this.d.audit.flush();
  }

  /**
   * Revokes a token of ours by its claims (admin API and RFC 7009 share this); `data` is added
   * to its audit event. False when there was nothing to revoke: the token is past exp + leeway,
   * refused everywhere anyway.
   */
  async revokeClaims(claims: AccessTokenClaims, actor: string, data?: Record<string, string>): Promise<boolean> {
    const expiresAt = claims.exp * 1000;
    if (expiresAt + (this.d.leewayMs ?? 0) <= this.d.clock.now()) return false;
    await this.d.revokedTokens.revokeToken({ jti: claims.jti, clientId: claims.client_id, expiresAt, revokedAt: this.d.clock.now() });
    this.d.audit.record({ time: this.d.clock.now(), type: 'token.revoked', actor, clientId: claims.client_id, data: { jti: claims.jti, ...data } });
    await this.d.events.emit({ type: 'token.revoked', jti: claims.jti, clientId: claims.client_id, expiresAt });
    return true;
  }

  /** Verified claims of an active token of ours, or undefined (expired, revoked, disabled app, foreign, malformed). */
  async activeClaims(token: string): Promise<AccessTokenClaims | undefined> {
    const cacheKey = this.d.cacheSize === 0 ? undefined : createHash('sha256').update(token).digest('base64url');
    let claims = cacheKey ? this.cache.get(cacheKey) : undefined;
    if (!claims) {
      claims = await verifyOwnToken(token, this.d.keys, this.d.issuer);
      if (!claims) return undefined;
      if ((claims.exp - claims.iat) * 1000 > (this.d.maxTokenLifetimeMs ?? Infinity)) return undefined;
      if (cacheKey) {
        if (this.cache.size >= (this.d.cacheSize ?? 10_000)) this.cache.delete(this.cache.keys().next().value!);
        this.cache.set(cacheKey, claims);
      }
    }
    const now = this.d.clock.now();
    if (claims.exp * 1000 <= now) {
      if (cacheKey) this.cache.delete(cacheKey);
      return undefined;
    }
    // `sub` too, as the gateway checks it: a user's token dies with the user's watermark.
    if (this.d.revocations.check(claims.jti, claims.client_id, claims.iat * 1000, typeof claims.sub === 'string' ? claims.sub : undefined)) return undefined;
    return claims;
  }

  /**
   * POST /oauth2/introspect (RFC 7662). The caller sees a token as active only when it
   * was issued to the caller or names an audience the caller serves as a resource server
   * (`servedAudiences`). Being a client of an audience (`audiences`) is no such right.
   */
  async introspect(req: EndpointRequest): Promise<IntrospectionResponse> {
    const app = await this.auth(req, '/oauth2/introspect');
    const token = req.params.token;
    if (!token) throw new PortcullisError('oauth.invalid-request', 'token is required');
    const claims = await this.activeClaims(token);
    if (!claims) return { active: false };
    // RFC 7662 §4: "the authorization server MUST determine whether or not the token can be
    // introspected by the protected resource"; a refusal looks like any inactive token.
    if (!mayIntrospect(app, claims.client_id, claims.aud)) {
      this.d.audit.record({ time: this.d.clock.now(), type: 'token.introspect-refused', actor: `client:${app.clientId}`, clientId: app.clientId, reason: 'oauth.unauthorized-client', data: { endpoint: '/oauth2/introspect', tokenClientId: claims.client_id, jti: claims.jti } });
      return { active: false };
    }
    return describe(claims);
  }
}

/** RFC 8705 §3.1: a client that authenticated with its certificate gets tokens bound to it (`cnf.x5t#S256`). */
function certificateConfirmation(method: string, chain: readonly Uint8Array[] | undefined): Record<string, string> | undefined {
  if (!MTLS_METHODS.has(method) || !chain?.length) return undefined;
  return { 'x5t#S256': createHash('sha256').update(chain[0]!).digest('base64url') };
}

/**
 * The RFC 7662 §2.2 description of an active token. RFC 8705 §3.2: a certificate-bound
 * token's introspection carries its `cnf` with the `x5t#S256` member, so a resource
 * server that introspects can check the binding.
 * @example describe(claims).cnf?.['x5t#S256']
 */
export function describe(c: AccessTokenClaims): IntrospectionResponse {
  const d: IntrospectionResponse = { active: true, token_type: 'Bearer', iss: c.iss, sub: c.sub, aud: c.aud, client_id: c.client_id, scope: c.scope ?? '', jti: c.jti, iat: c.iat, exp: c.exp };
  const x5t = (c['cnf'] as Record<string, unknown> | undefined)?.['x5t#S256'];
  if (typeof x5t === 'string') d.cnf = { 'x5t#S256': x5t };
  return d;
}
