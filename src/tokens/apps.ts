/**
 * Apps (OAuth clients): registration, secret rotation, disable/enable, revocation of
 * every token of one app. Every node keeps an in-memory registry (loaded at start,
 * refreshed by `app.*` events and reconcile) so token issuance and the gateway never
 * wait on the store for a lookup.
 */
import { X509Certificate, createPublicKey, type JsonWebKey, type KeyObject } from 'node:crypto';
import { importJWK, type JWK } from 'jose';
import { PortcullisError } from '../core/errors.js';
import { rsaKeyWeakness } from '../crypto/key-strength.js';
import { randomId } from '../core/ids.js';
import { pastSecondOf, type Clock } from '../core/clock.js';
import type { EventBus } from '../core/events.js';
import type { AuditSink } from '../audit/sink.js';
import type { AppGrantType, AppRecord, AppStore, AppType, ClientAuthMethod } from './store.js';
import { generateClientSecret, secretVerifier } from './secrets.js';

export interface CreateAppInput {
  name: string;
  audiences: string[];
  scopes: string[];
  tokenEndpointAuthMethod?: ClientAuthMethod;
  /** Public keys for private_key_jwt. */
  jwks?: JWK[];
  /** Exact redirect URIs; giving any enables the authorization code flow (and refresh tokens). */
  redirectUris?: string[];
  postLogoutRedirectUris?: string[];
  /** `public`: no secret, PKCE only (default `confidential`). */
  type?: AppType;
  /** Default: client_credentials, plus authorization_code and refresh_token when redirect URIs are given (public apps: no client_credentials). */
  grantTypes?: AppGrantType[];
  mfaRequired?: boolean;
  /** Audiences the app serves as a resource server: it may introspect tokens issued for them. Default none. */
  servedAudiences?: string[];
}

/**
 * A redirect URI must be absolute, without a fragment; http only for loopback hosts
 * (RFC 8252 §7.3) — OAuth 2.1 §2.3.1 and RFC 9700 §4.1.
 */
function checkRedirectUri(uri: string, field: string): void {
  let u: URL;
  try {
    u = new URL(uri);
  } catch {
    throw new PortcullisError('request.invalid', `${field}: not an absolute URI`);
  }
  if (u.hash || uri.includes('#')) throw new PortcullisError('request.invalid', `${field}: must not contain a fragment`);
  const loopback = u.hostname === '127.0.0.1' || u.hostname === '[::1]' || u.hostname === 'localhost';
  if (u.protocol === 'http:' && !loopback) throw new PortcullisError('request.invalid', `${field}: http is allowed only for loopback redirect URIs`);
  if (u.protocol === 'javascript:' || u.protocol === 'data:') throw new PortcullisError('request.invalid', `${field}: scheme not allowed`);
}

/** What the API shows of an app: never the verifier. */
export interface AppView {
  client_id: string;
  name: string;
  audiences: string[];
  scopes: string[];
  token_endpoint_auth_method: ClientAuthMethod;
  status: 'active' | 'disabled';
  tokens_revoked_before: string | null;
  jwks_keys: number;
  type: AppType;
  redirect_uris: string[];
  grant_types: AppGrantType[];
  mfa_required: boolean;
  served_audiences: string[];
  created_at: string;
  updated_at: string;
}

export function viewApp(a: AppRecord): AppView {
  return {
    client_id: a.clientId,
    name: a.name,
    audiences: a.audiences,
    scopes: a.scopes,
    // a public app stored before `none` was one (as client_secret_basic, its default then) has no client authentication all the same
    token_endpoint_auth_method: a.appType === 'public' ? 'none' : a.tokenEndpointAuthMethod,
    status: a.status,
    tokens_revoked_before: a.tokensRevokedBefore ? new Date(a.tokensRevokedBefore).toISOString() : null,
    jwks_keys: a.jwks?.length ?? 0,
    // Records keep defaults as absent (older rows have none): show them resolved.
    type: a.appType ?? 'confidential',
    redirect_uris: a.redirectUris ?? [],
    grant_types: a.grantTypes ?? ['client_credentials'],
    mfa_required: a.mfaRequired ?? false,
    served_audiences: a.servedAudiences ?? [],
    created_at: new Date(a.createdAt).toISOString(),
    updated_at: new Date(a.updatedAt).toISOString(),
  };
}

const NAME = /^[\w .@:-]{1,100}$/;

/** Served audiences, deduplicated; each a non-empty `aud` value of at most 200 characters without control characters. */
function servedAudiences(list: readonly string[]): string[] {
  for (const [i, a] of list.entries()) {
    if (a.length === 0 || a.length > 200 || /[\x00-\x1f\x7f]/.test(a)) throw new PortcullisError('request.invalid', `served_audiences[${i}]: 1-200 characters, no control characters`);
  }
  return [...new Set(list)];
}
const SCOPE = /^[\x21\x23-\x5B\x5D-\x7E]+$/;

/**
 * A public app (no secret, PKCE only) does not authenticate to the token endpoint, so it holds
 * no keys for client authentication (`private_key_jwt`, `self_signed_tls_client_auth`): none
 * at registration and none set later. `field` names what the request gave; `instead`, what to do.
 */
function refusePublicAppKeys(appType: AppType | undefined, field: 'jwks' | 'token_endpoint_auth_method', instead: string): void {
  if (appType !== 'public') return;
  throw new PortcullisError('request.invalid', `${field}: a public app (no client authentication, PKCE only) has no keys for private_key_jwt or self_signed_tls_client_auth; ${instead}`);
}

/**
 * A public app has no client authentication, and only a public app: RFC 7591 §2, "none": "The
 * client is a public client as defined in OAuth 2.0, Section 2.1, and does not have a client
 * secret". A public app registered with a method would be treated as having none, whatever the
 * registration says; a confidential app with `none` could not authenticate at all.
 */
function checkPublicAppMethod(appType: AppType, method: ClientAuthMethod): void {
  if (appType === 'public' && method !== 'none') {
    throw new PortcullisError('request.invalid', `token_endpoint_auth_method: a public app (no client authentication, PKCE only) uses none; ${method} is client authentication, for a confidential app (register it without type public)`);
  }
  if (appType !== 'public' && method === 'none') {
    throw new PortcullisError('request.invalid', 'token_endpoint_auth_method: none (no client authentication) is for a public app (type public, PKCE only); a confidential app authenticates');
  }
}

/** JWK members of private or symmetric keys (RFC 7518 §6.2.2, §6.3.2, §6.4.1). */
const PRIVATE_JWK_MEMBERS = ['d', 'k', 'p', 'q', 'dp', 'dq', 'qi', 'oth'];

/** What each key type of an app JWKS may sign client assertions with (the token endpoint's algorithms, client-auth.ts). */
const ASSERTION_ALGS: Record<string, readonly string[]> = { rsa: ['RS256', 'PS256'], 'P-256': ['ES256'], 'P-384': ['ES384'], ed25519: ['EdDSA'] };
const CURVE_NAMES: Record<string, string> = { prime256v1: 'P-256', secp384r1: 'P-384', secp521r1: 'P-521', secp256k1: 'secp256k1' };

/**
 * An app's registered public keys: for `private_key_jwt`, keys the token endpoint can verify an
 * assertion with (EC P-256/P-384, Ed25519, RSA of 2048 to 16384 bits with an odd exponent of 3
 * or more; an `alg`, when given, one of those the key fits); for `self_signed_tls_client_auth`, the
 * keys a client certificate may hold (P-521 too). Anything else is refused when registered, not
 * left to fail at every sign-in, and a weak key is never stored.
 */
async function checkJwks(jwks: JWK[], method: 'private_key_jwt' | 'self_signed_tls_client_auth' = 'private_key_jwt', requireCertificates = false): Promise<void> {
  if (jwks.length === 0) throw new PortcullisError('request.invalid', `jwks: ${method} needs at least one public key`);
  for (const [i, k] of jwks.entries()) {
    const at = `jwks[${i}]`;
    // RFC 7518 §6.3.2: an RSA key without `d` still carries its primes in p, q, dp, dq, qi, oth, and the JWKS is stored as given
    if (PRIVATE_JWK_MEMBERS.some((m) => m in k)) throw new PortcullisError('request.invalid', `${at}: only public keys may be registered`);
    if (k.use !== undefined && k.use !== 'sig') throw new PortcullisError('request.invalid', `${at}: use must be "sig" (it is ${JSON.stringify(k.use)})`);
    let key: KeyObject;
    try {
      key = createPublicKey({ key: k as JsonWebKey, format: 'jwk' });
    } catch {
      throw new PortcullisError('request.invalid', `${at}: not a usable public JWK`);
    }
    const type = key.asymmetricKeyType;
    const details = key.asymmetricKeyDetails ?? {};
    let kind: string;
    if (type === 'rsa') {
      const weak = rsaKeyWeakness(key);
      if (weak !== undefined) throw new PortcullisError('request.invalid', `${at}: ${weak}`);
      kind = 'rsa';
    } else if (type === 'ec') {
      const curve = CURVE_NAMES[details.namedCurve ?? ''] ?? details.namedCurve ?? 'unknown';
      const accepted = method === 'self_signed_tls_client_auth' ? ['P-256', 'P-384', 'P-521'] : ['P-256', 'P-384'];
      if (!accepted.includes(curve)) throw new PortcullisError('request.invalid', `${at}: EC curve ${curve} is not accepted for ${method} (${accepted.join(', ')})`);
      kind = curve;
    } else if (type === 'ed25519') kind = 'ed25519';
    else throw new PortcullisError('request.invalid', `${at}: ${type ?? 'this'} keys are not accepted (EC P-256/P-384, Ed25519 or RSA)`);
    if (method === 'self_signed_tls_client_auth') checkX5c(k, key, at, requireCertificates);
    if (method === 'private_key_jwt' && k.alg !== undefined) {
      const algs = ASSERTION_ALGS[kind] ?? [];
      if (!algs.includes(k.alg)) throw new PortcullisError('request.invalid', `${at}: alg ${k.alg} does not fit this key (${algs.join(' or ')})`);
      try {
        await importJWK(k, k.alg);
      } catch {
        throw new PortcullisError('request.invalid', `${at}: not a usable public JWK`);
      }
    }
  }
}

/** What registration needs to know of the node's configuration. */
export interface AppServiceOptions {
  /**
   * `pki.trustDomain`: RFC 8705 `tls_client_auth` names the app by the URI SAN
   * `spiffe://<trustDomain>/app/<client_id>`; without it no such app can authenticate.
   */
  trustDomain?: string;
}

/**
 * RFC 7517 §4.7: `x5c[0]` is the key's certificate; for `self_signed_tls_client_auth` it is the
 * certificate the app presents (RFC 8705 §2.2.2, matched by its `x5t#S256`), so it must be one
 * and hold this key. A sign-in app must give it (oidc-provider matches nothing else).
 */
function checkX5c(k: JWK, key: KeyObject, at: string, required: boolean): void {
  if (k.x5c === undefined) {
    if (required) throw new PortcullisError('request.invalid', `${at}.x5c: a sign-in app with self_signed_tls_client_auth registers each key with its certificate (x5c)`);
    return;
  }
  const first = Array.isArray(k.x5c) ? k.x5c[0] : undefined;
  if (typeof first !== 'string' || !/^[A-Za-z0-9+/]+={0,2}$/.test(first)) throw new PortcullisError('request.invalid', `${at}.x5c: expected an array of base64 DER certificates`);
  let cert: X509Certificate;
  try {
    cert = new X509Certificate(Buffer.from(first, 'base64'));
  } catch {
    throw new PortcullisError('request.invalid', `${at}.x5c: x5c[0] is not an X.509 certificate`);
  }
  if (!cert.publicKey.equals(key)) throw new PortcullisError('request.invalid', `${at}.x5c: x5c[0] is the certificate of another key`);
}

/** Sign-in (oidc-provider) matches a self-signed certificate by its registered x5c only. */
function signsInWithCertificate(appType: AppType, grantTypes: readonly AppGrantType[]): boolean {
  return appType !== 'public' && grantTypes.some((g) => g !== 'client_credentials');
}

export class AppService {
  private readonly apps = new Map<string, AppRecord>();
  /**
   * For each app, the number of the store read or write its record comes from. Reads and
   * writes are numbered in the order they begin (reads) or end (writes), so a record read
   * before a change was stored never replaces one read or written after it: a reconcile's
   * `load` cannot undo an `app.changed` refresh, a disable, or a secret rotation that
   * happened while it was reading.
   */
  private readonly recordFrom = new Map<string, number>();
  private sequence = 0;

  constructor(
    private readonly store: AppStore,
    private readonly events: EventBus,
    private readonly audit: AuditSink,
    private readonly clock: Clock,
    private readonly options: AppServiceOptions = {},
  ) {}

  /** Keeps `record` (undefined: the app is gone) unless what is kept comes from something newer than `from`. */
  private install(clientId: string, record: AppRecord | undefined, from: number): void {
    if ((this.recordFrom.get(clientId) ?? 0) > from) return;
    this.recordFrom.set(clientId, from);
    if (record) this.apps.set(clientId, record);
    else this.apps.delete(clientId);
  }

  /** Loads every app into memory (start and reconcile) and returns what the store holds. */
  async load(): Promise<AppRecord[]> {
    const from = ++this.sequence;
    const all = await this.store.listApps();
    const listed = new Set<string>();
    for (const a of all) {
      listed.add(a.clientId);
      this.install(a.clientId, a, from);
    }
    for (const clientId of [...this.recordFrom.keys()]) {
      if (listed.has(clientId) || this.recordFrom.get(clientId)! > from) continue;
      this.apps.delete(clientId);
      this.recordFrom.delete(clientId);
    }
    return all;
  }

  /** Refreshes one app from the store (on an `app.changed` event). */
  async refresh(clientId: string): Promise<void> {
    const from = ++this.sequence;
    this.install(clientId, await this.store.getApp(clientId), from);
  }

  /** In-memory lookup (no store access). */
  find(clientId: string): AppRecord | undefined {
    return this.apps.get(clientId);
  }

  /**
   * Whether the app signs users in (any grant besides client_credentials), so its refresh
   * and opaque tokens are oidc-provider's to revoke and introspect. In memory.
   */
  isSignInApp(clientId: string): boolean {
    return (this.apps.get(clientId)?.grantTypes ?? []).some((g) => g !== 'client_credentials');
  }

  list(): AppRecord[] {
    return [...this.apps.values()].sort((a, b) => a.createdAt - b.createdAt);
  }

  get(clientId: string): AppRecord {
    const a = this.apps.get(clientId);
    if (!a) throw new PortcullisError('not-found', `no app with client_id ${clientId}`);
    return a;
  }

  /** Registers an app; the client secret is returned once and never stored. */
  async create(input: CreateAppInput, actor: string): Promise<{ app: AppRecord; clientSecret: string | null }> {
    if (!NAME.test(input.name)) throw new PortcullisError('request.invalid', 'name: 1-100 letters, digits, spaces or . @ : - _');
    if (input.audiences.length === 0) throw new PortcullisError('request.invalid', 'audiences: at least one audience is required');
    for (const s of input.scopes) if (!SCOPE.test(s)) throw new PortcullisError('request.invalid', `scopes: "${s}" is not a valid scope token`);
    const appType: AppType = input.type ?? 'confidential';
    const method = input.tokenEndpointAuthMethod ?? (appType === 'public' ? 'none' : input.jwks ? 'private_key_jwt' : 'client_secret_basic');
    const redirectUris = [...new Set(input.redirectUris ?? [])];
    redirectUris.forEach((u, i) => checkRedirectUri(u, `redirect_uris[${i}]`));
    const postLogoutRedirectUris = [...new Set(input.postLogoutRedirectUris ?? [])];
    postLogoutRedirectUris.forEach((u, i) => checkRedirectUri(u, `post_logout_redirect_uris[${i}]`));
    const grantTypes: AppGrantType[] =
      input.grantTypes ??
      (redirectUris.length
        ? [...(appType === 'public' ? [] : (['client_credentials'] as const)), 'authorization_code', 'refresh_token']
        : ['client_credentials']);
    if (grantTypes.includes('authorization_code') && redirectUris.length === 0) throw new PortcullisError('request.invalid', 'redirect_uris: the authorization code flow needs at least one redirect URI');
    // RFC 6749 §1.5, §4.4.3: a refresh token comes with an authorization code's tokens, never with client credentials.
    if (grantTypes.includes('refresh_token') && !grantTypes.includes('authorization_code')) {
      throw new PortcullisError('request.invalid', 'grant_types: refresh_token only renews tokens an authorization code obtained; give authorization_code beside it');
    }
    if (appType === 'public' && grantTypes.includes('client_credentials')) throw new PortcullisError('request.invalid', 'grant_types: a public app cannot use client_credentials');
    if (input.jwks !== undefined || method === 'private_key_jwt' || method === 'self_signed_tls_client_auth') {
      refusePublicAppKeys(appType, input.jwks !== undefined ? 'jwks' : 'token_endpoint_auth_method', 'an app that authenticates with keys is a confidential app (register it without type public)');
    }
    checkPublicAppMethod(appType, method);
    if (input.jwks !== undefined && method !== 'private_key_jwt' && method !== 'self_signed_tls_client_auth') {
      throw new PortcullisError('request.invalid', `jwks: an app that authenticates with ${method} registers no keys; give jwks with private_key_jwt or self_signed_tls_client_auth, or leave it out`);
    }
    if (method === 'private_key_jwt' || method === 'self_signed_tls_client_auth') await checkJwks(input.jwks ?? [], method, signsInWithCertificate(appType, grantTypes));
    // RFC 8705 §2.1: the certificate is the app's by its URI SAN, which the CA writes under the trust domain.
    if (method === 'tls_client_auth' && this.options.trustDomain === undefined) {
      throw new PortcullisError('request.invalid', 'token_endpoint_auth_method: tls_client_auth needs pki.trustDomain set on this node (the app\'s certificate names it as spiffe://<trustDomain>/app/<client_id>); without it no client certificate can be issued and the app could never authenticate');
    }
    const served = servedAudiences(input.servedAudiences ?? []);
    const now = this.clock.now();
    // RFC 8705 apps authenticate with their certificate: no secret either.
    const clientSecret = method === 'private_key_jwt' || method === 'tls_client_auth' || method === 'self_signed_tls_client_auth' || appType === 'public' ? null : generateClientSecret();
    const app: AppRecord = {
      // A fixed prefix: ids never start with '-' (a CLI argument would read as an option).
      clientId: `app_${randomId(12)}`,
      name: input.name,
      audiences: [...new Set(input.audiences)],
      scopes: [...new Set(input.scopes)],
      tokenEndpointAuthMethod: method,
      secretVerifier: clientSecret ? secretVerifier(clientSecret) : null,
      jwks: method === 'private_key_jwt' || method === 'self_signed_tls_client_auth' ? (input.jwks ?? null) : null,
      status: 'active',
      tokensRevokedBefore: 0,
      createdAt: now,
      updatedAt: now,
      redirectUris,
      postLogoutRedirectUris,
      appType,
      grantTypes,
      mfaRequired: input.mfaRequired ?? false,
      ...(served.length ? { servedAudiences: served } : {}),
    };
    await this.store.createApp(app);
    this.install(app.clientId, app, ++this.sequence);
    this.audit.record({ time: now, type: 'app.created', actor, clientId: app.clientId, data: { name: app.name, audiences: app.audiences, scopes: app.scopes, method, ...(served.length ? { servedAudiences: served } : {}) } });
    await this.events.emit({ type: 'app.changed', clientId: app.clientId });
    return { app, clientSecret };
  }

  private async patch(clientId: string, patch: Parameters<AppStore['updateApp']>[1]): Promise<AppRecord> {
    const updated = await this.store.updateApp(clientId, patch, this.clock.now());
    if (!updated) throw new PortcullisError('not-found', `no app with client_id ${clientId}`);
    this.install(clientId, updated, ++this.sequence);
    return updated;
  }

  /**
   * Issues a new secret (returned once); the old one stops working at once. The new verifier
   * is written only over the one read here, so of rotations sent at once (on any nodes) one
   * answers with the secret that works and the others are refused (`conflict`), never
   * answered with a secret a later write already replaced.
   */
  async rotateSecret(clientId: string, actor: string): Promise<{ app: AppRecord; clientSecret: string }> {
    const app = await this.store.getApp(clientId);
    if (!app) throw new PortcullisError('not-found', `no app with client_id ${clientId}`);
    // A secret would let an app registered without one (private_key_jwt, mutual TLS, public)
    // authenticate with client_secret_basic, and get bearer tokens instead of certificate-bound ones.
    if (app.appType === 'public') throw new PortcullisError('conflict', 'this app is public; it has no secret');
    if (app.tokenEndpointAuthMethod !== 'client_secret_basic' && app.tokenEndpointAuthMethod !== 'client_secret_post') {
      throw new PortcullisError('conflict', `this app authenticates with ${app.tokenEndpointAuthMethod}; it has no secret`);
    }
    const clientSecret = generateClientSecret();
    const updated = await this.store.replaceAppSecret(clientId, app.secretVerifier, secretVerifier(clientSecret), this.clock.now());
    if (updated === undefined) throw new PortcullisError('not-found', `no app with client_id ${clientId}`);
    if (updated === 'changed') throw new PortcullisError('conflict', 'the app\'s secret changed while this rotation ran (another rotation came first); no new secret was issued');
    this.install(clientId, updated, ++this.sequence);
    this.audit.record({ time: this.clock.now(), type: 'app.secret-rotated', actor, clientId });
    await this.events.emit({ type: 'app.changed', clientId });
    return { app: updated, clientSecret };
  }

  /**
   * Revokes every token the app holds now; tokens issued afterwards work. Answers once the
   * cutoff's second has passed (under a second): the cutoff compares whole seconds, so a
   * sign-in to the app that completes after the answer carries a later `iat` and works,
   * while one completed during the wait is concurrent with the change and stays refused.
   */
  async revokeTokens(clientId: string, actor: string): Promise<AppRecord> {
    const before = this.clock.now();
    const updated = await this.patch(clientId, { tokensRevokedBefore: before });
    this.audit.record({ time: before, type: 'app.tokens-revoked', actor, clientId });
    await this.events.emitAll([
      { type: 'app.tokens-revoked', clientId, before },
      { type: 'app.changed', clientId },
    ]);
    await pastSecondOf(this.clock, before);
    return updated;
  }

  /**
   * Disables the app: every token stops working and no new token is issued. Answers once
   * the cutoff's second has passed, as `revokeTokens` does: a sign-in after `enable` carries a later `iat`.
   */
  async disable(clientId: string, actor: string): Promise<AppRecord> {
    const now = this.clock.now();
    const updated = await this.patch(clientId, { status: 'disabled', tokensRevokedBefore: now });
    this.audit.record({ time: now, type: 'app.disabled', actor, clientId });
    await this.events.emitAll([
      { type: 'app.status', clientId, disabled: true },
      { type: 'app.tokens-revoked', clientId, before: now },
      { type: 'app.changed', clientId },
    ]);
    await pastSecondOf(this.clock, now);
    return updated;
  }

  async enable(clientId: string, actor: string): Promise<AppRecord> {
    const updated = await this.patch(clientId, { status: 'active' });
    this.audit.record({ time: this.clock.now(), type: 'app.enabled', actor, clientId });
    await this.events.emitAll([
      { type: 'app.status', clientId, disabled: false },
      { type: 'app.changed', clientId },
    ]);
    return updated;
  }

  /**
   * Replaces the audiences the app serves as a resource server (none: it introspects only
   * its own tokens). Every node applies it on the `app.changed` event.
   */
  async setServedAudiences(clientId: string, audiences: readonly string[], actor: string): Promise<AppRecord> {
    const served = servedAudiences(audiences);
    const updated = await this.patch(clientId, { servedAudiences: served });
    this.audit.record({ time: this.clock.now(), type: 'app.served-audiences-set', actor, clientId, data: { servedAudiences: served } });
    await this.events.emit({ type: 'app.changed', clientId });
    return updated;
  }

  /**
   * Replaces the public keys of an app. A `self_signed_tls_client_auth` app keeps its method
   * (the keys are its client certificates, with x5c when it signs users in); an app with a
   * secret authenticates with `private_key_jwt` from then on, and its secret stops working.
   * A `tls_client_auth` app (its tokens bound to its Portcullis certificate, RFC 8705 §3) and
   * a public app (no client authentication) are refused: the method is chosen at registration.
   */
  async setJwks(clientId: string, jwks: JWK[], actor: string): Promise<AppRecord> {
    const app = await this.store.getApp(clientId);
    if (!app) throw new PortcullisError('not-found', `no app with client_id ${clientId}`);
    refusePublicAppKeys(app.appType, 'token_endpoint_auth_method', 'an app that authenticates with keys is a new app (register a confidential one with jwks)');
    if (app.tokenEndpointAuthMethod === 'tls_client_auth') {
      throw new PortcullisError('request.invalid', 'token_endpoint_auth_method: this app authenticates with tls_client_auth (its Portcullis client certificate, to which its tokens are bound) and registers no keys; setting keys would switch it to private_key_jwt. The method of an app cannot be changed: to use private_key_jwt or self_signed_tls_client_auth, register a new app');
    }
    const method = app.tokenEndpointAuthMethod === 'self_signed_tls_client_auth' ? 'self_signed_tls_client_auth' : 'private_key_jwt';
    await checkJwks(jwks, method, signsInWithCertificate(app.appType ?? 'confidential', app.grantTypes ?? ['client_credentials']));
    const updated = await this.patch(clientId, { jwks, tokenEndpointAuthMethod: method, secretVerifier: null });
    this.audit.record({ time: this.clock.now(), type: 'app.jwks-set', actor, clientId, data: { keys: jwks.length, method } });
    await this.events.emit({ type: 'app.changed', clientId });
    return updated;
  }
}
