/**
 * The configuration schema: one source of truth for validation, defaults and the
 * generated reference (`docs/configuration.md`, `npm run docs`). Unknown keys are
 * rejected everywhere (strict objects); durations and sizes are parsed into numbers.
 */
import { isIP } from 'node:net';
import { z } from 'zod';
import { formatDuration, parseDuration, parseSize } from '../duration.js';
import { isLoopbackAddress } from '../loopback.js';
import { normalisePathPrefix, routeHostProblem } from '../../gateway/request-target.js';
import { OTP_WEBHOOK_OWN_FIELDS } from '../../mfa/otp/senders/webhook.js';
import { refusedPlainHttp } from '../../webhooks/plain-http.js';
import { httpHeaders } from './http-headers.js';
import { lowerScheme, postgresUrlProblem, redisUrlProblem, userinfoProblem } from './service-urls.js';

/** Node's largest timer delay: a longer (or zero) delay makes setTimeout/setInterval fire after 1 ms. */
export const TIMER_MAX_MS = 2 ** 31 - 1;

/** Bounds of a duration key, in ms: at least 1 ms and at most ten years unless a key says otherwise. */
export interface DurationBounds {
  min?: number;
  max?: number;
}

const DEFAULT_MAX_MS = 3650 * 86_400_000;

/** An interval or timeout that feeds a timer: between `min` and the timer maximum. */
export const timer = (min = 1): DurationBounds => ({ min, max: TIMER_MAX_MS });

function boundText(ms: number): string {
  return ms === TIMER_MAX_MS ? '24.8 days (2147483647ms, the largest timer delay)' : formatDuration(ms);
}

function parseBoundedDuration(v: unknown, bounds: DurationBounds, ctx: z.RefinementCtx): number {
  const ms = typeof v === 'string' || typeof v === 'number' ? parseDuration(v) : undefined;
  if (ms === undefined) {
    ctx.addIssue({ code: 'custom', message: `expected a duration such as "30s", "10m" or "24h", got ${JSON.stringify(v)}` });
    return z.NEVER as never;
  }
  const { min = 1, max = DEFAULT_MAX_MS } = bounds;
  if (ms < min) {
    ctx.addIssue({ code: 'custom', message: `expected a duration of at least ${boundText(min)}, got ${JSON.stringify(v)}` });
    return z.NEVER as never;
  }
  if (ms > max) {
    ctx.addIssue({ code: 'custom', message: `expected a duration of at most ${boundText(max)}, got ${JSON.stringify(v)}` });
    return z.NEVER as never;
  }
  return ms;
}

/** The key's range as the reference shows it, e.g. `100ms–24.8d`. */
function boundsRange({ min = 1, max = DEFAULT_MAX_MS }: DurationBounds): string {
  return `${formatDuration(min)}–${max === TIMER_MAX_MS ? '24.8d' : formatDuration(max)}`;
}

/** A duration such as `30s`, `10m`, `24h`, or a number of seconds; parsed to milliseconds and checked against the key's bounds. */
export const duration = (def: string, bounds: DurationBounds = {}) =>
  z
    .unknown()
    .default(def)
    .transform((v, ctx) => parseBoundedDuration(v, bounds, ctx))
    .meta({ description: 'duration (e.g. 30s, 10m, 24h)', format: 'duration', durationRange: boundsRange(bounds), default: def });

/** A size such as `1mb` or `16kb`, or a number of bytes; within `min`..`max` bytes (at most 2^53-1). */
export const size = (def: string, bounds: { min?: number; max?: number } = {}) =>
  z
    .union([z.string(), z.number()])
    .default(def)
    .transform((v, ctx) => {
      const n = parseSize(v);
      if (n === undefined) {
        ctx.addIssue({ code: 'custom', message: `expected a size such as "1mb" or "16kb", got ${JSON.stringify(v)}` });
        return z.NEVER;
      }
      // past 2^53-1 a size loses precision: never a silent "no limit"
      if (n < (bounds.min ?? 0) || n > (bounds.max ?? Number.MAX_SAFE_INTEGER)) {
        ctx.addIssue({ code: 'custom', message: `expected a size from ${bounds.min ?? 0} to ${bounds.max ?? Number.MAX_SAFE_INTEGER} bytes, got ${JSON.stringify(v)}` });
        return z.NEVER;
      }
      return n;
    })
    .meta({ description: 'size (e.g. 16kb, 1mb)', format: 'size', default: def });

/** An optional duration (no default), parsed to milliseconds. */
const optionalDuration = (bounds: DurationBounds = {}) =>
  z
    .unknown()
    .optional()
    .transform((v, ctx) => (v === undefined ? undefined : parseBoundedDuration(v, bounds, ctx)))
    .meta({ description: 'duration (e.g. 30s, 10m, 24h)', format: 'duration', durationRange: boundsRange(bounds) });

const hostPort = z
  .string()
  .regex(/^(\[[0-9a-fA-F:.]+\]|[A-Za-z0-9.-]+):\d{1,5}$/, 'expected host:port, e.g. 127.0.0.1:8080')
  // 0 asks the OS for a free port (tests, ephemeral listeners)
  .refine((v) => !(Number(v.slice(v.lastIndexOf(':') + 1)) > 65535), { error: (iss) => `expected a port from 0 to 65535, got ${String(iss.input).slice(String(iss.input).lastIndexOf(':') + 1)}` });

/** A DNS host name (RFC 1123 labels; `_` as service names use it), without port; one trailing dot allowed. */
const hostName = z
  .string()
  .max(254)
  .regex(/^(?!.*\.\.)[A-Za-z0-9_](?:[A-Za-z0-9_-]{0,61}[A-Za-z0-9_])?(?:\.[A-Za-z0-9_](?:[A-Za-z0-9_-]{0,61}[A-Za-z0-9_])?)*\.?$/, 'expected a host name without port, e.g. admin.internal.example');

/** An IP address, or a CIDR block `address/prefix`. */
const ipOrCidr = z.string().refine((v) => {
  const slash = v.indexOf('/');
  const version = isIP(slash === -1 ? v : v.slice(0, slash));
  if (version === 0) return false;
  if (slash === -1) return true;
  const bits = v.slice(slash + 1);
  return /^\d{1,3}$/.test(bits) && Number(bits) <= (version === 4 ? 32 : 128);
}, 'expected an IP address or CIDR block, e.g. 10.0.0.0/8');

/**
 * Whether a `host:port` listen address is `localhost` (any case, no trailing dot) or a loopback
 * IP literal (`isLoopbackAddress`): a listener there is reached from this machine only. Any other
 * name, and forms only a resolver reads as loopback (`127.1`, `0177.0.0.1`), are not. What
 * `localhost` resolves to is checked against the bound address when the plane starts (app.ts).
 *
 * @example
 * isLoopbackListenHost('[::1]:8081'); // true
 * isLoopbackListenHost('0.0.0.0:8081'); // false
 */
export function isLoopbackListenHost(hostPort: string): boolean {
  const h = hostPort.slice(0, hostPort.lastIndexOf(':')).replace(/^\[|\]$/g, '').toLowerCase();
  return h === 'localhost' || isLoopbackAddress(h);
}

const httpUrl = z.url({ protocol: /^https?$/, error: 'expected an http(s) URL' });

/**
 * RFC 8414 §2: the issuer identifier "has no query or fragment components"; endpoints are
 * the issuer plus a path, and a `user:password@` would be published to every client.
 */
const issuerUrl = httpUrl.refine((v) => {
  if (v.includes('?') || v.includes('#')) return false;
  try {
    const u = new URL(v);
    return u.username === '' && u.password === '';
  } catch {
    return false;
  }
}, 'expected an issuer URL without a query, a fragment or user:password (RFC 8414 §2)')
  // RFC 3986 §3.1: the scheme is case-insensitive, but the identity plane's cookies are Secure for an issuer starting with `https:`
  .transform(lowerScheme);

/** The gateway proxies to the origin and path of `routes[].upstream`: userinfo, query and fragment would be dropped unseen. */
const upstreamUrl = httpUrl.refine((v) => {
  if (v.includes('?') || v.includes('#')) return false;
  try {
    const u = new URL(v);
    return u.username === '' && u.password === '';
  } catch {
    return true; // not a URL: httpUrl says so
  }
}, 'expected a base URL without user:password, a query or a fragment (the gateway sends none of them upstream)')
  .transform(lowerScheme);

/**
 * fetch refuses a URL that holds credentials, and its error quotes the whole URL: a
 * `user:password@` in a JWKS URL was never sent, and reached the log on every retrieval.
 */
const jwksUrl = httpUrl.refine((v) => {
  try {
    const u = new URL(v);
    return u.username === '' && u.password === '';
  } catch {
    return true; // not a URL: httpUrl says so
  }
}, 'expected a JWKS URL without user:password (a key set is fetched without credentials)')
  .transform(lowerScheme);

const method = z.enum(['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS']);

const scopeToken = z.string().regex(/^[\x21\x23-\x5B\x5D-\x7E]+$/, 'expected a scope token (RFC 6749 §3.3)');

export const externalIssuerSchema = z.strictObject({
  issuer: z
    .string()
    .min(1)
    // RFC 9068 §4: the `iss` must match exactly, and issuers write their scheme in lower case
    .refine((v) => !/^https?:/i.test(v) || /^https?:/.test(v), 'expected the scheme in lower case (https://…), as the issuer writes it in its tokens\' iss, which must match this value exactly')
    .describe('The `iss` value tokens of this issuer carry, compared exactly; an http(s) URL with its scheme in lower case.'),
  jwksUri: jwksUrl.describe('Where the issuer publishes its JWKS (no user:password; the scheme is lower-cased at load); fetched in the background, refreshed on unknown `kid`.'),
  algorithms: z.array(z.enum(['ES256', 'ES384', 'EdDSA', 'RS256', 'PS256'])).default(['ES256', 'EdDSA', 'RS256', 'PS256']).describe('Accepted signing algorithms.'),
  maxTokenLifetime: duration('24h', { min: 1000 }).describe(
    'Longest lifetime accepted for a token of this issuer: `exp - iat`, or `exp` - now when the token has no `iat` (plus `tokens.leeway`). A longer-lived token is refused (`token.lifetime-too-long`), so a token minted for years cannot be replayed for years.',
  ),
});

export const tokenRequirementSchema = z.strictObject({
  audience: z.string().min(1).describe('The `aud` the token must carry.'),
  scopes: z.array(scopeToken).default([]).describe('Scopes the token must carry (all of them).'),
  issuers: z
    .array(z.union([z.literal('self'), externalIssuerSchema]))
    .min(1)
    // a prefault (parsed like a value given): an issuer's maxTokenLifetime is a transform, and the input's JSON Schema drops a plain default of a transforming schema
    .prefault(['self'])
    .describe('Trusted issuers: `self` (this Portcullis) and/or external issuers with their JWKS URL. The upstream gets the token\'s `iss` in `x-portcullis-issuer` beside `sub` in `x-portcullis-subject`: a `sub` is unique only within its issuer.'),
});

export const clientCertificateRequirementSchema = z
  .strictObject({
    caBundle: z
      .string()
      .min(1)
      .optional()
      .describe('PEM file of CA certificates (relative to the config directory) trusted for this route instead of the Portcullis CA. Their certificates must pass a revocation check too: give the CAs\' `crls`, or opt out with `revocation: none`.'),
    mapToApp: z
      .boolean()
      .optional()
      .describe('The certificate must be bound to an app by its URI SAN `spiffe://<pki.trustDomain>/app/<client_id>`; the upstream gets `x-portcullis-client-cert-app`. Default `true` for the Portcullis CA and `false` with a `caBundle`: setting it to `true` with a `caBundle` trusts the bundle\'s CAs to name any app of the trust domain.'),
    crls: z
      .array(z.string().min(1))
      .min(1)
      .optional()
      .describe('CRL files (PEM or DER, relative to the config directory) of the `caBundle` CAs, re-read when they change. A certificate whose issuer has no current, valid CRL here is refused (`cert.revocation-unknown`).'),
    revocation: z
      .enum(['chain', 'leaf', 'none'])
      .default('chain')
      .describe('Revocation check of `caBundle` certificates: `chain` checks every certificate below the anchor against `crls` (as `openssl verify -crl_check_all`), `leaf` only the client certificate (`-crl_check`), `none` none at all (an explicit opt-out). Certificates of the Portcullis CA are always checked.'),
  })
  .superRefine((c, ctx) => {
    if (c.caBundle === undefined) {
      if (c.crls !== undefined) ctx.addIssue({ code: 'custom', path: ['crls'], message: 'crls apply to a caBundle only (the Portcullis CA is checked by its own inventory)' });
      if (c.revocation !== 'chain') ctx.addIssue({ code: 'custom', path: ['revocation'], message: 'revocation applies to a caBundle only (the Portcullis CA is always checked)' });
    } else if (c.revocation !== 'none' && c.crls === undefined) {
      ctx.addIssue({ code: 'custom', path: ['crls'], message: 'a caBundle needs the CRLs of its CAs (crls), or revocation: none to accept its certificates without any revocation check' });
    }
  });

export const signatureRequirementSchema = z.strictObject({
  components: z
    .array(z.string().min(1))
    .min(1)
    .optional()
    .describe('RFC 9421 components every request signature must cover (e.g. `@method`, `@target-uri`, `@query-param;name="id"`, `x-tenant`); default `@method` and `@target-uri`. `content-digest` is added whenever the request has a body.'),
  algorithms: z
    .array(z.enum(['hmac-sha256', 'ed25519', 'ecdsa-p256-sha256', 'ecdsa-p384-sha384', 'rsa-pss-sha512', 'rsa-v1_5-sha256']))
    .min(1)
    .optional()
    .describe('Signature algorithms accepted; default all. The registered key decides the algorithm, never the message.'),
  maxAge: duration('5m', { min: 1000 }).describe('Largest age of the signature `created` parameter.'),
  clockSkew: duration('30s', { min: 0, max: 3_600_000 }).describe('Clock difference tolerated on `created` and `expires`.'),
  nonce: z.boolean().default(true).describe('Require a `nonce` and accept it once (per key, across every node sharing the ephemeral store): a replay is refused with `signature.replayed`.'),
  tag: z.string().min(1).optional().describe('Only signatures with this `tag` parameter are considered.'),
  maxSignatures: z
    .number()
    .int()
    .min(1)
    .max(16)
    .default(4)
    .describe('Most members Signature-Input and Signature may have; a request with more is refused (`signature.too-many`) before any verification, so it cannot cost more than this many.'),
  sameAppAsToken: z.boolean().default(true).describe('With `require.token`, the signing key must belong to the app (client_id) the token was issued to (`signature.wrong-app`).'),
  trustForwardedProto: z
    .boolean()
    .default(false)
    .describe('Take the scheme of `@target-uri` from the last `X-Forwarded-Proto` (the one the nearest proxy appended) or, where there is none, the `proto=` of the last RFC 7239 `Forwarded` element, instead of the listener, when the direct peer is listed in `gateway.trustedProxies` (when it sends both they must agree, else `400 request.malformed`); from any other peer the scheme is the connection\'s own. Needs a non-empty `gateway.trustedProxies` (a config error otherwise).'),
});

export const encryptionRequirementSchema = z.strictObject({
  request: z
    .boolean()
    .default(true)
    .describe('Request bodies must be a JWE (`application/jose` compact or `application/jose+json`) to a published `use: enc` key or the app symmetric key, with `aud` (token audience, else route name) and `pc_app` (token client_id) in the protected header; the plaintext is forwarded with its `cty`.'),
  response: z
    .union([z.enum(['app-public-key', 'app-symmetric-key']), z.literal(false)])
    .default(false)
    .describe('Encrypt responses (A256GCM) to the app\'s registered public encryption key or its newest symmetric key; the app comes from the token (or the request signature).'),
  algorithms: z
    .array(z.enum(['ECDH-ES+A256KW', 'ECDH-ES', 'RSA-OAEP-256', 'dir', 'A256KW']))
    .min(1)
    .optional()
    .describe('JWE key-management algorithms accepted on requests; default all of these.'),
});

export const routeSchema = z.strictObject({
  name: z.string().regex(/^[a-z0-9][a-z0-9_-]{0,62}$/, 'expected a route name of lowercase letters, digits, - and _'),
  match: z.strictObject({
    host: z
      .string()
      .min(1)
      .superRefine((v, ctx) => {
        const problem = routeHostProblem(v);
        if (problem !== undefined) ctx.addIssue({ code: 'custom', message: problem });
      })
      .optional()
      .describe('Host header to match: a name, an IPv4 address or a bracketed IPv6 address, without a port (exact, case-insensitive, the request\'s port and the trailing dot of the absolute form ignored, an IPv6 literal in any spelling). A host no request can match (a sub-delimiter such as the `*` of a wildcard, which routes do not have, percent-encoding, an empty label, a legacy IPv4 form, a character outside ASCII: write `xn--` names) or with a port is refused. A Host with percent-encoding, a sub-delimiter (`,` `;` `=` `!` `$` `&` `\'` `(` `)` `*` `+`), an empty label (`a..example`, `a.example..`) or a legacy IPv4 form (`127.1`) is refused before routing (`request.malformed`).'),
    pathPrefix: z
      .string()
      .startsWith('/', 'expected a path starting with /')
      .transform((v, ctx) => {
        try {
          return normalisePathPrefix(v);
        } catch (e) {
          ctx.addIssue({ code: 'custom', message: (e as Error).message });
          return z.NEVER;
        }
      })
      .prefault('/')
      .describe('Path prefix, matched on segment boundaries and ignoring the case of ASCII letters (Express, ASP.NET Core and IIS route `/ADMIN` to their `/admin` handler); a prefix with a trailing slash (`/admin/`) also matches its bare name `/admin` (Express and most frameworks serve it as the index), which `stripPrefix` turns into `/`, unless a route has that bare name as its prefix. A prefix also matches its last segment with a format suffix, `/admin.json`, `/admin.tar.gz`, `/admin.json/` (Rails, Spring MVC suffix patterns and Django REST framework serve them with the `/admin` handler), preferring a route without the trailing slash and yielding to a route whose prefix is that path (give `/app.js` its own route to keep it public beside a protected `/app`); `stripPrefix` keeps the suffix on the upstream base path (`/base.json`, or `/.json` without one). The upstream gets the path as sent. It is normalised as request paths are (`%7E` is `~`, percent-encoding hex upper-cased); a prefix no request path can start with (a `.`, `..` or empty segment, a `;` parameter, a backslash, an encoded `/`, `\\`, `;`, NUL or other control character, an encoded space at the edge of a segment, percent-encoded bytes that are not UTF-8, broken percent-encoding, a space, `?`, `#` or a character outside ASCII) is refused.'),
    methods: z.array(method).optional().describe('Methods to match (`GET` matches `HEAD` too: RFC 9110 §9.3.2, upstreams answer HEAD with their GET handler); all when omitted.'),
  }),
  upstream: upstreamUrl.describe('Base URL requests are proxied to: scheme, host, port and an optional base path; no user:password, query or fragment. The scheme is lower-cased at load.'),
  stripPrefix: z.boolean().default(false).describe('Remove the matched path prefix before proxying.'),
  timeout: duration('30s', timer()).describe('Time from handing the request to the upstream pool until the response head: a free pooled connection, the request body (408 `request.timeout` when the client is still sending it) and the upstream answer (504 `upstream.timeout`).'),
  maxBodySize: size('1mb').describe('Largest request body accepted (413 beyond).'),
  signResponses: z
    .boolean()
    .default(false)
    .describe('Sign responses (RFC 9421) with the current key-ring key published at `/jwks`: `@status`, `content-digest`, and the request it answers (`;req`): its signature when the route verified it (`require.signature`), else its `@method`, `@authority`, `@path` and `@query` (and a signature it carries but the route did not verify). Responses on such routes are buffered.'),
  require: z
    .strictObject({
      token: tokenRequirementSchema.optional().describe('Require a valid access token.'),
      mfa: z.boolean().optional().describe('Step-up (RFC 9470): the token must prove a second factor (`acr` urn:portcullis:acr:mfa, `amr` `mfa`, or a second-factor `amr` beside another factor: one method alone is one factor); otherwise 401 with `error="insufficient_user_authentication"` and `acr_values`. Needs `token`.'),
      acr: z.array(z.string().min(1)).min(1).optional().describe('Step-up: the token `acr` must be one of these; the challenge names them in `acr_values`. Needs `token`.'),
      maxAge: optionalDuration({ min: 1000 }).describe('Step-up: the user must have signed in at most this long ago (`auth_time`); the challenge carries `max_age`. Needs `token`.'),
      clientCertificate: clientCertificateRequirementSchema.optional().describe('Require a client certificate (mutual TLS on the gateway): a chain to the Portcullis CA (or `caBundle`), valid now, EKU clientAuth, not revoked.'),
      signature: signatureRequirementSchema.optional().describe('Require an RFC 9421 HTTP message signature by an app signing key (and Content-Digest over any body).'),
      encryption: encryptionRequirementSchema.optional().describe('Require JWE-encrypted request bodies and/or encrypt responses.'),
    })
    .refine((r) => r.token !== undefined || (r.mfa === undefined && r.acr === undefined && r.maxAge === undefined), { message: 'mfa, acr and maxAge need require.token' })
    .prefault({})
    .describe('Policies a request must pass.'),
});

export const configSchema = z.strictObject({
  issuer: issuerUrl.prefault('https://127.0.0.1:8080').describe('The issuer URL of the identity plane (`iss` of every token): no query, fragment or user:password (RFC 8414 §2). The scheme is lower-cased at load (`HTTPS://` is `https://`): tokens carry it so, and sign-in cookies are `Secure` for an `https:` issuer.'),
  listen: z
    .strictObject({
      identity: hostPort.default('127.0.0.1:8080').describe('Identity plane: discovery, JWKS, token, revocation, introspection.'),
      gateway: hostPort.default('127.0.0.1:8443').describe('Gateway plane: the routes.'),
      admin: hostPort.default('127.0.0.1:8081').describe('Admin plane: admin API, OpenAPI, metrics, health, in plain HTTP. An address other than loopback (127.0.0.0/8, `::1`, `localhost`) is refused unless `admin.allowInsecureHttp` is set: the admin token would cross the network in clear. For `localhost` the address it resolves to is checked when the plane starts: one beyond loopback stops the start with `listen.failed`.'),
    })
    .prefault({})
    .describe('Where each plane listens.'),
  planes: z
    .array(z.enum(['identity', 'gateway', 'admin']))
    .min(1)
    .default(['identity', 'gateway', 'admin'])
    .describe('Which planes this node serves.'),
  store: z
    .string()
    .transform(lowerScheme)
    .superRefine((v, ctx) => {
      const problem = !/^(sqlite:.+|postgres(ql)?:\/\/.+)$/.test(v) ? 'expected sqlite:<path> or postgres://user@host:port/db' : v.startsWith('sqlite:') ? undefined : postgresUrlProblem(v);
      if (problem !== undefined) ctx.addIssue({ code: 'custom', message: problem });
    })
    // a prefault: the input's JSON Schema drops a plain default of a transforming schema
    .prefault('sqlite:./portcullis.db')
    .describe(
      'Durable store: `sqlite:<path>` (relative to the config directory) or a PostgreSQL URL, its scheme in any case (lower-cased at load), parsed at load as `pg` parses it: a port that is no number from 1 to 65535, a `/`, `?`, `#` in the user name or password that is not percent-encoded, or a percent-encoding that is no UTF-8 (`%E9` for é, which is `%C3%A9`) in the user name, password, host or database, is `config.invalid` (the error never quotes the URL). So are query options `pg` would throw for or misread: an `sslmode` other than disable, allow, prefer, require, verify-ca, verify-full or no-verify; an `ssl` other than true, 1, 0 or no-verify (`ssl=false` turns TLS on); an `sslcert`, `sslkey` or `sslrootcert` naming no file this process can read (a relative path is read from the working directory, as `pg` reads it); a `port` that is no number from 1 to 65535; a `host` with a space; an `sslnegotiation` other than postgres or direct, or direct with TLS off; `uselibpqcompat=true` with `sslmode=verify-ca` but no `sslrootcert`; and `statement_timeout`, which would replace `postgres.statementTimeout`.',
    ),
  ephemeral: z
    .string()
    .transform(lowerScheme)
    .superRefine((v, ctx) => {
      const problem = !/^(memory|rediss?:\/\/.+)$/.test(v) ? 'expected memory or redis://host:port' : v === 'memory' ? undefined : redisUrlProblem(v);
      if (problem !== undefined) ctx.addIssue({ code: 'custom', message: problem });
    })
    .prefault('memory')
    .describe(
      'Ephemeral store (nonces, counters, revocation fan-out): `memory` or a Redis URL, its scheme in any case (lower-cased at load: `ioredis` connects over TLS only for a lower-case `rediss://`), parsed at load as `ioredis` parses it: a bad port, an unencoded `/`, `?`, `#` in the user name or password, a `%` there that encodes no UTF-8 text (`%zz`, or `%E9` for é, which is `%C3%A9`), or a database path that is no number is `config.invalid` (the error never quotes the URL).',
    ),
  ephemeralPrefix: z
    .string()
    .regex(/^[\w:.-]{1,64}$/, 'expected a key prefix of letters, digits and : . - _')
    .default('portcullis:')
    .describe('Prefix of every Redis key and channel, so several deployments can share one Redis.'),
  postgres: z
    .strictObject({
      statementTimeout: duration('10s', { min: 1000, max: 300_000 }).describe(
        'Longest a runtime query may run (PostgreSQL `statement_timeout`, lock waits included): a stuck query fails `store.unavailable` (503) instead of holding its request for ever. A query whose answer has not come 1 s after it (the network or the server went silent) fails the same way and its connection is dropped; such a timeout, or a connect that fails or times out (5 s), takes the store for down: every query is then refused at once (503 `store.unavailable`, `Retry-After: 1`) until a probe (connect and `select 1` within 1 s, every 0.5 s; when the server refuses this node, e.g. a password refused, ever less often, up to every 30 s) reaches the server. Schema migrations at start run without either bound.',
      ),
    })
    .prefault({})
    .describe('PostgreSQL store settings (used when `store` is a PostgreSQL URL).'),
  masterKeyFile: z.string().default('./master.key').describe('File holding the 32-byte master key (mode 0600), relative to the config directory.'),
  adminTokenFile: z.string().default('./admin.token').describe('File holding the admin API bearer token (mode 0600).'),
  audit: z
    .strictObject({
      anchorFile: z
        .string()
        .min(1)
        .default('./audit.anchor')
        .describe(
          "This node's audit anchor: the newest audit event it saw committed, kept outside the database so that a database set back is detected at start and by `audit verify` (mode 0600; missing directories are made, mode 0700). Relative to the config directory. The node writes it at start, every 5 s while the audit trail grows and at a clean stop, so it must be on a writable volume: where the config directory is read-only (a Kubernetes ConfigMap or Secret), point it at a persistent volume of this node. Each node needs its own file.",
        ),
    })
    .prefault({})
    .describe('The audit trail.'),
  tokens: z
    .strictObject({
      accessTokenTtl: duration('10m', { min: 1000 }).describe('Lifetime of access tokens.'),
      signingAlg: z.enum(['ES256', 'EdDSA', 'RS256']).default('ES256').describe('Algorithm of new signing keys.'),
      leeway: duration('30s', { min: 0, max: 3_600_000 }).describe('Clock-skew leeway when checking exp/nbf/iat.'),
      maxTokenLifetime: duration('24h', { min: 1000 }).describe(
        'Longest lifetime (`exp - iat`) the gateway, the transit plane and introspection accept for an access token of this Portcullis (`token.lifetime-too-long` beyond; introspection answers `active: false`). At least `accessTokenTtl`. External issuers have their own `maxTokenLifetime`.',
      ),
      clientAssertions: z
        .strictObject({
          issuerAudienceOnly: z
            .boolean()
            .default(false)
            .describe(
              'Accept a `private_key_jwt` client assertion only when its `aud` is the issuer identifier (`issuer`) as its sole value, at the token, revocation and introspection endpoints of every app (draft-ietf-oauth-rfc7523bis, against the audience injection attack: a client made to sign an assertion for an endpoint URL a malicious authorization server advertises as its own). Otherwise (the default) only an assertion typed `client-authentication+jwt` is held to that; others may also name the token endpoint or the endpoint called (OIDC Core §9). A refused assertion is `oauth.invalid-client`.',
            ),
        })
        .prefault({})
        .describe('Client assertions (`private_key_jwt`, RFC 7523).'),
    })
    .refine((t) => t.accessTokenTtl <= t.maxTokenLifetime, { message: 'accessTokenTtl must not exceed maxTokenLifetime (tokens this Portcullis issues would be refused)', path: ['maxTokenLifetime'] })
    .prefault({})
    .describe('Access tokens.'),
  keys: z
    .strictObject({
      rotationInterval: duration('30d', { min: 60_000 }).describe('How long a signing key signs before the next one takes over.'),
      prepublish: duration('1h', { min: 0 }).describe('How long the next key is published in the JWKS before it signs.'),
      checkInterval: duration('1m', timer(100)).describe('How often the key ring checks its schedule.'),
    })
    .prefault({})
    .describe('Signing key rotation.'),
  encryption: z
    .strictObject({
      keyTypes: z
        .array(z.enum(['P-256', 'X25519', 'RSA']))
        .min(1)
        .default(['P-256', 'X25519', 'RSA'])
        .describe('Encryption key pairs kept current and published in the JWKS with `use: enc`: ECDH-ES on P-256 and X25519, RSA-OAEP-256 (RSA-3072). The first is the default for responses.'),
      rotationInterval: duration('90d', { min: 60_000 }).describe('How long an encryption key stays current before a new one replaces it in the JWKS.'),
      decryptOverlap: duration('7d', { min: 0 }).describe('How long a replaced encryption key keeps decrypting (clients cache the JWKS); it is deleted after.'),
      prepublish: duration('1h', { min: 0 }).describe(
        'How long the next encryption key is stored before it replaces the current one in the JWKS. Every node decrypts with it as soon as it has loaded it (at once on the `keys.changed` event, at the latest on its next reconcile), so clients that fetch the JWKS from any node after the handover encrypt to a key every node has. Must be longer than `revocation.reconcileInterval`.',
      ),
      aesGcm: z
        .strictObject({
          invocationLimit: z
            .number()
            .int()
            .min(1)
            .max(2 ** 32)
            .default(2 ** 32)
            .describe('Most AES-256-GCM encryptions with random IVs under one key (each transit key version, each data key that seals secrets at rest, each app `dir` key the gateway encrypts responses with). NIST SP 800-38D §8.3 allows 2^32, the default; it can only be lowered. At the limit a transit key rotates (or refuses, `transit.key-exhausted`), the data key is replaced by a new one, and an app `dir` key refuses (`jwe.key-exhausted`).'),
          reserveBlock: z
            .number()
            .int()
            .min(1)
            .max(2 ** 32)
            .default(2 ** 16)
            .describe('Encryptions a node reserves per key with one store write (counts are durable and shared by every node). A restart forfeits the unused rest of a block, so a smaller block wastes less and writes more often.'),
        })
        .prefault({})
        .describe('AES-GCM invocation limits per key, counted durably in the store.'),
    })
    .prefault({})
    .describe('Encryption keys (JWE recipients) of this deployment; rotated on the signing key check timer.'),
  gateway: z
    .strictObject({
      maxHeaderSize: size('16kb', { min: 1024, max: 1 << 20 }).describe('Largest request header block accepted (431 beyond): 1kb to 1mb.'),
      requestTimeout: duration('60s', timer()).describe('Time a client has to send a whole request.'),
      tokenCacheSize: z
        .number()
        .int()
        .min(0)
        .max(1_000_000)
        .default(10_000)
        .describe('Verified tokens kept in memory (0 disables the cache), by the gateway, the transit plane and the token service each: an entry holds the token\'s claims, about a kilobyte, so at most 1000000.'),
      auditSampleRate: z.number().min(0).max(1).default(0.01).describe('Fraction of allowed requests recorded in the audit trail.'),
      connectionsPerUpstream: z.number().int().min(1).max(4096).default(64).describe('Keep-alive connection pool size per upstream: each connection is a socket (a file descriptor) the pool opens as load demands, so at most 4096.'),
      trustedProxies: z
        .array(ipOrCidr)
        .default([])
        .describe('Addresses or CIDR blocks of proxies in front of this node whose `X-Forwarded-For`/`-Proto`/`-Host` and `Forwarded` are believed. The gateway keeps their `X-Forwarded-For`/`-Proto` (and appends its own values) and `Forwarded`; `X-Forwarded-Host` it sets from every peer to the `Host` it routed on, alone, since a proxy that appends to what its client sent leaves the client\'s host first, where Express and others read it. From any other peer it replaces them by its own values and removes `Forwarded` and the client-IP headers of CDNs and proxies (`X-Real-IP`, `True-Client-IP`, `X-Client-IP`, `Client-IP`, `CF-Connecting-IP`, `Fastly-Client-IP`, `X-Cluster-Client-IP`, `X-Original-Forwarded-For`), which upstreams read before `X-Forwarded-For`, and the scheme, port and path headers (`X-Forwarded-Ssl`, `X-Forwarded-Scheme`, `X-Url-Scheme`, `Front-End-Https`, `X-Forwarded-Port`, `X-Forwarded-Prefix`, `X-Forwarded-Uri`, `X-Original-URI`, `X-Forwarded-Protocol`, `X-Forwarded-Server`, `X-Host`) from which Rack, Spring and other frameworks rebuild the URL the client used; their `_` spellings are removed from every peer. The identity plane (OpenID Connect) takes the host and scheme of the URLs it builds, and whether its cookies are `Secure`, from a listed peer\'s `X-Forwarded-Host`/`-Proto` (the last value of each, which that peer added) or, where it sends none, from RFC 7239 `Forwarded` (`for=` of every element, `host=` and `proto=` of the last; where it sends both, the last `X-Forwarded-Host`/`-Proto` must equal that `host=`/`proto=`, else `400 request.malformed`, since a proxy that writes one form may pass its client\'s other form on); from any other peer it removes every `X-Forwarded-*` and `Forwarded` header first. Behind a listed peer, the client address that sign-in attempt limits count and audit events record is the nearest `X-Forwarded-For` entry that is not a listed proxy, without its port (`ip:port`, `[v6]:port`, quoted or not); an entry that is not an IP address counts as the listed proxy that appended it. A route\'s `require.signature.trustForwardedProto` takes the scheme from a listed peer only, as the gateway states it upstream: its last `X-Forwarded-Proto` or the `proto=` of its last `Forwarded` element (the two agreeing when it sends both).'),
      thread: z
        .boolean()
        .default(true)
        .describe('When the node serves the gateway beside another plane, serve it on a thread of its own, so sign-ins and admin work on the main thread never delay gateway requests. The thread shares the node\'s stores (the in-memory ephemeral store through a message port) and restarts if it dies.'),
    })
    .prefault({})
    .describe('Gateway plane.'),
  admin: z
    .strictObject({
      failedAuth: z
        .strictObject({
          window: duration('1m', { min: 1000, max: 3_600_000 }).describe('Window of one client address, from its first request without a valid admin credential: its first failure is an `admin.denied` event at once, the rest are counted into one `admin.denied-repeated` event when the window closes.'),
          throttleAfter: z
            .number()
            .int()
            .min(1)
            .max(1_000_000)
            .default(100)
            .describe('Failures of one address in its window after which its requests without the right admin token are answered 429 `admin.throttled` with `Retry-After` until the window closes. A request with the right token always passes, so a client that keeps failing cannot lock out an administrator at the same address.'),
          maxAddresses: z
            .number()
            .int()
            .min(1)
            .max(1_000_000)
            .default(1000)
            .describe('Client addresses (IPv6: /64 networks) counted at once; failures from further addresses share one entry, which is audited the same way but never throttled. Bounds the memory and the audit events (at most two per address and window) a flood from many addresses can cause.'),
        })
        .prefault({})
        .describe('Requests to the admin API without a valid admin token, counted per client address in memory.'),
      allowedHosts: z
        .array(
          hostName.superRefine((v, ctx) => {
            // a name the regex admits but no accepted Host carries (127.1, a numeric top label) would silently never match
            const problem = routeHostProblem(v);
            if (problem !== undefined) ctx.addIssue({ code: 'custom', message: problem });
          }),
        )
        .default([])
        .describe('Host names (without port) the admin plane answers to, besides IP addresses, `localhost` and the host of `listen.admin`: a request whose `Host` names anything else is refused with 400 `admin.host-not-allowed`, so a web page that points its own DNS name at this address (DNS rebinding) cannot read the admin plane, `/metrics` and the OpenAPI document included, from a visitor\'s browser. List the name a proxy, a scraper or you call it by (`admin.internal.example`).'),
      allowInsecureHttp: z
        .boolean()
        .default(false)
        .describe(
          'Let `listen.admin` be an address other than loopback (`0.0.0.0`, `[::]`, a network address or host name) although the admin plane speaks plain HTTP only. Every admin request carries the admin token, which gives full control of the deployment: on a network anyone on the path reads it. Off by default: such a `listen.admin` is `config.invalid`. Loopback (127.0.0.0/8, `::1`, `localhost`) needs no opt-in. Set it only where the path to the admin listener is private (a pod network with a policy, a host-only network) or wrapped in TLS by something else (a sidecar, a tunnel); otherwise keep the admin plane on loopback and reach it through an SSH tunnel or a TLS-terminating proxy on the same host. The CLI reads it too: without it, it sends the admin token over plain HTTP only to a loopback admin URL and refuses any other (`request.invalid`) before connecting.',
        ),
    })
    .prefault({})
    .describe('Admin plane.'),
  pki: z
    .strictObject({
      trustDomain: z
        .string()
        .regex(/^[a-z0-9._-]{1,255}$/, 'expected a SPIFFE trust domain such as example.org')
        .optional()
        .describe('SPIFFE trust domain: client certificates carry `spiffe://<trustDomain>/app/<client_id>`; when set at init the issuing CA is name-constrained to it (plus `permittedDns`). Without it no client certificates can be issued.'),
      permittedDns: z.array(z.string().min(1)).optional().describe('DNS subtrees the name-constrained issuing CA may issue server certificates for (default: the trust domain and localhost). Used at init only.'),
      organization: z.string().min(1).max(64).default('Portcullis').describe('O= of the CA certificates created at init.'),
      serverCertLifetime: duration('24h', { min: 1000 }).describe('Lifetime of server certificates (the listeners’ own are renewed after two thirds of it).'),
      clientCertLifetime: duration('24h', { min: 1000 }).describe('Lifetime of client certificates unless a request asks for less.'),
      renewMinInterval: duration('5m', { min: 0, max: 86_400_000 }).describe('Self-renewal (`POST /pki/renew`) of a certificate is refused (`429 pki.renewal-too-early`) until it has lived this long (or half its lifetime, if shorter): each renewal revokes the certificate it renews, which stays on the CRL until it expires, so this holds a client renewing in a loop to one CRL entry per interval. `0s` turns it off. Renewal by an admin is not limited.'),
      crlLifetime: duration('24h', { min: 1000 }).describe('nextUpdate − thisUpdate of the CRL; it is regenerated after half of it and on every revocation.'),
      ocspLifetime: duration('1h', { min: 1000 }).describe('Validity of OCSP responses; cached answers are re-signed after half of it.'),
    })
    .prefault({})
    .describe('The built-in certificate authority (root P-384 + issuing P-256 intermediate, created by `portcullis init`).'),
  tls: z
    .strictObject({
      mode: z
        .enum(['auto', 'files', 'off'])
        .default('auto')
        .describe('`auto`: the identity plane and the gateway serve HTTPS with a certificate from the built-in CA for their listen hosts, renewed without a restart; `files`: use certFile/keyFile (re-read when they change); `off`: plain HTTP (behind a TLS-terminating proxy only). The admin plane always stays plain HTTP: keep it on loopback.'),
      certFile: z.string().optional().describe('mode files (and only there): PEM certificate chain (leaf first), relative to the config directory.'),
      keyFile: z.string().optional().describe('mode files (and only there): PEM private key.'),
      minVersion: z.enum(['TLSv1.2', 'TLSv1.3']).default('TLSv1.2').describe('Lowest TLS version accepted.'),
      hosts: z.array(z.string().min(1)).default([]).describe('mode auto (and only there): extra DNS names or IP addresses for the server certificate (the listen hosts, the issuer host, localhost and 127.0.0.1 are always included).'),
    })
    .superRefine((t, ctx) => {
      // a setting of another mode would be accepted and never applied
      for (const k of ['certFile', 'keyFile'] as const) {
        if (t.mode === 'files' && t[k] === undefined) ctx.addIssue({ code: 'custom', path: [k], message: 'tls.mode files needs tls.certFile and tls.keyFile' });
        if (t.mode !== 'files' && t[k] !== undefined) ctx.addIssue({ code: 'custom', path: [k], message: `applies to tls.mode files only (the mode is ${t.mode}): set mode: files to serve this certificate, or remove it` });
      }
      if (t.mode !== 'auto' && t.hosts.length > 0) ctx.addIssue({ code: 'custom', path: ['hosts'], message: `applies to tls.mode auto only (the mode is ${t.mode}): the names come from the certificate in tls.certFile` });
    })
    .prefault({})
    .describe('TLS of the listeners.'),
  identity: z
    .strictObject({
      mfa: z
        .strictObject({
          everyone: z.boolean().default(false).describe('Ask every user of every app for a second factor at sign-in (users without one enrol first). Per-app (`mfa_required`) and per-user requirements apply regardless.'),
        })
        .prefault({})
        .describe('When a second factor is required.'),
      account: z
        .strictObject({
          reauthenticateAfter: duration('10m', { min: 60_000, max: 12 * 3_600_000 })
            .describe(
              'How recent the browser session\'s last sign-in must be for a change of the user\'s second factors on the account page (`/account`): adding or removing an authenticator app, e-mail/SMS codes, a passkey or security key, and renewing recovery codes (NIST SP 800-63B §7.2, OWASP re-authentication). An older session is refused with `account.reauthentication-required` and offered to sign in again, which comes back to the account page. That sign-in must also have used a second factor whenever the user has one (always to remove a factor or renew recovery codes). Ending sessions needs no recent sign-in. At most 12 hours, the longest SP 800-63B lets an AAL2 session go without re-authentication.',
            ),
        })
        .prefault({})
        .describe('The account page of signed-in users.'),
      otp: z
        .strictObject({
          channel: z.enum(['email', 'sms']).default('email').describe('What the one-time code factor delivers to: an e-mail address (factor `email`) or a phone number (factor `sms`).'),
          sender: z
            .enum(['none', 'console', 'file', 'smtp', 'webhook'])
            .default('none')
            .describe(
              'How codes reach users. `none` (the default): no code factor; it is not offered, enrolling it is refused with `mfa.factor-unavailable`, and the start log and `config check` say so. `smtp`: e-mail through `smtp`; `webhook`: POST JSON to `webhook.url` (SMS providers). For development and tests only, each logged as a warning at start: `file`: append JSON lines (code included) to `file`, mode 0600, delivered to no one (what `portcullis init` writes, to try the factor out); `console`: print every code to the node\'s stderr, and so into its logs.',
            ),
          file: z.string().default('./otp-outbox.jsonl').describe('file sender: the outbox, relative to the config directory.'),
          maxSendsPerHour: z
            .number()
            .int()
            .min(1)
            .max(100)
            .default(10)
            .describe('Most codes sent in any 60 minutes (a sliding window, shared by every node through the ephemeral store: no burst either side of a clock hour gets twice as many) to one user, and at enrolment to one address whichever account names it (against flooding a phone or pumping SMS); beyond it `auth.throttled`, with the time until the oldest send leaves the window. Besides, one code per user (and per address at enrolment) per 30 s.'),
          smtp: z
            .strictObject({
              host: z.string().min(1),
              port: z.number().int().min(1).max(65535).default(587),
              secure: z.boolean().default(false).describe('Implicit TLS (port 465); otherwise STARTTLS when offered.'),
              requireTLS: z.boolean().default(true).describe('Refuse to send without STARTTLS.'),
              user: z.string().optional(),
              pass: z.string().optional().describe('Secret: use ${file:PATH} or ${env:NAME}.'),
              from: z.string().min(3).describe('The From address.'),
              timeout: duration('10s', { min: 100, max: 120_000 }).describe(
                'Overall deadline for handing one code to the server: DNS, connection, TLS, greeting, AUTH and the whole SMTP dialogue, however the server stalls (the sign-in waits for it). Past it the connection is closed and the send fails with `mfa.delivery-failed`; no send slot is used up, so the user may ask again at once.',
              ),
            })
            .optional()
            .describe('smtp sender settings (with sender smtp only).'),
          webhook: z
            .strictObject({
              url: httpUrl.describe('Where the JSON message is POSTed. A `user:password@` in it is sent as `Authorization: Basic` (unless `headers` has an Authorization), decoded as percent-encoded UTF-8: a `%` that encodes no UTF-8 text (`%zz`, or `%E9` for é, which is `%C3%A9`) is `config.invalid` (the error never quotes the URL).'),
              headers: httpHeaders(OTP_WEBHOOK_OWN_FIELDS)
                // a prefault: the input's JSON Schema drops a plain default of a transforming schema
                .prefault({})
                .describe(
                  'Extra headers (e.g. Authorization for the provider); secret: use ${file:PATH} or ${env:NAME}. A name must be an HTTP token and a value visible ASCII, spaces and tabs (RFC 9110 §5.1, §5.5): a control character (CR, LF, NUL…) or a character outside ASCII is `config.invalid` at load, naming the header but not the value; whitespace around a value is dropped. Names the HTTP client sets (Host, Content-Length, Transfer-Encoding, Connection, Keep-Alive, Proxy-Connection, TE, Trailer, Upgrade, Expect) and those the sender sets itself (Content-Type, Content-Digest, Signature, Signature-Input, Accept, User-Agent) are `config.invalid` too, in any case. An environment override names the header in lower case with `-` for `_` (`PORTCULLIS_IDENTITY__OTP__WEBHOOK__HEADERS__X_API_KEY` sets `x-api-key`) and replaces a header of that name written here in any case.',
                ),
              allowInsecureHttp: z
                .boolean()
                .default(false)
                .describe(
                  'Let `url` be plain `http:` to a host other than a loopback IP literal, for an SMS bridge reachable only over plain http on a network you trust. Over plain http anyone on the path reads every one-time code, the number it goes to, the provider credentials and the signature (and can hold a request back or replay it to a bridge that does not refuse replays). Off by default: such a URL is `config.invalid`. A loopback IP literal (127.0.0.0/8, `::1`) needs no opt-in (its traffic never leaves the host); a `localhost` name does. With the opt-in, the sender still logs a warning at start.',
                ),
            })
            .superRefine((w, ctx) => {
              // the URL is not quoted: it may hold the provider's credentials
              const userinfo = URL.canParse(w.url) ? userinfoProblem(new URL(w.url)) : undefined;
              if (userinfo !== undefined) ctx.addIssue({ code: 'custom', path: ['url'], message: userinfo });
              if (URL.canParse(w.url) && refusedPlainHttp(new URL(w.url), w.allowInsecureHttp)) {
                ctx.addIssue({
                  code: 'custom',
                  path: ['url'],
                  message:
                    'a plain http: URL sends every one-time code, its signature and the provider credentials across the network in clear; use https:, or set identity.otp.webhook.allowInsecureHttp: true if the SMS bridge is reachable only over plain http on a network you trust (a loopback IP literal such as 127.0.0.1 needs neither)',
                });
              }
            })
            .optional()
            .describe('webhook sender settings (with sender webhook only). Each POST is signed like an event webhook (RFC 9421, with Content-Digest and a fresh nonce) with the identity plane\'s current key, but with its own tag `portcullis-otp`, so the receiver verifies it against `/jwks` with that tag (docs/mfa.md) and an event receiver refuses it.'),
        })
        .refine((o) => o.sender !== 'smtp' || (o.smtp !== undefined && o.channel === 'email'), { message: 'sender smtp needs identity.otp.smtp and channel email' })
        .refine((o) => o.sender !== 'webhook' || o.webhook !== undefined, { message: 'sender webhook needs identity.otp.webhook' })
        .superRefine((o, ctx) => {
          // the settings of another sender would be accepted and never used
          for (const k of ['smtp', 'webhook'] as const) {
            if (o[k] !== undefined && o.sender !== k) ctx.addIssue({ code: 'custom', path: [k], message: `applies to sender ${k} only (the sender is ${o.sender}): set sender: ${k} to send codes through it, or remove it` });
          }
        })
        .prefault({})
        .describe('One-time codes by e-mail or text message (6 digits, 5 minutes, single use).'),
      lockout: z
        .strictObject({
          ipv6Prefix: z
            .number()
            .int()
            .min(48)
            .max(128)
            .default(64)
            .describe('Failed sign-in attempts from an IPv6 client are counted (and locked, and unlocked) by this prefix of its address, not per address: one host usually holds a whole /64 and could take a new address for every guess. 128 counts single addresses. IPv4 and IPv4-mapped IPv6 clients are counted per IPv4 address.'),
        })
        .prefault({})
        .describe('Limits on failed sign-in attempts per account and per client address.'),
      webauthn: z
        .strictObject({
          rpName: z.string().min(1).max(100).default('Portcullis').describe('The name authenticators show for this site.'),
          rpId: z.string().min(1).optional().describe('The WebAuthn relying-party id (a registrable domain); default: the issuer host.'),
        })
        .prefault({})
        .describe('Security keys and passkeys (WebAuthn).'),
      passwords: z
        .strictObject({
          argon2id: z
            .strictObject({
              memoryCost: z.number().int().min(7168).max(1_048_576).default(19456).describe('KiB of memory per hash (`m`), 7 MiB to 1 GiB. Each hashing thread holds this much while it runs.'),
              timeCost: z.number().int().min(1).max(16).default(2).describe('Passes over the memory (`t`).'),
              parallelism: z.number().int().min(1).max(16).default(1).describe('Lanes (`p`). `@node-rs/argon2` computes the lanes of one hash one after another, so more lanes add cost, not speed.'),
            })
            .refine((a) => a.memoryCost * a.timeCost >= 35_840, {
              message: 'memoryCost × timeCost must be at least 35840 (OWASP minimum: m=19456,t=2 or m=47104,t=1 or m=7168,t=5, …)',
            })
            .refine((a) => a.memoryCost >= 8 * a.parallelism, { message: 'memoryCost must be at least 8 KiB per lane (RFC 9106)' })
            .prefault({})
            .describe(
              'Argon2id (RFC 9106) parameters of new password hashes. The default is OWASP\'s minimum (m=19 MiB, t=2, p=1); RFC 9106\'s memory-constrained recommendation is m=65536, t=3 (3–4× the cost per sign-in). A stored hash made with lower `memoryCost` or `timeCost`, or another `parallelism`, is replaced by one with these at the user\'s next sign-in. Until then, such a user\'s password check (as one of a legacy PBKDF2 hash) verifies a dummy hash at these parameters beside the stored one, as the check for an unknown e-mail address does, so it is never cheaper than that check and an account cannot be told apart by answering faster.',
            ),
        })
        .prefault({})
        .describe('How passwords are hashed.'),
    })
    .prefault({})
    .describe('Users signing in to apps (OpenID Connect) and their second factors.'),
  webhooks: z
    .strictObject({
      allowPrivateTargets: z
        .boolean()
        .default(false)
        .describe('Let webhooks go to loopback, private (RFC 1918, fc00::/7), link-local (169.254.0.0/16, fe80::/10), unspecified and other special-use addresses, to reach a receiver inside your own network. Off by default: a subscription to such a URL is refused (`webhook.target-forbidden`) and every delivery checks the address its host name resolves to. Cloud metadata endpoints stay refused even when on (169.254.169.254, 169.254.170.2, 100.100.100.200, fd00:ec2::254, fd20:ce::254 and Azure\'s 168.63.129.16, in any spelling): a subscription naming one is `webhook.target-forbidden`, and every delivery still checks the addresses its host name resolves to, refusing and auditing one that resolves to a metadata address (`addressClass` `metadata`).'),
      allowInsecureHttp: z
        .boolean()
        .default(false)
        .describe('Let webhooks go to plain `http:` URLs, where anyone on the path reads each event and its signature and can delay or drop it. Off by default: a subscription to an `http:` URL is refused (`webhook.insecure-url`), and a delivery to one stored earlier is not sent (`lastError` `insecure-url`), except to a loopback IP literal (127.0.0.0/8, `::1`; which also needs `allowPrivateTargets`), whose traffic never leaves the host. A `localhost` name is not such a literal.'),
      disableAfterAbandoned: z
        .number()
        .int()
        .positive()
        .default(5)
        .describe('Disable a subscription after this many of its deliveries in a row were abandoned (each failed after its last attempt, `webhook.delivery-abandoned`); a delivery that succeeds resets the count. A disabled subscription is audited (`webhook.subscription-disabled`), counted in `portcullis_webhook_subscriptions_disabled_total`, and queued no events: those raised while it is disabled are dropped for it, and its pending deliveries end (`lastError` `webhook-disabled`). `portcullis webhooks enable <id>` (admin API `POST /v1/webhooks/{id}/enable`) enables it again.'),
      deliveryRetention: duration('30d', { min: 3_600_000 }).describe('How long the delivery log keeps a delivery after it was delivered or failed for good (with its payload); older ones are deleted hourly. Pending deliveries are kept until they end.'),
    })
    .prefault({})
    .describe('Webhook subscriptions and delivery.'),
  revocation: z
    .strictObject({
      reconcileInterval: duration('5s', timer(100)).describe('How often each node re-reads revocations from the store (covers lost pub/sub messages).'),
    })
    .prefault({})
    .describe('Revocation fan-out.'),
  log: z
    .strictObject({
      level: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
    })
    .prefault({})
    .describe('Structured JSON logs (pino).'),
  routes: z.array(routeSchema).default([]).describe('Gateway routes, matched most specific first. Two routes whose prefixes are one once ASCII case is folded (`/Admin/` and `/admin/`), on the same host (or both any host) with a method in common, are refused: only their order would decide between them.'),
})
  .superRefine((c, ctx) => {
    if (!c.admin.allowInsecureHttp && !isLoopbackListenHost(c.listen.admin)) {
      ctx.addIssue({
        code: 'custom',
        path: ['listen', 'admin'],
        message:
          'not a loopback address, and the admin plane speaks plain HTTP only: the admin token (full control of the deployment) would cross the network in clear. Listen on loopback (127.0.0.1:8081) and reach it through an SSH tunnel or a TLS-terminating proxy on this host, or set admin.allowInsecureHttp: true if the path to it is private or already encrypted',
      });
    }
    if (c.encryption.prepublish <= c.revocation.reconcileInterval) {
      // a node that missed the keys.changed event loads the next key on its next reconcile: before the handover only if this is longer
      ctx.addIssue({
        code: 'custom',
        path: ['encryption', 'prepublish'],
        message: `must be longer than revocation.reconcileInterval (${formatDuration(c.revocation.reconcileInterval)}): a node that missed the keys.changed event would not have loaded the next encryption key at its handover, and would refuse what clients encrypt to it (jwe.unknown-key)`,
      });
    }
    if (c.gateway.trustedProxies.length !== 0) return;
    // X-Forwarded-Proto is believed from a trusted proxy only: without one the setting could never apply
    for (const [i, r] of c.routes.entries()) {
      if (r.require.signature?.trustForwardedProto === true) {
        ctx.addIssue({ code: 'custom', path: ['routes', i, 'require', 'signature', 'trustForwardedProto'], message: 'X-Forwarded-Proto is believed only from a proxy listed in gateway.trustedProxies, which is empty: list the TLS-terminating proxy in front of the gateway there, or remove trustForwardedProto' });
      }
    }
  });

export type ConfigInput = z.input<typeof configSchema>;
export type Config = z.output<typeof configSchema>;
export type RouteConfig = z.output<typeof routeSchema>;
export type TokenRequirement = z.output<typeof tokenRequirementSchema>;
export type ExternalIssuer = z.output<typeof externalIssuerSchema>;
export type ClientCertificateRequirement = z.output<typeof clientCertificateRequirementSchema>;
export type SignatureRequirement = z.output<typeof signatureRequirementSchema>;
export type EncryptionRequirement = z.output<typeof encryptionRequirementSchema>;
