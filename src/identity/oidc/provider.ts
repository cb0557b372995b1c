/**
 * OpenID Connect sign-in for apps on oidc-provider@9 (OIDC Core 1.0, OAuth 2.1 code
 * flow). Portcullis supplies what the library does not own: clients from the app
 * registry (secrets checked against the stored verifier), signing keys from the key
 * ring, storage (adapter.ts), accounts (users), and the amr/acr/auth_time claims.
 *
 * Policy enforced here:
 * - authorization code + PKCE S256 only (`plain` refused; a `code_verifier` without a
 *   challenge refused), exact redirect_uri matching (oidc-provider compares strings);
 * - RFC 9207 `iss` in every authorization response;
 * - refresh tokens rotate on every use; a reused one revokes the whole grant (RFC 9700 §4.14.2);
 * - RP-initiated logout always asks; "Stay signed in" ends the sign-in to the app the request
 *   names only when its `id_token_hint` is of the signed-in user (logoutAskedByApp); a
 *   logout ends the grants made without offline_access, and keeps those made with it
 *   (oidc-provider's persistsLogout; OIDC Core 1.0 §11: access while the user is signed out);
 * - access tokens for a resource (RFC 8707 `resource` = an app audience) are RFC 9068
 *   JWTs the gateway verifies (`typ: at+jwt`, iss, sub = user id, aud, client_id,
 *   scope, jti, iat, exp, amr, acr, auth_time); their ids are kept per grant so that
 *   revoking the grant (code replay, refresh reuse, session end) revokes them at every
 *   gateway through the revocation set.
 * - RFC 8705 mutual TLS for sign-in apps registered with `tls_client_auth` (oidc-provider's
 *   `features.mTLS`, wired to the Portcullis CA's verifier): the app authenticates at the
 *   token, revocation and introspection endpoints with its client certificate (URI SAN
 *   `spiffe://<trustDomain>/app/<client_id>`, valid now, clientAuth, not revoked), and its
 *   access tokens are bound to it (`cnf.x5t#S256`, RFC 8705 §3). With
 *   `self_signed_tls_client_auth` (§2.2) the certificate is one the app registered in its
 *   JWKS as `x5c` (oidc-provider matches its `x5t#S256`), valid now; no CA is involved.
 *
 * The provider is rebuilt when the key ring's signing key changes (a new key, or the
 * prepublished one taking over), since oidc-provider reads its keystore once.
 */
import { X509Certificate, createHash } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import Provider, { errors, interactionPolicy, type InteractionDetails } from 'oidc-provider';
import type { JWK } from 'jose';
import type { AuditSink } from '../../audit/sink.js';
import type { Clock } from '../../core/clock.js';
import type { EphemeralStore } from '../../core/ephemeral.js';
import type { EventBus } from '../../core/events.js';
import { randomId } from '../../core/ids.js';
import type { Logger } from '../../core/logger.js';
import type { Envelope } from '../../crypto/envelope.js';
import type { KeyRing } from '../../crypto/keyring.js';
import type { SettingsStore } from '../../crypto/store.js';
import type { AppService } from '../../tokens/apps.js';
import { assertionAudiences, clientAuthDenied, requireIssuerAudience, spendAssertion, type ClientAuthEndpoint } from '../../tokens/client-auth.js';
import { namedClientId } from '../../tokens/client-id.js';
import { mayIntrospect } from '../../tokens/may-introspect.js';
import { verifySecret } from '../../tokens/secrets.js';
import type { AppRecord, TokenRevocationStore } from '../../tokens/store.js';
import { ACR_MFA, ACR_SINGLE_FACTOR } from '../../gateway/assurance-policy.js';
import type { IdentityStore, OidcModelRecord, UserRecord } from '../store.js';
import { spiffeId } from '../../pki/profiles.js';
import { parseCertificate } from '../../pki/parse.js';
import { validityAt } from '../../pki/verify-chain.js';
import { PortcullisError } from '../../core/errors.js';
import { grantRevoked, markGrantRevoked, markSessionEnded, oidcAdapter } from './adapter.js';
import { cookieGrip } from './cookie-grip.js';

export { ACR_MFA, ACR_SINGLE_FACTOR };

export interface OidcDeps {
  issuer: string;
  apps: AppService;
  keys: KeyRing;
  identity: IdentityStore;
  /** Interactions and authorization codes (adapter.ts). */
  ephemeral: EphemeralStore;
  settings: SettingsStore;
  envelope: Envelope;
  revokedTokens: TokenRevocationStore;
  events: EventBus;
  /** Records each access token revoked with its grant (`token.revoked`, which the webhook of that name follows). */
  audit?: AuditSink;
  clock: Clock;
  logger: Logger;
  /**
   * RFC 8705 mutual TLS for sign-in apps; without it such an app is not a client of the
   * provider, so it cannot sign users in (fail closed).
   */
  mtls?: OidcMtls;
}

export interface OidcMtls {
  /**
   * The CA's trust domain: an app's certificate names it as `spiffe://<trustDomain>/app/<client_id>`.
   * Without it (and `verifyTlsClient`) `tls_client_auth` apps are not clients of the provider;
   * `self_signed_tls_client_auth` needs neither.
   */
  trustDomain?: string;
  /** The TLS client certificate chain of a request (DER, peer first; empty when none). http/ reads it from the socket. */
  clientCertificate(req: IncomingMessage): readonly Uint8Array[];
  /** Verifies a chain against the Portcullis CA (valid now, clientAuth, not revoked) and returns the app it is bound to; throws `cert.*` otherwise. */
  verifyTlsClient?(chain: readonly Uint8Array[]): Promise<string | null>;
}

/** What Portcullis's verifier said of the client certificate of a request (before oidc-provider authenticates the client). */
interface PresentedCertificate {
  leaf: X509Certificate;
  /** The app the certificate is bound to, when it verified against the Portcullis CA; null when it did not. */
  boundTo: string | null;
  /** Whether now is within the certificate's own validity period (a self-signed one is checked against nothing else). */
  current: boolean;
}

const PRESENTED_CERTIFICATE = Symbol('portcullis.oidc.client-certificate');

export interface OidcOptions {
  /** Seconds (default 600). */
  accessTokenTtl?: number;
  /**
   * The gateways' clock-skew leeway in ms (`tokens.leeway`): they accept a token until
   * exp + this, so a token revoked with its grant is recorded until then (default 0).
   */
  leewayMs?: number;
  /** Seconds (default 3600). */
  idTokenTtl?: number;
  /** Seconds (default 14 days). */
  refreshTokenTtl?: number;
  /** Seconds (default 14 days). */
  sessionTtl?: number;
  /** Cookie signing keys, newest first (see loadCookieKeys). */
  cookieKeys: string[];
  /** Path of the interaction pages (default `/interaction`). */
  interactionPath?: string;
  /** Ask for a second factor at every sign-in, for every user of every app. */
  mfaForEveryone?: boolean;
  /**
   * Whether proxies are trusted at all (`gateway.trustedProxies` is not empty): only then
   * does Koa read the host, scheme and client address from forwarding headers. Which
   * peer is trusted is decided per request before the provider sees it: the identity
   * plane removes those headers from every other peer (http/forwarded-headers.ts).
   */
  behindProxy?: boolean;
  /** `tokens.clientAssertions.issuerAudienceOnly`: every client assertion must name the issuer alone as its `aud` (tokens/client-auth.ts requireIssuerAudience). */
  assertionIssuerAudienceOnly?: boolean;
}

/** Endpoint paths; the token endpoint is the same `/oauth2/token` the client-credentials grant uses. */
export const OIDC_ROUTES = {
  authorization: '/oauth2/authorize',
  token: '/oauth2/token',
  userinfo: '/oauth2/userinfo',
  end_session: '/oauth2/logout',
  revocation: '/oauth2/revoke',
  introspection: '/oauth2/introspect',
  jwks: '/jwks',
} as const;

const MODEL_ISSUED_JWT = 'IssuedJwt';

/**
 * The account page's own sign-in ("Sign in again" on `/account`): a client of the provider
 * itself, never an app of the registry (their ids start `app_`). It is public, asks for
 * `openid` only, with response type `none` (OAuth 2.0 Multiple Response Type Encoding
 * Practices §4: no code and no token are issued; the sign-in only refreshes the browser
 * session), and has one redirect URI, `<issuer>/account/signed-in`, which sends the browser
 * on to `/account`.
 */
export const ACCOUNT_CLIENT_ID = 'portcullis-account';
export const ACCOUNT_SIGNED_IN_PATH = '/account/signed-in';

function accountClientMetadata(issuerBase: string): Record<string, unknown> {
  return {
    client_id: ACCOUNT_CLIENT_ID,
    client_name: 'Account page',
    redirect_uris: [`${issuerBase}${ACCOUNT_SIGNED_IN_PATH}`],
    post_logout_redirect_uris: [],
    grant_types: [],
    response_types: ['none'],
    token_endpoint_auth_method: 'none',
  };
}

/** oidc-provider's error events of the endpoints where it authenticates clients (its routes are Portcullis's paths, OIDC_ROUTES). */
const CLIENT_AUTH_ERROR_EVENTS: ReadonlyArray<readonly [string, ClientAuthEndpoint]> = [
  ['grant.error', OIDC_ROUTES.token],
  ['revocation.error', OIDC_ROUTES.revocation],
  ['introspection.error', OIDC_ROUTES.introspection],
];

/**
 * The headers of the pages oidc-provider renders through Portcullis's hooks (its error page,
 * the sign-out question, the signed-out page), besides their CSP: as every sign-in and account
 * page (pages/html.ts PAGE_HEADERS), not framed by older browsers that ignore
 * `frame-ancestors`, not sniffed, and no referrer (the sign-out URL carries the ID token).
 */
const PROVIDER_PAGE_HEADERS: Readonly<Record<string, string>> = Object.freeze({ 'x-frame-options': 'DENY', 'x-content-type-options': 'nosniff', 'referrer-policy': 'no-referrer' });

/**
 * The CSP source that lets the sign-out question's form go on to `uri`, the app's
 * post_logout_redirect_uri (oidc-provider checked it is registered): browsers apply
 * `form-action` to the redirect after the POST too, so `'self'` alone keeps the browser on
 * the page after "Sign out". Its origin; its scheme alone (`com.example.app:`, `http:`) where
 * CSP has no host syntax for it (a custom scheme, an IPv6 literal). Undefined for none.
 *
 * @example postLogoutFormAction('https://app.example.com/bye?x=1') // 'https://app.example.com'
 */
export function postLogoutFormAction(uri: unknown): string | undefined {
  if (typeof uri !== 'string') return undefined;
  let u: URL;
  try {
    u = new URL(uri);
  } catch {
    return undefined;
  }
  if (!/^[a-z][a-z0-9+.-]*:$/.test(u.protocol)) return undefined;
  if ((u.protocol === 'https:' || u.protocol === 'http:') && /^[A-Za-z0-9.-]+$/.test(u.hostname)) return u.origin;
  return u.protocol;
}

/**
 * Whether an RP-initiated logout is the app's request to end this user's sign-in to it
 * (OIDC RP-Initiated Logout 1.0 §2, `id_token_hint`): an ID token it holds of the user
 * signed in here (`sub` is the user id). oidc-provider validated the token's signature.
 *
 * @example logoutAskedByApp(ctx.oidc.entities.IdTokenHint, ctx.oidc.session.accountId)
 */
export function logoutAskedByApp(idTokenHint: { payload?: { sub?: unknown } } | undefined, accountId: unknown): boolean {
  const sub = idTokenHint?.payload?.sub;
  return typeof sub === 'string' && typeof accountId === 'string' && sub === accountId;
}

/** The endpoints where oidc-provider authenticates clients. */
const CLIENT_AUTH_PATHS: ReadonlySet<string> = new Set(CLIENT_AUTH_ERROR_EVENTS.map(([, path]) => path));

/**
 * The client certificate of a request to an endpoint that authenticates clients, checked by
 * Portcullis's verifier (the chain to the CA, validity, clientAuth, revocation) and the app its
 * URI SAN binds it to; undefined when none was presented. A refused certificate is still the
 * presented one (boundTo null), so oidc-provider answers invalid_client, not "not provided".
 */
async function presentedCertificate(mtls: OidcMtls, req: IncomingMessage, now: number): Promise<PresentedCertificate | undefined> {
  const chain = mtls.clientCertificate(req);
  if (chain.length === 0) return undefined;
  let leaf: X509Certificate;
  let current: boolean;
  try {
    leaf = new X509Certificate(chain[0]!);
    current = validityAt(parseCertificate(chain[0]!), now) === 'current';
  } catch {
    return undefined;
  }
  if (!mtls.verifyTlsClient) return { leaf, boundTo: null, current };
  try {
    return { leaf, boundTo: await mtls.verifyTlsClient(chain), current };
  } catch (e) {
    if (e instanceof PortcullisError) return { leaf, boundTo: null, current };
    throw e;
  }
}

function presentedOf(ctx: { state?: Record<PropertyKey, unknown> } | undefined): PresentedCertificate | undefined {
  return ctx?.state?.[PRESENTED_CERTIFICATE] as PresentedCertificate | undefined;
}

/** Marks, in a provider request's `ctx.state`, that the request recorded audit events. */
const AUDITED = Symbol('portcullis.oidc.audited');

/**
 * Whether the provider request of `ctx` recorded audit events (the `token.revoked` events of
 * a grant it revoked: an RFC 7009 revocation, a logout, a replayed code or refresh token).
 *
 * @example
 * provider.use(async (ctx, next) => { await next(); if (recordedAuditEvents(ctx)) await audit.flush(); });
 */
export function recordedAuditEvents(ctx: { state?: Record<PropertyKey, unknown> }): boolean {
  return ctx.state?.[AUDITED] === true;
}

/** The provider request being served (oidc-provider keeps it in an AsyncLocalStorage), if any. */
function requestUnderWay(): { state: Record<PropertyKey, unknown> } | undefined {
  return (Provider as unknown as { ctx?: { state: Record<PropertyKey, unknown> } }).ctx;
}

/** Models refused when issued before the app's or the user's token watermark. */
const WATERMARKED_MODELS: ReadonlySet<string> = new Set(['AuthorizationCode', 'RefreshToken', 'AccessToken']);

/**
 * Cookie signing keys, created once per deployment and kept encrypted in the settings.
 *
 * @example
 * const cookieKeys = await loadCookieKeys(store, envelope);
 */
export async function loadCookieKeys(settings: SettingsStore, envelope: Envelope): Promise<string[]> {
  const sealed = await settings.setSettingIfAbsent('oidc.cookie-keys', await envelope.encrypt(JSON.stringify([randomId(32)]), 'oidc-cookie-keys'));
  return JSON.parse(await envelope.decryptString(sealed, 'oidc-cookie-keys')) as string[];
}

function clientMetadata(app: AppRecord, mtls: OidcMtls | undefined): Record<string, unknown> | undefined {
  const grants = (app.grantTypes ?? []).filter((g) => g === 'authorization_code' || g === 'refresh_token');
  if (!grants.includes('authorization_code') || !(app.redirectUris?.length)) return undefined;
  const isPublic = app.appType === 'public';
  const common = {
    client_id: app.clientId,
    client_name: app.name,
    redirect_uris: app.redirectUris,
    post_logout_redirect_uris: app.postLogoutRedirectUris ?? [],
    grant_types: grants,
    response_types: ['code'],
  };
  if (!isPublic && app.tokenEndpointAuthMethod === 'self_signed_tls_client_auth') {
    // RFC 8705 §2.2.2: oidc-provider matches the certificate by the x5t#S256 of the keys' x5c; a key without one matches nothing
    const keys = (app.jwks ?? []).filter((k) => Array.isArray(k.x5c) && k.x5c.length > 0);
    if (mtls === undefined || keys.length === 0) return undefined;
    // RFC 8705 §3: access tokens bound to the certificate the app authenticated with.
    return { ...common, token_endpoint_auth_method: 'self_signed_tls_client_auth', jwks: { keys }, tls_client_certificate_bound_access_tokens: true };
  }
  if (!isPublic && app.tokenEndpointAuthMethod === 'tls_client_auth') {
    const mtlsTrustDomain = mtls?.verifyTlsClient ? mtls.trustDomain : undefined;
    if (mtlsTrustDomain === undefined) return undefined;
    return {
      ...common,
      token_endpoint_auth_method: 'tls_client_auth',
      // RFC 8705 §2.1.2: the certificate's URI SAN, as the Portcullis CA writes it for this app.
      tls_client_auth_san_uri: spiffeId(mtlsTrustDomain, app.clientId),
      tls_client_certificate_bound_access_tokens: true,
    };
  }
  const m: Record<string, unknown> = { ...common, token_endpoint_auth_method: isPublic ? 'none' : app.tokenEndpointAuthMethod };
  // Not the secret: its verifier, compared by compareClientSecret below. Symmetric
  // (HS*, client_secret_jwt) uses of it are disabled in the configuration.
  if (!isPublic && app.tokenEndpointAuthMethod !== 'private_key_jwt') m['client_secret'] = app.secretVerifier ?? `none:${randomId(16)}`;
  if (!isPublic && app.tokenEndpointAuthMethod === 'private_key_jwt') m['jwks'] = { keys: app.jwks ?? [] };
  return m;
}

/** What a finished sign-in proved, kept in the session and copied into tokens. */
export interface LoginResult {
  accountId: string;
  amr: string[];
  acr: string;
}

/** A Koa middleware around the provider's requests (`provider.use`). */
export type ProviderMiddleware = (ctx: any, next: () => Promise<void>) => Promise<void>;

export class OidcService {
  private current: Provider | undefined;
  private currentKid: string | undefined;
  private readonly interactionPath: string;
  private readonly middleware: ProviderMiddleware[] = [];
  /**
   * Where the account page sends a browser to sign in again: this provider's sign-in with
   * `prompt=login` for the account page's client, back to `/account/signed-in`. Fixed at
   * start: nothing in it comes from a request, so it cannot be made to lead elsewhere.
   */
  readonly accountSignInUrl: string;

  constructor(
    private readonly d: OidcDeps,
    private readonly opts: OidcOptions,
  ) {
    this.interactionPath = opts.interactionPath ?? '/interaction';
    const q = new URLSearchParams({ client_id: ACCOUNT_CLIENT_ID, response_type: 'none', scope: 'openid', prompt: 'login', redirect_uri: `${d.issuer.replace(/\/$/, '')}${ACCOUNT_SIGNED_IN_PATH}` });
    this.accountSignInUrl = `${OIDC_ROUTES.authorization}?${q.toString()}`;
  }

  /** The provider for the current signing key (rebuilt when the key ring's signing key changed). */
  get provider(): Provider {
    const kid = this.d.keys.signingKey().kid;
    if (!this.current || kid !== this.currentKid) {
      this.current = this.build();
      this.currentKid = kid;
    }
    return this.current;
  }

  /**
   * Runs `mw` around every request the provider serves, this provider's and every one
   * rebuilt after it (the edge uses it to hold an answer until its audit events are stored).
   */
  use(mw: ProviderMiddleware): void {
    this.middleware.push(mw);
    this.current?.use(mw);
  }

  appName(clientId: string): string {
    if (clientId === ACCOUNT_CLIENT_ID) return 'Account page';
    return this.d.apps.find(clientId)?.name ?? clientId;
  }

  appRequiresMfa(clientId: string): boolean {
    return this.d.apps.find(clientId)?.mfaRequired ?? false;
  }

  /** Whether MFA is required for everyone (configuration). */
  get mfaForEveryone(): boolean {
    return this.opts.mfaForEveryone ?? false;
  }

  private signingJwks(): { keys: JWK[]; alg: string; kid: string } {
    const k = this.d.keys.signingKey();
    const jwk = k.privateKey.export({ format: 'jwk' }) as JWK;
    return { keys: [{ ...jwk, kid: k.kid, alg: k.alg, use: 'sig' }], alg: k.alg, kid: k.kid };
  }

  /** Revokes the JWT access tokens issued under a grant (their ids were kept as IssuedJwt rows). */
  private async revokeIssuedJwts(removed: OidcModelRecord[]): Promise<void> {
    const now = this.d.clock.now();
    // every revocation is stored and told before a failure to confirm one is reported
    let unconfirmed: { error: unknown } | undefined;
    for (const r of removed) {
      if (r.model !== MODEL_ISSUED_JWT) continue;
      const jti = r.id;
      const clientId = String(r.payload['clientId'] ?? '');
      const expiresAt = Number(r.payload['exp'] ?? 0) * 1000;
      if (expiresAt + (this.opts.leewayMs ?? 0) <= now) continue;
      await this.d.revokedTokens.revokeToken({ jti, clientId, expiresAt, revokedAt: now });
      this.d.audit?.record({ time: now, type: 'token.revoked', actor: 'system', clientId, data: { jti, reason: 'grant-revoked', ...(r.accountId ? { userId: r.accountId } : {}) } });
      const ctx = requestUnderWay();
      if (ctx) ctx.state[AUDITED] = true;
      await this.d.events.emit({ type: 'token.revoked', jti, clientId, expiresAt }).catch((error: unknown) => void (unconfirmed ??= { error }));
    }
    if (unconfirmed) throw unconfirmed.error;
  }

  /**
   * Whether a code, refresh token or opaque access token was issued before its app's or
   * its user's "revoked before" watermark (app revoke-tokens or disable, user end-sessions
   * or disable): such a token is found no more, on every node, even after the app or
   * the user is enabled again. Compared as the gateway compares JWTs (`iat` in seconds). A
   * refresh token is compared by when its family began (`iiat`, which every rotation keeps):
   * one rotated after the watermark (by a refresh under way at that moment, or on a node that
   * had not heard of it yet) is still a token the app or user held then.
   */
  private async issuedBeforeWatermark(p: Record<string, unknown>): Promise<boolean> {
    const issued = typeof p['iiat'] === 'number' ? Math.min(p['iiat'], Number(p['iat'] ?? 0)) : Number(p['iat'] ?? 0);
    const iatMs = issued * 1000;
    const app = typeof p['clientId'] === 'string' ? this.d.apps.find(p['clientId']) : undefined;
    if (app && iatMs < app.tokensRevokedBefore) return true;
    if (typeof p['accountId'] !== 'string') return false;
    const user = await this.d.identity.getUser(p['accountId']);
    return user !== undefined && iatMs < user.tokensRevokedBefore;
  }

  /**
   * Whether a stored session was signed in before its user's "revoked before" watermark (end
   * every session, an MFA reset, disabling), or belongs to a user who is gone. Such a session
   * was ended, or was first stored after the end listed the user's sessions (a sign-in that
   * finished before it): it is found no more, on every node. Compared as tokens are
   * (`loginTs` in seconds against the watermark in ms).
   */
  private async signedInBeforeWatermark(p: Record<string, unknown>): Promise<boolean> {
    if (typeof p['accountId'] !== 'string') return false;
    const user = await this.d.identity.getUser(p['accountId']);
    return user === undefined || Number(p['loginTs'] ?? 0) * 1000 < user.tokensRevokedBefore;
  }

  /** Audits a session refused after its end (written back by a request under way, or signed in before its user's cut-off). */
  private sessionRefused(userId: string | undefined, cause: 'session-ended' | 'sessions-ended'): void {
    this.d.logger.info({ cause }, 'ended session refused');
    this.d.audit?.record({ time: this.d.clock.now(), type: 'oidc.session-refused', actor: 'system', data: { cause, ...(userId ? { userId } : {}) } });
  }

  /**
   * Revokes one grant: its codes, refresh tokens and JWT access tokens, and the grant itself.
   * A refresh under way may store its rotated refresh token after the grant's rows were
   * deleted: with the grant gone, oidc-provider refuses that token (invalid_grant).
   */
  async revokeGrant(grantId: string): Promise<void> {
    await markGrantRevoked(this.d.ephemeral, grantId);
    const removed = await this.d.identity.revokeOidcGrant(grantId);
    await this.d.identity.destroyOidcModel('Grant', grantId);
    await this.revokeIssuedJwts(removed);
  }

  /**
   * The user's sign-in sessions (one per browser), newest first. `id` is the key the
   * session is stored under (a hash of the session cookie's value, adapter.ts) and stays
   * on the server; `handle` (a hash of that) is what pages and the admin API show and accept.
   */
  async listSessions(userId: string): Promise<Array<{ id: string; handle: string; createdAt: number; expiresAt: number | null; clients: string[]; amr: string[] }>> {
    const rows = await this.d.identity.listOidcModelsByAccount('Session', userId);
    const now = this.d.clock.now();
    const cutoff = (await this.d.identity.getUser(userId))?.tokensRevokedBefore ?? Infinity;
    return rows
      .filter((r) => (r.expiresAt === null || r.expiresAt > now) && Number(r.payload['loginTs'] ?? 0) * 1000 >= cutoff)
      .map((r) => ({
        id: r.id,
        handle: sessionHandle(r.id),
        createdAt: Number(r.payload['iat'] ?? 0) * 1000,
        expiresAt: r.expiresAt,
        clients: Object.keys((r.payload['authorizations'] as Record<string, unknown> | undefined) ?? {}),
        amr: (r.payload['amr'] as string[] | undefined) ?? [],
      }))
      .sort((a, b) => b.createdAt - a.createdAt);
  }

  /** Ends one session of the user: the session and every grant made in it. */
  async endSession(userId: string, sessionId: string): Promise<boolean> {
    const r = await this.d.identity.findOidcModel('Session', sessionId);
    if (!r || r.accountId !== userId) return false;
    const auths = (r.payload['authorizations'] as Record<string, { grantId?: string }> | undefined) ?? {};
    for (const a of Object.values(auths)) if (a.grantId) await this.revokeGrant(a.grantId);
    // marked before it is deleted: a request under way that writes the session back removes it again (adapter.ts)
    await markSessionEnded(this.d.ephemeral, sessionId);
    await this.d.identity.destroyOidcModel('Session', sessionId);
    return true;
  }

  /** Ends the session of the user whose handle (listSessions) is `handle`. */
  async endSessionByHandle(userId: string, handle: string): Promise<boolean> {
    const s = (await this.listSessions(userId)).find((x) => x.handle === handle);
    return s ? this.endSession(userId, s.id) : false;
  }

  /** Ends every session and grant of the user (the caller moves the user's token watermark). */
  async endAllSessions(userId: string): Promise<void> {
    for (const s of await this.d.identity.listOidcModelsByAccount('Session', userId)) await this.endSession(userId, s.id);
    for (const g of await this.d.identity.listOidcModelsByAccount('Grant', userId)) await this.revokeGrant(g.id);
  }

  private build(): Provider {
    const d = this.d;
    const { keys, alg, kid } = this.signingJwks();
    const self = this;
    const appFor = (clientId: string | undefined): AppRecord | undefined => (clientId ? d.apps.find(clientId) : undefined);
    const base = d.issuer.replace(/\/$/, '');

    const Adapter = oidcAdapter(d.identity, d.ephemeral, d.clock, {
      onGrantRevoked: (_g, removed) => self.revokeIssuedJwts(removed),
      onSessionRefused: (accountId) => self.sessionRefused(accountId, 'session-ended'),
    });
    class ClientAwareAdapter extends Adapter {
      override async find(id: string) {
        if (this.model === 'Session') {
          const p = await super.find(id);
          if (p === undefined || !(await self.signedInBeforeWatermark(p))) return p;
          await this.destroy(id);
          self.sessionRefused(typeof p['accountId'] === 'string' ? p['accountId'] : undefined, 'sessions-ended');
          return undefined;
        }
        if (this.model !== 'Client') {
          const p = await super.find(id);
          return p !== undefined && WATERMARKED_MODELS.has(this.model) && (await self.issuedBeforeWatermark(p)) ? undefined : p;
        }
        if (id === ACCOUNT_CLIENT_ID) return accountClientMetadata(base);
        const app = d.apps.find(id);
        if (!app || app.status !== 'active') return undefined;
        return clientMetadata(app, d.mtls);
      }

      override async findByUid(uid: string) {
        const p = await super.findByUid(uid);
        return p !== undefined && this.model === 'Session' && (await self.signedInBeforeWatermark(p)) ? undefined : p;
      }
    }

    const policy = interactionPolicy.base() as unknown as { get(n: string): { checks: { add(c: unknown): void } } };
    // Step-up (RFC 9470): a request that asks for the MFA acr gets a new sign-in when the session lacks it.
    policy.get('login').checks.add(
      new interactionPolicy.Check('acr_mfa_required', 'a second factor is required', (ctx: any) => {
        const asked = String(ctx.oidc.params.acr_values ?? '').split(' ');
        return asked.includes(ACR_MFA) && ctx.oidc.session?.acr !== ACR_MFA;
      }),
    );
    // MFA required for everyone, for this app or for this user holds for an existing
    // browser session too (SSO, prompt=none): without the MFA acr it signs in again
    // (with prompt=none: login_required), whatever the app asked for.
    policy.get('login').checks.add(
      new interactionPolicy.Check('mfa_policy_required', 'a second factor is required for this app or this user', 'login_required', async (ctx: any) => {
        const session = ctx.oidc.session;
        if (!session?.accountId || session.acr === ACR_MFA) return false;
        if (self.mfaForEveryone || appFor(ctx.oidc.client?.clientId)?.mfaRequired === true) return true;
        return (await d.identity.getUser(session.accountId))?.mfaRequired === true;
      }),
    );

    const provider = new Provider(d.issuer, {
      adapter: ClientAwareAdapter,
      jwks: { keys },
      // keygrip's signatures, compared without tsscmp's extra HMACs (cookie-grip.ts)
      cookies: { keys: cookieGrip(this.opts.cookieKeys), long: { signed: true, httpOnly: true, sameSite: 'lax' }, short: { signed: true, httpOnly: true, sameSite: 'lax' } },
      routes: OIDC_ROUTES,
      scopes: ['openid', 'offline_access', 'email'],
      claims: { openid: ['sub'], email: ['email', 'email_verified'], acr: null, amr: null, auth_time: null },
      acrValues: [ACR_SINGLE_FACTOR, ACR_MFA],
      // `none` only for the account page's sign-in: an app's metadata lists `code` alone
      responseTypes: ['code', 'none'],
      clientAuthMethods: ['client_secret_basic', 'client_secret_post', 'private_key_jwt', ...(d.mtls?.trustDomain !== undefined && d.mtls.verifyTlsClient ? ['tls_client_auth'] : []), ...(d.mtls ? ['self_signed_tls_client_auth'] : []), 'none'],
      enabledJWA: {
        idTokenSigningAlgValues: ['ES256', 'EdDSA', 'RS256'],
        clientAuthSigningAlgValues: ['ES256', 'ES384', 'EdDSA', 'RS256', 'PS256'],
      },
      // A client assertion whose signature, iss and aud oidc-provider verified is checked as
      // TokenService checks it (tokens/client-auth.ts): sub is the client, iat at most 10 minutes
      // old whatever exp says (oidc-provider reads exp alone), and its jti spent in the ephemeral
      // store every node shares, under TokenService's key: one assertion authenticates once,
      // at whichever server behind /oauth2/* gets it first (oidc-provider's own ReplayDetection
      // reads, then writes, and keeps a set apart from TokenService's). An assertion typed
      // client-authentication+jwt (or any, with tokens.clientAssertions.issuerAudienceOnly) must
      // name the issuer alone as its aud (draft-ietf-oauth-rfc7523bis), checked before its jti is spent.
      assertJwtClientAuthClaimsAndHeader: async (_ctx: unknown, claims: Record<string, unknown>, header: { typ?: unknown }, client: { clientId: string }) => {
        try {
          requireIssuerAudience(header, claims.aud, { issuer: d.issuer, issuerAudienceOnly: this.opts.assertionIssuerAudienceOnly === true });
          await spendAssertion(claims, client.clientId, { ephemeral: d.ephemeral, clock: d.clock });
        } catch (e) {
          if (e instanceof PortcullisError && e.code === 'oauth.invalid-client') throw new errors.InvalidClientAuth!(e.message);
          throw e;
        }
      },
      clientDefaults: { id_token_signed_response_alg: alg, grant_types: ['authorization_code'], response_types: ['code'], token_endpoint_auth_method: 'client_secret_basic' },
      // PKCE for every client; oidc-provider 9 knows only S256, so `plain` is refused.
      pkce: { required: () => true },
      features: {
        devInteractions: { enabled: false },
        rpInitiatedLogout: {
          enabled: true,
          logoutSource: async (ctx: any, form: string) => {
            // "Stay signed in" still ends the sign-in to the app the request names (oidc-provider
            // keeps it as state.clientId): only an ID token of the signed-in user is that app
            // asking for it. A client_id alone, or another user's ID token, is anyone's link.
            if (!logoutAskedByApp(ctx.oidc?.entities?.IdTokenHint, ctx.oidc?.session?.accountId)) ctx.oidc.session.state.clientId = undefined;
            const onward = postLogoutFormAction(ctx.oidc?.params?.post_logout_redirect_uri);
            ctx.set({ ...PROVIDER_PAGE_HEADERS, 'content-security-policy': `default-src 'none'; frame-ancestors 'none'; form-action 'self'${onward ? ` ${onward}` : ''}` });
            ctx.body = `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Sign out</title></head><body><main><h1>Sign out?</h1>${form}<button form="op.logoutForm" type="submit" name="logout" value="yes">Sign out</button> <button form="op.logoutForm" type="submit">Stay signed in</button></main></body></html>`;
          },
          postLogoutSuccessSource: async (ctx: any) => {
            ctx.set({ ...PROVIDER_PAGE_HEADERS, 'content-security-policy': "default-src 'none'; frame-ancestors 'none'" });
            ctx.body = `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Signed out</title></head><body><main><h1>You are signed out</h1></main></body></html>`;
          },
        },
        userinfo: { enabled: true },
        // RFC 8705: oidc-provider's hooks are synchronous, so the certificate was verified
        // (against the Portcullis CA, revocation included) before it runs (presentedCertificate).
        // A certificate outside its validity period is not presented to it at all: nothing
        // else checks a self-signed one's dates.
        mTLS: {
          enabled: d.mtls !== undefined,
          tlsClientAuth: d.mtls?.trustDomain !== undefined && d.mtls.verifyTlsClient !== undefined,
          selfSignedTlsClientAuth: true,
          certificateBoundAccessTokens: true,
          getCertificate: (ctx: any) => {
            const presented = presentedOf(ctx);
            return presented?.current === true ? presented.leaf : undefined;
          },
          certificateAuthorized: (ctx: any) => (presentedOf(ctx)?.boundTo ?? null) !== null,
          // RFC 8705 §2.1.2: the registered tls_client_auth_san_uri is the certificate's only app URI SAN.
          certificateSubjectMatches: (ctx: any, property: string, expected: string) => {
            const boundTo = presentedOf(ctx)?.boundTo ?? null;
            const trustDomain = d.mtls?.trustDomain;
            return property === 'tls_client_auth_san_uri' && boundTo !== null && trustDomain !== undefined && spiffeId(trustDomain, boundTo) === expected;
          },
        },
        // RFC 7009 §2.1: a token not issued to the caller is refused (unauthorized_client, as
        // TokenService refuses a JWT access token) and audited; a public app, which anyone can
        // name, gets the no-op answer, so its request learns nothing about the token.
        revocation: {
          enabled: true,
          allowedPolicy: async (_ctx: unknown, caller: { clientId: string; clientAuthMethod?: string }, token: { clientId?: string }) => {
            if (token.clientId === caller.clientId) return true;
            if (caller.clientAuthMethod === 'none') return false;
            d.audit?.record({ time: d.clock.now(), type: 'token.revoke-refused', actor: `client:${caller.clientId}`, clientId: caller.clientId, reason: 'oauth.unauthorized-client' });
            throw new errors.UnauthorizedClient!('the token was not issued to this client');
          },
        },
        // RFC 7662 §4: the server decides who may introspect, as TokenService does for JWTs
        // (tokens/may-introspect.ts): the token's own app, or an app that serves one of an
        // access token's audiences as a resource server; being a client of that audience is
        // no such right (oidc-provider's default lets any confidential client). A refresh
        // token has no audience: only its app. A refusal of someone else's token is audited,
        // without the token (an opaque token's id is the token itself).
        introspection: {
          enabled: true,
          allowedPolicy: async (_ctx: unknown, caller: { clientId: string }, token: { clientId?: string; kind?: string; aud?: string | string[] }) => {
            const aud = token.kind === 'RefreshToken' ? undefined : token.aud;
            if (mayIntrospect(appFor(caller.clientId) ?? { clientId: caller.clientId }, token.clientId, aud)) return true;
            d.audit?.record({ time: d.clock.now(), type: 'token.introspect-refused', actor: `client:${caller.clientId}`, clientId: caller.clientId, reason: 'oauth.unauthorized-client', data: { endpoint: OIDC_ROUTES.introspection, tokenClientId: token.clientId ?? null, tokenKind: token.kind ?? null } });
            return false;
          },
        },
        claimsParameter: { enabled: false },
        resourceIndicators: {
          enabled: true,
          defaultResource: () => undefined,
          useGrantedResource: () => true,
          getResourceServerInfo: (_ctx: unknown, resource: string, client: { clientId: string }) => {
            const app = appFor(client.clientId);
            if (!app || !app.audiences.includes(resource)) throw new errors.InvalidTarget!('resource is not an audience of this app');
            return {
              audience: resource,
              scope: app.scopes.join(' '),
              accessTokenTTL: this.opts.accessTokenTtl ?? 600,
              accessTokenFormat: 'jwt',
              jwt: { sign: { alg, kid } },
            };
          },
        },
      },
      ttl: {
        AccessToken: this.opts.accessTokenTtl ?? 600,
        AuthorizationCode: 60,
        IdToken: this.opts.idTokenTtl ?? 3600,
        RefreshToken: this.opts.refreshTokenTtl ?? 14 * 86400,
        Interaction: 3600,
        Session: this.opts.sessionTtl ?? 14 * 86400,
        Grant: this.opts.refreshTokenTtl ?? 14 * 86400,
      },
      // Every refresh rotates. oidc-provider consumes the old token before it resolves the
      // `resource`, so the target is checked here first: a request answered invalid_target
      // must change nothing (RFC 6749 §5.2), not burn the token so that the app's next,
      // correct refresh looks like a replay and revokes the user's grant.
      rotateRefreshToken: async (ctx: any) => {
        refusedRefreshTarget(ctx.oidc.params.resource, ctx.oidc.entities.RefreshToken, appFor(ctx.oidc.client?.clientId));
        return true;
      },
      issueRefreshToken: async (_ctx: unknown, client: { grantTypeAllowed(g: string): boolean }) => client.grantTypeAllowed('refresh_token'),
      conformIdTokenClaims: true,
      interactions: { policy, url: (_ctx: unknown, interaction: { uid: string }) => `${this.interactionPath}/${interaction.uid}` },
      findAccount: async (_ctx: unknown, sub: string) => {
        const user = await d.identity.getUser(sub);
        if (!user || user.status !== 'active') return undefined;
        return { accountId: user.id, claims: async () => ({ sub: user.id, email: user.email, email_verified: false }) };
      },
      extraTokenClaims: async (ctx: any, token: any) => {
        if (token.kind !== 'AccessToken' || token.format !== 'jwt') return undefined;
        const src = ctx.oidc.entities.RotatedRefreshToken ?? ctx.oidc.entities.RefreshToken ?? ctx.oidc.entities.AuthorizationCode;
        return { amr: src?.amr ?? [], acr: src?.acr ?? ACR_SINGLE_FACTOR, auth_time: src?.authTime };
      },
      formats: {
        customizers: {
          jwt: async (_ctx: unknown, token: any, jwt: { header?: Record<string, unknown>; payload: Record<string, unknown> }) => {
            jwt.header = { ...(jwt.header ?? {}), typ: 'at+jwt' };
            const exp = Number(jwt.payload['exp']);
            const issued: OidcModelRecord = {
              model: MODEL_ISSUED_JWT,
              id: String(jwt.payload['jti']),
              payload: { clientId: token.clientId, exp },
              expiresAt: exp * 1000,
              grantId: token.grantId ?? null,
              userCode: null,
              uid: null,
              accountId: token.accountId ?? null,
              consumedAt: null,
            };
            await d.identity.upsertOidcModel(issued);
            // A concurrent reuse of the refresh token (or code) this token comes from may have
            // revoked the grant after this request checked it, and before this row was stored.
            if (issued.grantId !== null && (await grantRevoked(d.ephemeral, issued.grantId))) await self.revokeIssuedJwts([issued]);
          },
        },
      },
      loadExistingGrant: async (ctx: any) => {
        const grantId = ctx.oidc.result?.consent?.grantId ?? ctx.oidc.session.grantIdFor(ctx.oidc.client.clientId);
        const found = grantId ? await ctx.oidc.provider.Grant.find(grantId) : undefined;
        if (found || ctx.oidc.client.clientId !== ACCOUNT_CLIENT_ID || !ctx.oidc.session.accountId) return found;
        // The account page's sign-in gets nothing but the user's own session: nothing to consent to.
        const grant = new ctx.oidc.provider.Grant({ accountId: ctx.oidc.session.accountId, clientId: ACCOUNT_CLIENT_ID });
        grant.addOIDCScope('openid');
        await grant.save();
        return grant;
      },
      renderError: async (ctx: any, out: Record<string, string>) => {
        ctx.type = 'html';
        ctx.set({ ...PROVIDER_PAGE_HEADERS, 'content-security-policy': "default-src 'none'; frame-ancestors 'none'" });
        ctx.body = `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Sign-in error</title></head><body><main><h1>Something went wrong</h1><p>${escapeHtml(out['error'] ?? 'error')}: ${escapeHtml(out['error_description'] ?? '')}</p></main></body></html>`;
      },
    });
    provider.proxy = this.opts.behindProxy === true;
    const mtls = d.mtls;
    if (mtls) {
      provider.use(async (ctx: any, next: () => Promise<void>) => {
        if (ctx.method === 'POST' && CLIENT_AUTH_PATHS.has(ctx.path)) {
          const presented = await presentedCertificate(mtls, ctx.req as IncomingMessage, d.clock.now());
          if (presented) ctx.state[PRESENTED_CERTIFICATE] = presented;
        }
        await next();
      });
    }
    // RFC 7523 §3: the audience of a client assertion is this server's identity, the issuer's
    // URLs; oidc-provider's default takes the endpoints' URLs from the request's Host.
    provider.OIDCContext.prototype.clientJwtAuthExpectedAudience = function (this: { route: string }) {
      return new Set(assertionAudiences(d.issuer, `${base}${OIDC_ROUTES[this.route as keyof typeof OIDC_ROUTES] ?? OIDC_ROUTES.token}`));
    };
    for (const mw of this.middleware) provider.use(mw);
    // Secrets are stored only as verifiers (tokens/secrets.ts): compare against it.
    provider.Client.prototype.compareClientSecret = function (this: { clientSecret?: string }, actual: string) {
      return verifySecret(actual, this.clientSecret ?? null);
    };
    provider.on('server_error', (_ctx: unknown, err: Error) => d.logger.error({ err }, 'oidc-provider server error'));
    // A sign-in app that fails client authentication at an endpoint oidc-provider serves for
    // it is audited as TokenService audits any other app: no guess goes unrecorded.
    for (const [event, endpoint] of CLIENT_AUTH_ERROR_EVENTS) {
      provider.on(event, (ctx: any, err: { error?: unknown }) => {
        if (err?.error !== 'invalid_client') return;
        const clientId: unknown = ctx?.oidc?.client?.clientId;
        d.audit?.record(clientAuthDenied(endpoint, typeof clientId === 'string' ? clientId : namedClientId(ctx?.headers?.authorization, ctx?.oidc?.params ?? {}), d.clock.now()));
      });
    }
    // A grant oidc-provider revokes (RFC 7009 for a refresh or opaque token, a logout, a
    // replayed code or refresh token) is audited whether or not it still had unexpired JWT
    // access tokens (each of those gets its own token.revoked): the revocation of a
    // refresh token whose access tokens have all expired is a change too.
    provider.on('grant.revoked', (ctx: any, grantId: string) => {
      d.logger.info({ grantId }, 'grant revoked');
      const clientId: unknown = ctx?.oidc?.client?.clientId;
      const userId: unknown = ctx?.oidc?.entities?.RefreshToken?.accountId ?? ctx?.oidc?.entities?.AccessToken?.accountId ?? ctx?.oidc?.session?.accountId;
      d.audit?.record({
        time: d.clock.now(),
        type: 'oidc.grant-revoked',
        actor: typeof clientId === 'string' ? `client:${clientId}` : 'system',
        ...(typeof clientId === 'string' ? { clientId } : {}),
        data: { grantId, route: String(ctx?.oidc?.route ?? ''), ...(typeof userId === 'string' ? { userId } : {}) },
      });
      if (ctx?.state) ctx.state[AUDITED] = true;
    });
    return provider;
  }

  /**
   * Finishes the login prompt of an interaction. `mfa` says whether a second factor was
   * actually verified in it (the sign-in pages know which); the acr follows from that
   * alone, never from how many amr values were collected.
   */
  loginResult(user: UserRecord, amr: string[], mfa: boolean): { login: { accountId: string; amr: string[]; acr: string; remember: boolean; ts: number } } {
    return { login: { accountId: user.id, amr, acr: mfa ? ACR_MFA : ACR_SINGLE_FACTOR, remember: true, ts: Math.floor(this.d.clock.now() / 1000) } };
  }

  /** Grants what the consent prompt asks for and returns the grant id. */
  async grantConsent(details: InteractionDetails): Promise<string> {
    const provider = this.provider;
    const accountId = details.session?.accountId;
    const clientId = String(details.params['client_id']);
    if (!accountId) throw new errors.AccessDenied!('no signed-in user');
    const grant = details.grantId ? await (provider as any).Grant.find(details.grantId) : new provider.Grant({ accountId, clientId });
    const missing = details.prompt.details as { missingOIDCScope?: string[]; missingResourceScopes?: Record<string, string[]>; missingOIDCClaims?: string[] };
    if (missing.missingOIDCScope) grant.addOIDCScope(missing.missingOIDCScope.join(' '));
    if (missing.missingOIDCClaims) grant.addOIDCClaims(missing.missingOIDCClaims);
    for (const [resource, scopes] of Object.entries(missing.missingResourceScopes ?? {})) grant.addResourceScope(resource, scopes.join(' '));
    return grant.save();
  }
}

/**
 * Throws `invalid_target` (RFC 8707 §2) when a refresh request's `resource` would be refused
 * once the token was issued: not one of the resources the refresh token was granted for, or
 * (asked for or granted) no longer an audience of the app.
 *
 * @example refusedRefreshTarget(ctx.oidc.params.resource, ctx.oidc.entities.RefreshToken, app);
 */
export function refusedRefreshTarget(asked: unknown, refreshToken: { resourceIndicators: Set<unknown> }, app: AppRecord | undefined): void {
  if (asked === undefined || asked === null || asked === '') return;
  const resources = Array.isArray(asked) ? asked : [asked];
  for (const r of resources) {
    if (typeof r !== 'string' || !refreshToken.resourceIndicators.has(r) || !app?.audiences.includes(r)) {
      throw new errors.InvalidTarget!('resource is not an audience of this app granted to this refresh token');
    }
  }
}

/** A stable public name for a session: never the session id itself, which the browser holds as its cookie. */
export function sessionHandle(sessionId: string): string {
  return `ses_${createHash('sha256').update(sessionId).digest('base64url').slice(0, 22)}`;
}

export function escapeHtml(s: string): string {
  return s.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);
}

/**
 * Builds the OIDC service (the provider is created on first use and rebuilt when the signing key changes).
 *
 * @example
 * const oidc = createOidcProvider(deps, { cookieKeys: await loadCookieKeys(store, envelope) });
 * mountOidc(fastify, oidc, pages);
 */
export function createOidcProvider(deps: OidcDeps, opts: OidcOptions): OidcService {
  return new OidcService(deps, opts);
}
