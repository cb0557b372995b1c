/** What the token service needs from durable storage. */
import type { JWK } from 'jose';
import type { PageRequest } from '../core/page.js';

/** `none`: a public app, which does not authenticate to the token endpoint (RFC 7591 §2); the only method of one. */
export type ClientAuthMethod = 'none' | 'client_secret_basic' | 'client_secret_post' | 'private_key_jwt' | 'tls_client_auth' | 'self_signed_tls_client_auth';

export interface AppRecord {
  /** Public identifier (OAuth client_id). */
  clientId: string;
  name: string;
  /** Audiences (resource servers) tokens may be issued for: the APIs this app is a client of. */
  audiences: string[];
  /** Scopes the app may be granted. */
  scopes: string[];
  tokenEndpointAuthMethod: ClientAuthMethod;
  /**
   * Verifier of the client secret (never the secret): `hmac-sha256$<kid>$<b64url>`,
   * an HMAC under a key derived from the master key. Null for private_key_jwt apps.
   */
  secretVerifier: string | null;
  /** Public keys for private_key_jwt (RFC 7523), or null. */
  jwks: JWK[] | null;
  status: 'active' | 'disabled';
  /** Tokens of this app issued before this instant (epoch ms) are revoked; 0 when never. */
  tokensRevokedBefore: number;
  createdAt: number;
  updatedAt: number;
  /** OIDC sign-in (issue 3): exact redirect URIs for the authorization code flow. */
  redirectUris?: string[];
  /** Where RP-initiated logout may return to. */
  postLogoutRedirectUris?: string[];
  /** `public` apps (SPAs, native) have no secret and must use PKCE; default `confidential`. */
  appType?: AppType;
  /** Grants the app may use; default `['client_credentials']`. */
  grantTypes?: AppGrantType[];
  /** A second factor is required when users sign in to this app. */
  mfaRequired?: boolean;
  /**
   * Audiences this app serves as a resource server (migration 0017): it may introspect
   * tokens issued for them (RFC 7662 §4). Absent: none, so only its own tokens.
   */
  servedAudiences?: string[];
}

export type AppType = 'confidential' | 'public';
export type AppGrantType = 'client_credentials' | 'authorization_code' | 'refresh_token';

export type AppPatch = Partial<Pick<AppRecord, 'name' | 'audiences' | 'scopes' | 'tokenEndpointAuthMethod' | 'secretVerifier' | 'jwks' | 'status' | 'tokensRevokedBefore' | 'redirectUris' | 'postLogoutRedirectUris' | 'appType' | 'grantTypes' | 'mfaRequired' | 'servedAudiences'>>;

export interface RevokedToken {
  jti: string;
  clientId: string;
  /** Token expiry (epoch ms); the record can be purged once it is past by more than the gateways' leeway. */
  expiresAt: number;
  revokedAt: number;
}

export interface AppStore {
  /** Throws PortcullisError('conflict') when the client id exists. */
  createApp(app: AppRecord): Promise<void>;
  getApp(clientId: string): Promise<AppRecord | undefined>;
  /** Oldest first (createdAt, then clientId); one page of them when `page` is given (its cursor's id is a client id). */
  listApps(page?: PageRequest): Promise<AppRecord[]>;
  /** Returns the updated record, or undefined when there is no such app. */
  updateApp(clientId: string, patch: AppPatch, now: number): Promise<AppRecord | undefined>;
  /**
   * Sets the app's secret verifier to `next` only while it is still `expected` (null: the
   * app has none): the updated record, 'changed' when another write replaced the verifier
   * first, undefined when there is no such app. Under concurrent calls with the same
   * `expected`, on one node or several, exactly one succeeds.
   */
  replaceAppSecret(clientId: string, expected: string | null, next: string, now: number): Promise<AppRecord | 'changed' | undefined>;
}

export interface TokenRevocationStore {
  /** Idempotent. */
  revokeToken(token: RevokedToken): Promise<void>;
  /** Every revoked token whose expiry is after `now`. */
  listRevokedTokens(now: number): Promise<RevokedToken[]>;
  /** Deletes records that expired before `now`; returns how many. */
  purgeRevokedTokens(now: number): Promise<number>;
}
