/**
 * Verified-token cache, as Envoy's jwt_authn does: a token whose signature and
 * lifetime were checked once is remembered by the SHA-256 of its text, so a repeat
 * costs a hash and a map lookup instead of a signature verification.
 *
 * Bounded, never used past the token's `exp` nor longer than TOKEN_CACHE_MAX_AGE_MS after the
 * verification (so a key withdrawn from the key ring or an issuer's JWKS stops being honoured
 * then, even for a token that expires later), and purged on revocation events (the token's `jti`, or every token of an app). Route
 * checks (issuer trust, audience, scopes) and the revocation check still run on every
 * hit; only the signature and the parse are skipped.
 *
 * Eviction is second chance (CLOCK), an approximation of least-recently-used: a hit
 * only marks its entry, so the hot path never reorders the map nor stores the fresh
 * key string of each request; when full, the oldest entry not used since it was
 * (re)queued goes first, and a used one is re-queued with its mark cleared.
 */
import { hash } from 'node:crypto';
import type { RevocationEvent, RevocationSet } from '../tokens/revocation-set.js';

/** How long a verification is reused: about the JWKS cache age, so a key withdrawn is honoured at most twice this. */
export const TOKEN_CACHE_MAX_AGE_MS = 5 * 60_000;

/** The route-independent facts established by verifying a token. */
export interface VerifiedToken {
  /** Where the key came from: `self`, or the JWKS URL of an external issuer. */
  readonly source: string;
  readonly alg: string;
  readonly iss: string;
  readonly aud: readonly string[];
  /** The `scope` claim as sent (space-separated), '' when absent. */
  readonly scope: string;
  readonly scopes: ReadonlySet<string>;
  readonly sub: string | undefined;
  readonly clientId: string | undefined;
  readonly jti: string | undefined;
  /** Issued-at in epoch ms (0 when absent). */
  readonly iatMs: number;
  /** Expiry in epoch ms. */
  readonly expMs: number;
  /** When the signature was verified, epoch ms. */
  readonly verifiedAtMs: number;
  /**
   * The lifetime the issuer gave the token, for its `maxTokenLifetime`: `exp - iat`, or when
   * there is no `iat`, `exp` - (verification time + leeway).
   */
  readonly lifetimeMs: number;
  /** RFC 8705 `cnf.x5t#S256`: the client certificate thumbprint the token is bound to, if any. */
  readonly x5t: string | undefined;
  /** The whole verified claims set, for later policy steps. */
  readonly claims: Readonly<Record<string, unknown>>;
  /** `x-portcullis-*` identity headers for the upstream, flat `[name, value, …]`, computed once. */
  readonly identityHeaders: readonly string[];
}

/** The cache key of a token: its SHA-256, so the map never holds bearer credentials. */
export function tokenKey(token: string): string {
  return hash('sha256', token, 'base64');
}

interface Slot {
  readonly v: VerifiedToken;
  /** Not used at or past this epoch ms: the earlier of `exp` and the verification + the maximum age. */
  readonly until: number;
  /** Hit since the slot was last queued. */
  used: boolean;
}

export class TokenCache {
  private readonly entries = new Map<string, Slot>();
  private readonly byJti = new Map<string, string>();
  private readonly byClient = new Map<string, Set<string>>();

  constructor(
    readonly maxEntries: number,
    readonly maxAgeMs = TOKEN_CACHE_MAX_AGE_MS,
  ) {}

  /**
   * The verified token for a key, unless absent, expired or verified too long ago at `now` (epoch ms).
   * @example const v = cache.get(tokenKey(token), clock.now())
   */
  get(key: string, now: number): VerifiedToken | undefined {
    const s = this.entries.get(key);
    if (s === undefined) return undefined;
    if (now >= s.until) {
      this.delete(key, s.v);
      return undefined;
    }
    s.used = true;
    return s.v;
  }

  set(key: string, v: VerifiedToken): void {
    if (this.maxEntries <= 0) return;
    const old = this.entries.get(key);
    if (old !== undefined) this.delete(key, old.v);
    while (this.entries.size >= this.maxEntries) this.evictOne();
    this.entries.set(key, { v, until: Math.min(v.expMs, v.verifiedAtMs + this.maxAgeMs), used: false });
    if (v.jti !== undefined) this.byJti.set(v.jti, key);
    if (v.clientId !== undefined) {
      let s = this.byClient.get(v.clientId);
      if (s === undefined) this.byClient.set(v.clientId, (s = new Set()));
      s.add(key);
    }
  }

  /** Second chance: re-queues used entries (clearing the mark) until an unused one is at the head, and drops it. */
  private evictOne(): void {
    for (;;) {
      const [key, s] = this.entries.entries().next().value as [string, Slot];
      if (!s.used) {
        this.delete(key, s.v);
        return;
      }
      s.used = false;
      this.entries.delete(key);
      this.entries.set(key, s);
    }
  }

  /** Drops the entry of a token id. */
  dropJti(jti: string): void {
    const key = this.byJti.get(jti);
    if (key === undefined) return;
    const s = this.entries.get(key);
    if (s !== undefined) this.delete(key, s.v);
    else this.byJti.delete(jti);
  }

  /** Drops every entry of an app. */
  dropClient(clientId: string): void {
    const keys = this.byClient.get(clientId);
    if (keys === undefined) return;
    for (const key of [...keys]) {
      const s = this.entries.get(key);
      if (s !== undefined) this.delete(key, s.v);
    }
    this.byClient.delete(clientId);
  }

  /** Purges entries whenever the revocation set changes. */
  attach(revocations: RevocationSet): void {
    revocations.onRevoke((e: RevocationEvent) => {
      if (e.type === 'token.revoked') this.dropJti(e.jti);
      else if (e.type === 'app.tokens-revoked' || (e.type === 'app.status' && e.disabled)) this.dropClient(e.clientId);
    });
  }

  clear(): void {
    this.entries.clear();
    this.byJti.clear();
    this.byClient.clear();
  }

  get size(): number {
    return this.entries.size;
  }

  private delete(key: string, v: VerifiedToken): void {
    this.entries.delete(key);
    if (v.jti !== undefined && this.byJti.get(v.jti) === key) this.byJti.delete(v.jti);
    if (v.clientId !== undefined) {
      const s = this.byClient.get(v.clientId);
      if (s !== undefined) {
        s.delete(key);
        if (s.size === 0) this.byClient.delete(v.clientId);
      }
    }
  }
}
