/**
 * Verified-token cache, as Envoy's jwt_authn does: a token whose signature and
 * lifetime were checked once is remembered by the SHA-256 of its text, so a repeat
 * costs a hash and a map lookup instead of a signature verification.
 *
 * Bounded (least recently used goes first), never used past the token's `exp`, and
 * purged on revocation events (the token's `jti`, or every token of an app). Route
 * checks (issuer trust, audience, scopes) and the revocation check still run on every
 * hit; only the signature and the parse are skipped.
 */
import { hash } from 'node:crypto';
import type { RevocationEvent, RevocationSet } from '../tokens/revocation-set.js';

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
  /** The whole verified claims set, for later policy steps. */
  readonly claims: Readonly<Record<string, unknown>>;
  /** `x-portcullis-*` identity headers for the upstream, flat `[name, value, …]`, computed once. */
  readonly identityHeaders: readonly string[];
}

/** The cache key of a token: its SHA-256, so the map never holds bearer credentials. */
export function tokenKey(token: string): string {
  return hash('sha256', token, 'base64');
}

export class TokenCache {
  private readonly entries = new Map<string, VerifiedToken>();
  private readonly byJti = new Map<string, string>();
  private readonly byClient = new Map<string, Set<string>>();

  constructor(readonly maxEntries: number) {}

  /**
   * The verified token for a key, unless absent or expired at `now` (epoch ms).
   * @example const v = cache.get(tokenKey(token), clock.now())
   */
  get(key: string, now: number): VerifiedToken | undefined {
    const v = this.entries.get(key);
    if (v === undefined) return undefined;
    if (now >= v.expMs) {
      this.delete(key, v);
      return undefined;
    }
    // least-recently-used order is Map insertion order
    this.entries.delete(key);
    this.entries.set(key, v);
    return v;
  }

  set(key: string, v: VerifiedToken): void {
    if (this.maxEntries <= 0) return;
    const old = this.entries.get(key);
    if (old !== undefined) this.delete(key, old);
    while (this.entries.size >= this.maxEntries) {
      const oldest = this.entries.keys().next().value as string;
      this.delete(oldest, this.entries.get(oldest)!);
    }
    this.entries.set(key, v);
    if (v.jti !== undefined) this.byJti.set(v.jti, key);
    if (v.clientId !== undefined) {
      let s = this.byClient.get(v.clientId);
      if (s === undefined) this.byClient.set(v.clientId, (s = new Set()));
      s.add(key);
    }
  }

  /** Drops the entry of a token id. */
  dropJti(jti: string): void {
    const key = this.byJti.get(jti);
    if (key === undefined) return;
    const v = this.entries.get(key);
    if (v !== undefined) this.delete(key, v);
    else this.byJti.delete(jti);
  }

  /** Drops every entry of an app. */
  dropClient(clientId: string): void {
    const keys = this.byClient.get(clientId);
    if (keys === undefined) return;
    for (const key of [...keys]) {
      const v = this.entries.get(key);
      if (v !== undefined) this.delete(key, v);
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
