/**
 * Request and response schemas of the admin API (zod). Requests are validated with
 * them; `openapi.ts` turns the named ones into `components.schemas`; the tests parse
 * responses with them, so a field that is not documented (a secret, a verifier)
 * fails a test instead of reaching a client. Response objects are strict for that reason.
 */
import { z } from 'zod';
import { signingRequestSchemas, signingResponseSchemas } from './signing-schemas.js';
import { userRequestSchemas, userResponseSchemas } from './user-schemas.js';
import { encryptionRequestSchemas, encryptionResponseSchemas } from './encryption-schemas.js';
import { certificateRequestSchemas, certificateResponseSchemas } from './certificate-schemas.js';
import { nextAfter, queryInteger } from './page.js';

const scopeToken = z.string().regex(/^[\x21\x23-\x5B\x5D-\x7E]+$/, 'expected a scope token (RFC 6749 §3.3)');

export const Jwk = z
  .looseObject({
    kty: z.enum(['EC', 'OKP', 'RSA']).describe('Key type; only public keys are accepted.'),
    kid: z.string().max(200).optional(),
    alg: z.string().max(20).optional(),
  })
  .describe('A public JSON Web Key (RFC 7517).');

export const JwkSet = z
  .strictObject({ keys: z.array(Jwk).min(1).max(20) })
  .describe('A JWK Set (RFC 7517 §5) of public keys, for apps that authenticate with private_key_jwt.');

const servedAudiences = z
  .array(z.string().min(1).max(200))
  .max(50)
  .describe('Audiences (token `aud` values) the app serves as a resource server: it may introspect tokens issued for them (RFC 7662 §4). Being a client of an audience (`audiences`) does not allow that. Default none: the app introspects only its own tokens.');

export const CreateAppRequest = z
  .strictObject({
    name: z.string().min(1).max(100).describe('Display name: letters, digits, spaces and . @ : - _'),
    audiences: z.array(z.string().min(1).max(200)).min(1).max(50).describe('APIs (token `aud` values) the app may request tokens for.'),
    scopes: z.array(scopeToken).max(100).default([]).describe('Scopes the app may request.'),
    token_endpoint_auth_method: z.enum(['none', 'client_secret_basic', 'client_secret_post', 'private_key_jwt', 'tls_client_auth', 'self_signed_tls_client_auth']).optional().describe('Defaults to none for a public app (its only method: any other is refused, and none is refused for a confidential app), else to private_key_jwt when jwks is given, client_secret_basic otherwise. RFC 8705: `tls_client_auth` (a Portcullis client certificate for the app, URI SAN spiffe://<trustDomain>/app/<client_id>; refused on a node without pki.trustDomain) or `self_signed_tls_client_auth` (a certificate registered in jwks as x5c, valid now); both serve the client_credentials grant and a sign-in app (redirect_uris) at the token, revocation and introspection endpoints, and its access tokens are bound to the certificate (cnf.x5t#S256). A sign-in app with `self_signed_tls_client_auth` must give every key of jwks its certificate (x5c[0], holding that key).'),
    jwks: JwkSet.optional(),
    type: z.enum(['confidential', 'public']).optional().describe('`public` (browser or native app): no secret, PKCE only, no client_credentials, no jwks, token_endpoint_auth_method none (no client authentication). Default confidential.'),
    redirect_uris: z.array(z.string().min(1).max(2000)).max(20).optional().describe('Exact redirect URIs for the authorization code flow (https, or http on loopback; no fragment).'),
    post_logout_redirect_uris: z.array(z.string().min(1).max(2000)).max(20).optional().describe('Where RP-initiated logout may return to.'),
    grant_types: z.array(z.enum(['client_credentials', 'authorization_code', 'refresh_token'])).min(1).optional().describe('Default: client_credentials, plus authorization_code and refresh_token when redirect_uris are given (public apps: no client_credentials). refresh_token needs authorization_code beside it.'),
    mfa_required: z.boolean().optional().describe('Users signing in to this app must complete a second factor.'),
    served_audiences: servedAudiences.optional(),
  })
  .describe('Registers an app (OAuth client).');

export const ServedAudiences = z
  .strictObject({ served_audiences: servedAudiences })
  .describe('The audiences an app serves as a resource server (replaces the list; empty: none).');

export const TokenRequest = z.strictObject({ token: z.string().min(1).max(16_384).describe('An access token (JWT).') });

export const AuditListQuery = z.strictObject({
  after: queryInteger(0, Number.MAX_SAFE_INTEGER).default(0).describe('Rows with a sequence number greater than this.'),
  limit: queryInteger(1, 1000).default(100).describe('At most this many rows.'),
});

export const AuditTailQuery = z.strictObject({
  limit: queryInteger(1, 1000).default(20).describe('The newest this many rows.'),
});

const isoTime = z.string().describe('RFC 3339 time');

export const App = z.strictObject({
  client_id: z.string(),
  name: z.string(),
  audiences: z.array(z.string()),
  scopes: z.array(z.string()),
  token_endpoint_auth_method: z.enum(['none', 'client_secret_basic', 'client_secret_post', 'private_key_jwt', 'tls_client_auth', 'self_signed_tls_client_auth']).describe('`none` for a public app (no client authentication).'),
  status: z.enum(['active', 'disabled']),
  tokens_revoked_before: isoTime.nullable().describe('Tokens issued before this time are revoked.'),
  jwks_keys: z.number().int().describe('Number of registered public keys.'),
  type: z.enum(['confidential', 'public']).describe('`public`: no secret, PKCE only.'),
  redirect_uris: z.array(z.string()).describe('Exact redirect URIs for user sign-in.'),
  grant_types: z.array(z.enum(['client_credentials', 'authorization_code', 'refresh_token'])),
  mfa_required: z.boolean().describe('Users signing in to this app must complete a second factor.'),
  served_audiences: z.array(z.string()).describe('Audiences the app serves as a resource server: it may introspect tokens issued for them.'),
  created_at: isoTime,
  updated_at: isoTime,
});

export const AppResponse = z.strictObject({ app: App });
export const AppList = z.strictObject({ apps: z.array(App), next_after: nextAfter });
export const AppCredentials = z.strictObject({
  app: App,
  client_id: z.string(),
  client_secret: z.string().nullable().describe('Shown once, never again; null for private_key_jwt apps.'),
});

export const Key = z.strictObject({
  kid: z.string(),
  use: z.enum(['sig', 'enc']),
  alg: z.string(),
  state: z.enum(['next', 'active', 'retired', 'expired']),
  created_at: isoTime,
  activates_at: isoTime,
  retires_at: isoTime.nullable(),
  expires_at: isoTime.nullable().describe('When the key leaves the JWKS.'),
});
export const KeyList = z.strictObject({ signing_kid: z.string().nullable(), keys: z.array(Key) });
export const KeyRotation = z.strictObject({
  activated: z.string().describe('The kid that signs from now on.'),
  next: z.string().describe('The kid published for the following rotation.'),
  keys: z.array(Key),
});

export const TokenRevocation = z.strictObject({
  revoked: z.boolean().describe('False when the token had already expired (nothing to revoke).'),
  jti: z.string(),
  client_id: z.string(),
});

export const Introspection = z
  .union([
    z.strictObject({ active: z.literal(false) }),
    z.strictObject({
      active: z.literal(true),
      token_type: z.literal('Bearer'),
      iss: z.string(),
      sub: z.string(),
      aud: z.union([z.string(), z.array(z.string())]),
      client_id: z.string(),
      scope: z.string(),
      jti: z.string(),
      iat: z.number().int(),
      exp: z.number().int(),
      cnf: z.strictObject({ 'x5t#S256': z.string() }).optional().describe('RFC 8705 §3.2: the certificate a certificate-bound token is bound to.'),
    }),
  ])
  .describe('RFC 7662 §2.2 introspection response (admin view: any active token of this issuer).');

export const AuditRow = z.strictObject({
  seq: z.number().int(),
  time: z.number().int().describe('Epoch milliseconds.'),
  type: z.string(),
  actor: z.string(),
  clientId: z.string().nullable(),
  route: z.string().nullable(),
  reason: z.string().nullable(),
  data: z.record(z.string(), z.unknown()).nullable(),
  prevHash: z.string(),
  hash: z.string().describe('hex SHA-256(prevHash ‖ canonical row).'),
});
export const AuditPage = z.strictObject({ rows: z.array(AuditRow), next_after: z.number().int().describe('Pass as `after` for the next page.') });
export const AuditTail = z.strictObject({ rows: z.array(AuditRow) });
export const AuditVerify = z.strictObject({
  ok: z.boolean(),
  rows: z.number().int().describe('Rows verified.'),
  code: z
    .enum(['audit.chain-broken', 'audit.trail-missing', 'audit.head-forged', 'audit.rolled-back', 'audit.anchor-invalid'])
    .optional()
    .describe(
      'When not ok: audit.trail-missing when the whole trail was deleted, audit.head-forged when the recorded head is not authenticated by the audit key (the chain up to it may have been rewritten), audit.chain-broken for any other break; for a chain that verifies, audit.rolled-back when it no longer holds the newest event this node saw (its audit anchor: the database was set back), audit.anchor-invalid when that anchor cannot be trusted.',
    ),
  brokenAt: z.number().int().optional().describe('The first row whose link or hash does not verify; for audit.head-forged, the row the recorded head names; for audit.rolled-back, the first row that is not as this node saw it; 0 for rows that lie before row 1 (inserted).'),
  reason: z.string().optional(),
  head: z
    .strictObject({ seq: z.number().int(), hash: z.string() })
    .optional()
    .describe('When ok: the newest row verified. Recorded outside the database, it detects a later rewrite of the whole table.'),
});

export const Health = z.strictObject({ status: z.enum(['ok', 'ready', 'unavailable']) });

export const Problem = z
  .looseObject({
    type: z.string(),
    title: z.string(),
    status: z.number().int(),
    code: z.string().describe('Stable error code (docs/errors.md).'),
    detail: z.string(),
    instance: z.string().optional(),
    errors: z.array(z.strictObject({ path: z.string(), message: z.string() })).optional().describe('For request.invalid: each invalid field.'),
  })
  .describe('RFC 9457 problem details.');

export const OpenApiDocument = z.looseObject({ openapi: z.string() });

/** Named schemas, as they appear under components.schemas. */
export const requestSchemas = { CreateAppRequest, JwkSet, ServedAudiences, TokenRequest, ...userRequestSchemas, ...signingRequestSchemas, ...encryptionRequestSchemas, ...certificateRequestSchemas } as const;
export const responseSchemas = {
  App,
  AppResponse,
  AppList,
  AppCredentials,
  Key,
  KeyList,
  KeyRotation,
  TokenRevocation,
  Introspection,
  AuditRow,
  AuditPage,
  AuditTail,
  AuditVerify,
  Health,
  Problem,
  OpenApiDocument,
  ...signingResponseSchemas,
  ...userResponseSchemas,
  ...encryptionResponseSchemas,
  ...certificateResponseSchemas,
} as const;
