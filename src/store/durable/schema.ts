/**
 * Row shapes of the durable tables, as Kysely sees them. Timestamps are epoch ms
 * (`bigint` in PostgreSQL, parsed to number by the pool); JSON columns are text.
 */
export interface AppsTable {
  client_id: string;
  name: string;
  /** JSON array of strings. */
  audiences: string;
  /** JSON array of strings. */
  scopes: string;
  token_endpoint_auth_method: string;
  secret_verifier: string | null;
  /** JSON array of JWKs, or null. */
  jwks: string | null;
  status: string;
  tokens_revoked_before: number;
  created_at: number;
  updated_at: number;
  /** Migration 0004 (OIDC sign-in): JSON arrays, the app type and whether MFA is required. */
  redirect_uris?: string;
  post_logout_redirect_uris?: string;
  app_type?: string;
  grant_types?: string;
  mfa_required?: number;
  /** Migration 0017: JSON array of the audiences the app serves as a resource server; null before it. */
  served_audiences?: string | null;
}

export interface RevokedTokensTable {
  jti: string;
  client_id: string;
  expires_at: number;
  revoked_at: number;
}

export interface KeysTable {
  kid: string;
  use: string;
  alg: string;
  public_jwk: string;
  private_jwk: string;
  status: string;
  created_at: number;
  activates_at: number;
  retires_at: number | null;
  expires_at: number | null;
}

export interface SettingsTable {
  name: string;
  value: string;
}

/** One row (id 1): the newest audit row's seq and hash, written with every append. */
export interface AuditHeadTable {
  id: number;
  seq: number;
  hash: string;
  /** HMAC of seq and hash under the audit key (audit/head-key.ts); null for a head recorded before migration 0015 or by an append that could not authenticate the head it extended. */
  mac: string | null;
}

export interface AuditTable {
  seq: number;
  time: number;
  type: string;
  actor: string;
  client_id: string | null;
  route: string | null;
  reason: string | null;
  /** JSON object, or null. */
  data: string | null;
  prev_hash: string;
  hash: string;
}

export interface CertificatesTable {
  serial: string;
  issuer_id: string;
  subject: string;
  owner: string | null;
  profile: string;
  not_before: number;
  not_after: number;
  status: string;
  revoked_at: number | null;
  /** RevocationReason name, or null. */
  reason: string | null;
  /** DER; reads back as a Buffer. */
  der: Uint8Array;
  /** Serial of the certificate this one renewed, or null. */
  renewed_from: string | null;
}

export interface CertificateAuthoritiesTable {
  id: string;
  role: string;
  cert_der: Uint8Array;
  signer_kind: string;
  key_ref: string | null;
  /** 0 or 1. */
  active: number;
  created_at: number;
}

export interface CrlNumbersTable {
  issuer_id: string;
  last_number: number;
}

/** The CRL a CA last published, which every node serves (0019). */
export interface PublishedCrlsTable {
  issuer_id: string;
  number: number;
  this_update: number;
  next_update: number;
  entries_digest: string;
  /** DER; reads back as a Buffer. */
  der: Uint8Array;
}

export interface PasswordHashesTable {
  user_id: string;
  hash: string;
}

export interface MfaEnrollmentsTable {
  user_id: string;
  factor_id: string;
  status: string;
  /** JSON object of strings and numbers. */
  data: string;
  created_at: number;
  confirmed_at: number | null;
  /** The last time step a code was accepted for (TOTP); cleared when `data` (the seed) changes. */
  last_step: number | null;
}

export interface MfaRecoveryCodesTable {
  user_id: string;
  idx: number;
  hash: string;
  used_at: number | null;
  created_at: number;
}

export interface AppSigningKeysTable {
  keyid: string;
  client_id: string;
  type: string;
  alg: string;
  /** Envelope ciphertext of an HMAC secret, or null. */
  sealed_secret: string | null;
  /** JSON public JWK, or null. */
  public_jwk: string | null;
  status: string;
  created_at: number;
  revoked_at: number | null;
}

export interface WebhooksTable {
  id: string;
  url: string;
  /** JSON array of event types. */
  events: string;
  description: string | null;
  created_at: number;
  /** Deliveries abandoned in a row (migration 0022). */
  consecutive_abandoned: number;
  /** Epoch ms it was disabled, null while active (migration 0022). */
  disabled_at: number | null;
  disabled_reason: string | null;
}

export interface WebhookDeliveriesTable {
  id: string;
  webhook_id: string;
  event_id: string;
  event_type: string;
  payload: string;
  status: string;
  attempts: number;
  next_attempt_at: number;
  lease_until: number;
  lease_owner: string | null;
  last_status: number | null;
  last_error: string | null;
  created_at: number;
  updated_at: number;
  delivered_at: number | null;
}

/** Migration 0018: sign-in failure counters and locks (identity/lockout.ts), epoch ms. */
export interface LockoutStateTable {
  counter: string;
  subject: string;
  failures: number;
  window_ends_at: number;
  delayed_until: number;
  locked_until: number;
}

export interface Database {
  apps: AppsTable;
  revoked_tokens: RevokedTokensTable;
  key_ring: KeysTable;
  settings: SettingsTable;
  audit_log: AuditTable;
  audit_head: AuditHeadTable;
  certificates: CertificatesTable;
  certificate_authorities: CertificateAuthoritiesTable;
  crl_numbers: CrlNumbersTable;
  published_crls: PublishedCrlsTable;
  password_hashes: PasswordHashesTable;
  mfa_enrollments: MfaEnrollmentsTable;
  mfa_recovery_codes: MfaRecoveryCodesTable;
  app_signing_keys: AppSigningKeysTable;
  webhooks: WebhooksTable;
  webhook_deliveries: WebhookDeliveriesTable;
  lockout_state: LockoutStateTable;
}
