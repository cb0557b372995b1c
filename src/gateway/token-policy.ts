/**
 * The token step: RFC 6750 bearer tokens that are RFC 9068 JWT access tokens.
 *
 * The unverified `iss` only picks where the key comes from (this issuer's key ring by
 * `kid`, or a trusted external issuer's JWKS); the signature is then verified with jose
 * under that source's algorithms alone, and the claims checked: `typ` is `at+jwt`
 * (RFC 9068 §4: "Resource servers MUST verify that the typ header value is at+jwt or
 * application/at+jwt"), `exp` present and in the future, `nbf`/`iat` not in the future
 * beyond the leeway, `iss` trusted by the route, `aud` includes the route's audience,
 * the required scopes present, the lifetime within the issuer's `maxTokenLifetime`, and for
 * this issuer's own tokens the revocation set.
 * A token bound to a client certificate (RFC 8705 `cnf.x5t#S256`) is accepted only on a
 * connection with that certificate, on every resource that uses this verifier (the
 * gateway, the transit plane); any other confirmation method fails closed.
 * `jku`, `x5u`, `jwk` and `x5c` header parameters are never fetched nor used; a `crit`
 * header, an unencoded payload (`b64`), or a member name twice in the header or the claims
 * set is refused. An external issuer's JWKS is fetched without redirects, bounded in size and
 * key count, its keys imported on retrieval, and not refetched per request while its endpoint
 * fails or serves no usable key (jwks-fetch.ts).
 *
 * Verified tokens are cached (token-cache.ts); a hit re-runs the route and revocation
 * checks synchronously and skips the signature.
 */
import type { Socket } from 'node:net';
import { compactVerify, createRemoteJWKSet, customFetch, errors as joseErrors, type JWTHeaderParameters } from 'jose';
import type { Clock } from '../core/clock.js';
import type { ExternalIssuer, TokenRequirement } from '../core/config/schema.js';
import { PortcullisError } from '../core/errors.js';
import { refusedName } from '../core/json-names.js';
import type { Logger } from '../core/logger.js';
import type { VerificationKeys } from '../crypto/verification-keys.js';
import { isAccessTokenType } from '../tokens/access-token-type.js';
import type { RevocationSet } from '../tokens/revocation-set.js';
import { bearerCandidate, checkB64token } from './bearer.js';
import { peerCertificate } from './client-certificate-policy.js';
import { boundedJwksFetch } from './jwks-fetch.js';
import { TokenCache, tokenKey, type VerifiedToken } from './token-cache.js';

/** Asymmetric JWS algorithms; anything else (`none`, HS*) is refused before any key is looked up. */
const ASYMMETRIC = new Set(['ES256', 'ES384', 'ES512', 'EdDSA', 'Ed25519', 'RS256', 'RS384', 'RS512', 'PS256', 'PS384', 'PS512']);
const SEGMENT = /^[A-Za-z0-9_-]+$/;

type RemoteJwks = ReturnType<typeof createRemoteJWKSet>;

interface SelfSource {
  readonly kind: 'self';
  readonly source: 'self';
  readonly maxLifetimeMs: number;
}
interface RemoteSource {
  readonly kind: 'remote';
  /** The JWKS URL. */
  readonly source: string;
  readonly algorithms: ReadonlySet<string>;
  readonly algorithmList: string[];
  readonly jwks: RemoteJwks;
  /** What is left of the back-off after a failed retrieval of the JWKS (jwks-fetch.ts). */
  readonly retryAfterMs: () => number;
  readonly maxLifetimeMs: number;
}
type KeySource = SelfSource | RemoteSource;

/** A route's token requirement, compiled once. */
export interface TokenPolicy {
  readonly audience: string;
  readonly scopes: readonly string[];
  /** Required scopes as the WWW-Authenticate `scope` attribute. */
  readonly scope: string;
  /** Trusted `iss` → key source. */
  readonly issuers: ReadonlyMap<string, KeySource>;
}

export interface TokenVerifierDeps {
  /** This Portcullis's own `iss`. */
  issuer: string;
  keys: VerificationKeys;
  revocations: RevocationSet;
  clock: Clock;
  leewayMs: number;
  cacheSize: number;
  logger: Logger;
  /** `tokens.maxTokenLifetime`: the longest `exp - iat` of this Portcullis's own tokens. */
  maxTokenLifetimeMs: number;
}

function deny(code: ConstructorParameters<typeof PortcullisError>[0], message: string): PortcullisError {
  return new PortcullisError(code, message);
}

/**
 * A JOSE header or claims set. A member name twice is refused: RFC 7515 §5.2, "JWS Parsers
 * MUST either reject JWSs with duplicate Header Parameter names or use a JSON parser that
 * returns only the lexically last duplicate member name"; rejecting keeps every reader of
 * the token (jose, the upstream, an auditor) on the same value.
 */
function decodeJson(segment: string, what: string): Record<string, unknown> {
  const text = Buffer.from(segment, 'base64url').toString('utf8');
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch {
    throw deny('token.malformed', `${what} is not base64url JSON`);
  }
  if (typeof v !== 'object' || v === null || Array.isArray(v)) throw deny('token.malformed', `${what} is not a JSON object`);
  const refused = refusedName(text);
  if (refused !== undefined) throw deny('token.malformed', `${what}: ${refused.message} ${refused.path.slice(0, 64)}`);
  return v as Record<string, unknown>;
}

function numericDate(claims: Record<string, unknown>, name: string): number | undefined {
  const v = claims[name];
  if (v === undefined) return undefined;
  if (typeof v !== 'number' || !Number.isFinite(v)) throw deny('token.malformed', `${name} is not a NumericDate`);
  return v * 1000;
}

/**
 * The `cnf` claim (RFC 7800): the SHA-256 thumbprint the token is bound to, or undefined
 * for a bearer token. A confirmation method this verifier cannot check (DPoP `jkt`,
 * `jwk`, `x5t`, …) is refused rather than ignored, since ignoring it would turn a
 * proof-of-possession token into a bearer token.
 */
function confirmation(claims: Record<string, unknown>): string | undefined {
  const cnf = claims['cnf'];
  if (cnf === undefined) return undefined;
  if (typeof cnf !== 'object' || cnf === null || Array.isArray(cnf)) throw deny('token.malformed', 'the cnf claim is not an object');
  let x5t: string | undefined;
  for (const [method, value] of Object.entries(cnf)) {
    if (method !== 'x5t#S256') throw deny('token.binding-unsupported', 'the token is bound by a confirmation method this resource does not verify');
    if (typeof value !== 'string' || value === '') throw deny('token.malformed', 'cnf x5t#S256 is not a string');
    x5t = value;
  }
  if (x5t === undefined) throw deny('token.binding-unsupported', 'the cnf claim names no confirmation method');
  return x5t;
}

function optionalString(claims: Record<string, unknown>, name: string): string | undefined {
  const v = claims[name];
  if (v === undefined) return undefined;
  if (typeof v !== 'string') throw deny('token.malformed', `${name} is not a string`);
  return v;
}

/**
 * A claim as a header value: visible ASCII and space as is, unless it has a `%`; anything
 * else percent-encoded (UTF-8), so no two claims give one value (`é` and `%C3%A9` differ).
 */
function headerSafe(v: string, name: string): string {
  if (/^[\x20-\x24\x26-\x7E]*$/.test(v)) return v;
  try {
    return encodeURIComponent(v);
  } catch {
    // a lone surrogate (JSON's "\ud800") has no UTF-8 encoding
    throw deny('token.malformed', `${name} is not well-formed Unicode`);
  }
}

/** Maps what jose throws to a token denial; anything else is not the client's fault. */
function mapJoseError(e: unknown): unknown {
  if (e instanceof PortcullisError) return e;
  if (e instanceof joseErrors.JOSEAlgNotAllowed || e instanceof joseErrors.JOSENotSupported) return deny('token.alg-not-allowed', 'algorithm not allowed');
  if (e instanceof joseErrors.JWSSignatureVerificationFailed) return deny('token.invalid-signature', 'signature does not verify');
  if (e instanceof joseErrors.JWKSNoMatchingKey) return deny('token.unknown-key', 'no key of the issuer matches the token');
  if (e instanceof joseErrors.JWKSMultipleMatchingKeys) return deny('token.unknown-key', 'more than one key of the issuer matches the token');
  if (e instanceof joseErrors.JWSInvalid) return deny('token.malformed', 'not a valid JWS');
  // jose raises TypeError when a key cannot be used with the token's algorithm
  if (e instanceof TypeError) return deny('token.invalid-signature', 'the key cannot verify this token');
  return e;
}

export class TokenVerifier {
  readonly cache: TokenCache;
  private readonly remotes = new Map<string, { jwks: RemoteJwks; retryAfterMs: () => number }>();
  /** Verifications under way, so concurrent requests with one new token verify it once. */
  private readonly inflight = new Map<string, { policy: TokenPolicy; pending: Promise<VerifiedToken> }>();

  constructor(private readonly deps: TokenVerifierDeps) {
    this.cache = new TokenCache(deps.cacheSize);
    this.cache.attach(deps.revocations);
  }

  /**
   * Compiles a route's requirement; the remote JWKS of each external issuer is created
   * once per URL for the life of the verifier and warmed in the background.
   */
  compile(req: TokenRequirement): TokenPolicy {
    const issuers = new Map<string, KeySource>();
    for (const i of req.issuers) {
      if (i === 'self') issuers.set(this.deps.issuer, { kind: 'self', source: 'self', maxLifetimeMs: this.deps.maxTokenLifetimeMs });
      else issuers.set(i.issuer, this.remoteSource(i));
    }
    return { audience: req.audience, scopes: [...req.scopes], scope: req.scopes.join(' '), issuers };
  }

  private remoteSource(i: ExternalIssuer): RemoteSource {
    let remote = this.remotes.get(i.jwksUri);
    if (remote === undefined) {
      const { logger, clock } = this.deps;
      const jwksUri = i.jwksUri;
      // once per retrieval, not per request: every token naming such a kid is refused until the issuer fixes its key set
      const onDuplicateKids = (kids: string[]): void => logger.warn({ jwksUri, kids }, 'JWKS holds more than one key under one kid; tokens naming it are refused');
      const onSkippedKeys = (skipped: string[]): void => logger.warn({ jwksUri, skipped }, 'JWKS keys that cannot verify a token were skipped');
      const fetchJwks = boundedJwksFetch({ onDuplicateKids, onSkippedKeys, now: () => clock.now() });
      const jwks = createRemoteJWKSet(new URL(i.jwksUri), { cooldownDuration: 30_000, cacheMaxAge: 600_000, timeoutDuration: 5_000, [customFetch]: fetchJwks });
      remote = { jwks, retryAfterMs: fetchJwks.retryAfterMs };
      this.remotes.set(i.jwksUri, remote);
      jwks.reload().catch((err: unknown) => logger.warn({ jwksUri, err: String(err) }, 'JWKS prefetch failed'));
    }
    return { kind: 'remote', source: i.jwksUri, algorithms: new Set(i.algorithms), algorithmList: [...i.algorithms], jwks: remote.jwks, retryAfterMs: remote.retryAfterMs, maxLifetimeMs: i.maxTokenLifetime };
  }

  /**
   * The verified (signature, lifetime) token of a request, from the cache or by
   * verifying it: synchronous on a hit, a Promise on a miss. Route checks are `check`.
   * @example const v = verifier.resolve(policy, 1, 'Bearer eyJ...')
   */
  resolve(policy: TokenPolicy, authCount: number, authValue: string | undefined): VerifiedToken | Promise<VerifiedToken> {
    const token = bearerCandidate(authCount, authValue);
    const key = tokenKey(token);
    const hit = this.cache.get(key, this.deps.clock.now());
    if (hit !== undefined) return hit;
    checkB64token(token);
    const joined = this.inflight.get(key);
    // a verification's failure may depend on the route's issuers, so only the same policy joins it
    if (joined !== undefined && joined.policy === policy) return joined.pending;
    const entry = { policy, pending: this.verify(policy, token) };
    if (joined === undefined) this.inflight.set(key, entry);
    const settle = (): void => {
      if (this.inflight.get(key) === entry) this.inflight.delete(key);
    };
    entry.pending = entry.pending.then(
      (v) => {
        settle();
        this.cache.set(key, v);
        return v;
      },
      (e: unknown) => {
        settle();
        throw e;
      },
    );
    return entry.pending;
  }

  /**
   * Route, revocation and certificate-binding checks, run on every request (hit or
   * miss). `connection` is the socket the token arrived on: RFC 8705 §3, "the protected
   * resource MUST obtain the client certificate used for mutual TLS from its TLS
   * implementation layer ... and verify that the certificate matches the certificate
   * associated with the access token. If they do not match, the resource access attempt
   * MUST be rejected with an error ... invalid_token".
   * @example verifier.check(policy, v, req.socket)
   */
  check(policy: TokenPolicy, v: VerifiedToken, connection: Socket): void {
    const src = policy.issuers.get(v.iss);
    if (src === undefined || src.source !== v.source) throw deny('token.wrong-issuer', 'issuer not trusted by this route');
    if (src.kind === 'remote' && !src.algorithms.has(v.alg)) throw deny('token.alg-not-allowed', 'algorithm not allowed for this issuer');
    // per route: two routes may bound one issuer differently, and the cached token serves both
    if (v.lifetimeMs > src.maxLifetimeMs) throw deny('token.lifetime-too-long', 'the token lives longer than this issuer\'s maximum token lifetime');
    if (v.source === 'self') {
      const revoked = this.deps.revocations.check(v.jti!, v.clientId!, v.iatMs, v.sub);
      if (revoked !== undefined) throw deny(revoked, revoked === 'token.app-disabled' ? 'the app is disabled' : 'token revoked');
    }
    if (v.x5t !== undefined) {
      const have = peerCertificate(connection).thumbprint;
      if (have !== v.x5t) {
        throw deny('token.binding-mismatch', have === null ? 'the token is bound to a client certificate and none was presented' : 'the token is bound to another client certificate');
      }
    }
    if (!v.aud.includes(policy.audience)) throw deny('token.wrong-audience', 'audience does not include this API');
    for (const s of policy.scopes) {
      if (!v.scopes.has(s)) throw new PortcullisError('token.insufficient-scope', 'token lacks a required scope', { details: { scope: policy.scope } });
    }
  }

  /** Signature and lifetime: the route-independent part, whose result is cached. */
  async verify(policy: TokenPolicy, token: string): Promise<VerifiedToken> {
    const parts = token.split('.');
    if (parts.length !== 3 || !SEGMENT.test(parts[0]!) || !SEGMENT.test(parts[1]!)) throw deny('token.malformed', 'not a JWS compact serialization');
    const header = decodeJson(parts[0]!, 'JWS header') as Partial<JWTHeaderParameters>;
    const alg = header.alg;
    if (typeof alg !== 'string' || !ASYMMETRIC.has(alg)) throw deny('token.alg-not-allowed', 'algorithm not allowed');
    if (!isAccessTokenType(header.typ)) throw deny('token.wrong-type', 'typ is not at+jwt');
    if (header.b64 !== undefined) throw deny('token.malformed', 'unencoded payloads are not accepted');
    // RFC 7515 §4.1.11: "If any of the listed extension Header Parameters are not understood and supported by the
    // recipient, then the JWS is invalid"; this resource understands none
    if (header.crit !== undefined) throw deny('token.malformed', 'crit names an extension this resource does not understand');
    if (!SEGMENT.test(parts[2]!)) throw deny('token.malformed', 'signature missing');
    const claims = decodeJson(parts[1]!, 'JWT claims set');
    const iss = claims['iss'];
    if (typeof iss !== 'string') throw deny('token.claim-missing', 'iss missing');
    const src = policy.issuers.get(iss);
    if (src === undefined) throw deny('token.wrong-issuer', 'issuer not trusted by this route');

    try {
      if (src.kind === 'self') {
        const kid = header.kid;
        const vk = typeof kid === 'string' ? this.deps.keys.getVerificationKey(kid) : undefined;
        if (vk === undefined) throw deny('token.unknown-key', 'kid names no key of this issuer');
        if (vk.alg !== alg) throw deny('token.alg-not-allowed', 'algorithm does not match the key');
        await compactVerify(token, vk.key, { algorithms: [vk.alg] });
      } else {
        if (!src.algorithms.has(alg)) throw deny('token.alg-not-allowed', 'algorithm not allowed for this issuer');
        const jwks = src.jwks;
        const logger = this.deps.logger;
        await compactVerify(
          token,
          async (h, t) => {
            try {
              return await jwks(h, t);
            } catch (e) {
              // RFC 7515 §4.1.4 "kid": a key set with two keys under one kid cannot say which one the issuer meant
              if (e instanceof joseErrors.JWKSMultipleMatchingKeys && typeof h.kid === 'string') throw deny('token.unknown-key', 'the issuer\'s key set holds more than one key with this kid');
              const mapped = mapJoseError(e);
              if (mapped instanceof PortcullisError) throw mapped;
              logger.warn({ jwksUri: src.source, err: String(e) }, 'JWKS unavailable');
              // the key set is not fetched again before the back-off ends: a retry sooner gets this same answer
              throw new PortcullisError('unavailable', 'the issuer keys could not be fetched', { cause: e, details: { retryAfterMs: Math.max(1000, src.retryAfterMs()) } });
            }
          },
          { algorithms: src.algorithmList },
        );
      }
    } catch (e) {
      throw mapJoseError(e);
    }

    // the signature covers exactly the bytes decoded above, so `claims` is now verified
    const now = this.deps.clock.now();
    const leeway = this.deps.leewayMs;
    const expMs = numericDate(claims, 'exp');
    if (expMs === undefined) throw deny('token.claim-missing', 'exp missing');
    if (expMs + leeway <= now) throw deny('token.expired', 'token expired');
    const nbfMs = numericDate(claims, 'nbf');
    if (nbfMs !== undefined && nbfMs > now + leeway) throw deny('token.not-yet-valid', 'nbf is in the future');
    const iatMs = numericDate(claims, 'iat');
    if (iatMs !== undefined && iatMs > now + leeway) throw deny('token.not-yet-valid', 'iat is in the future');
    // with iat no later than now + leeway, exp - iat bounded keeps exp within now + leeway + the bound
    const lifetimeMs = iatMs !== undefined ? expMs - iatMs : expMs - now - leeway;

    const audClaim = claims['aud'];
    let aud: string[];
    if (typeof audClaim === 'string') aud = [audClaim];
    else if (Array.isArray(audClaim) && audClaim.every((a) => typeof a === 'string')) aud = audClaim as string[];
    else if (audClaim === undefined) throw deny('token.claim-missing', 'aud missing');
    else throw deny('token.malformed', 'aud is not a string or array of strings');

    const sub = optionalString(claims, 'sub');
    const clientId = optionalString(claims, 'client_id');
    const jti = optionalString(claims, 'jti');
    const scope = optionalString(claims, 'scope') ?? '';
    const x5t = confirmation(claims);
    if (src.kind === 'self') {
      // RFC 9068 §2.2: exp, iss, aud, sub, client_id, iat and jti are REQUIRED; revocation needs jti, client_id, iat
      if (jti === undefined || clientId === undefined || iatMs === undefined || sub === undefined) {
        throw deny('token.claim-missing', 'jti, client_id, iat or sub missing');
      }
    }
    const identityHeaders: string[] = [];
    if (clientId !== undefined) identityHeaders.push('x-portcullis-client-id', headerSafe(clientId, 'client_id'));
    // RFC 7519 §4.1.2: "The subject value MUST either be scoped to be locally unique in the context of the issuer or be
    // globally unique": on a route trusting several issuers the upstream needs the issuer to tell two subjects apart
    identityHeaders.push('x-portcullis-issuer', headerSafe(iss, 'iss'));
    if (sub !== undefined) identityHeaders.push('x-portcullis-subject', headerSafe(sub, 'sub'));
    identityHeaders.push('x-portcullis-scopes', headerSafe(scope, 'scope'));
    return {
      identityHeaders,
      source: src.source,
      alg,
      iss,
      aud,
      scope,
      scopes: new Set(scope === '' ? [] : scope.split(' ').filter((s) => s !== '')),
      sub,
      clientId,
      jti,
      iatMs: iatMs ?? 0,
      expMs,
      verifiedAtMs: now,
      lifetimeMs,
      x5t,
      claims,
    };
  }
}
