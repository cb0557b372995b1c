/**
 * Verification keys for the SDK: public JWKs (RFC 7517) mapped onto RFC 9421
 * algorithms and imported once, either given or fetched from a JWKS URL (cached,
 * refetched at most every `minRefreshMs` when a keyid is unknown, so rotation is
 * picked up without letting a stranger's keyid trigger a fetch per message; after a
 * failed fetch, calls fail fast with `unavailable` for a back-off, see `jwks.ts`). A fetched
 * set is used for `cacheMaxAgeMs` at most, so a key the identity plane stops publishing
 * stops verifying here too.
 */
import { importParams } from '../signatures/algorithms.js';
import type { VerificationKey } from '../signatures/verify.js';
import type { SignatureAlgorithm } from '../signatures/types.js';
import { fetchJwks } from './jwks.js';

export interface PublicJwk {
  kty: string;
  kid?: string;
  alg?: string;
  crv?: string;
  use?: string;
  [k: string]: unknown;
}

/** Where verification keys come from: a JWKS URL, a JWK Set / JWK array, or keys already imported by keyid. */
export type KeySource =
  | {
      jwksUrl: string;
      fetch?: typeof fetch;
      /** An unknown keyid refetches the set at most this often (default 30 s). */
      minRefreshMs?: number;
      /**
       * The fetched set is fetched again before use once it is this old (default 10 min), so a
       * key no longer published (rotated out) stops verifying; a failed fetch is `unavailable`.
       */
      cacheMaxAgeMs?: number;
      now?: () => number;
      timeoutMs?: number;
      /** Most bytes of the JWKS answer read (default 1 MiB); a larger one is `unavailable`. */
      maxJwksBytes?: number;
    }
  | { keys: { keys: PublicJwk[] } | PublicJwk[] | ReadonlyMap<string, VerificationKey> };

/** How long a fetched JWK Set is used before it is fetched again (jose's `cacheMaxAge`). */
export const JWKS_CACHE_MAX_AGE_MS = 600_000;

const JOSE: Readonly<Record<string, SignatureAlgorithm>> = { ES256: 'ecdsa-p256-sha256', ES384: 'ecdsa-p384-sha384', EdDSA: 'ed25519', Ed25519: 'ed25519', RS256: 'rsa-v1_5-sha256', PS512: 'rsa-pss-sha512' };

/** The RFC 9421 algorithm of a public JWK: from its JOSE `alg`, else from the curve (RSA keys must name their alg). */
export function algorithmOfJwk(jwk: PublicJwk): SignatureAlgorithm | undefined {
  if (jwk.alg !== undefined) {
    const a = JOSE[jwk.alg];
    if (a === 'ed25519' && jwk.crv !== 'Ed25519') return undefined;
    return a;
  }
  if (jwk.kty === 'OKP' && jwk.crv === 'Ed25519') return 'ed25519';
  if (jwk.kty === 'EC' && jwk.crv === 'P-256') return 'ecdsa-p256-sha256';
  if (jwk.kty === 'EC' && jwk.crv === 'P-384') return 'ecdsa-p384-sha384';
  return undefined;
}

/** Imports the signature-verification keys of a JWK Set; keys without a kid, private keys, `use: enc` keys and unusable keys are skipped. */
export async function importJwks(jwks: { keys: PublicJwk[] } | PublicJwk[]): Promise<Map<string, VerificationKey>> {
  const out = new Map<string, VerificationKey>();
  for (const jwk of Array.isArray(jwks) ? jwks : jwks.keys) {
    if (!jwk || typeof jwk.kid !== 'string' || 'd' in jwk || 'k' in jwk || (jwk.use !== undefined && jwk.use !== 'sig')) continue;
    const alg = algorithmOfJwk(jwk);
    if (!alg) continue;
    const { kid: _k, alg: _a, use: _u, key_ops: _o, ...material } = jwk;
    try {
      out.set(jwk.kid, { alg, key: await crypto.subtle.importKey('jwk', material as JsonWebKey, importParams(alg), false, ['verify']) });
    } catch {
      /* not importable on this platform or malformed: skip */
    }
  }
  return out;
}

/** A keyid → key resolver over a key source. */
export class KeyResolver {
  private keys: Map<string, VerificationKey> | undefined;
  private loading: Promise<void> | undefined;
  private lastFetch = -Infinity;
  /** When the fetch that gave `keys` began. */
  private loadedAt = -Infinity;

  constructor(private readonly source: KeySource) {}

  private async load(): Promise<void> {
    const src = this.source;
    if ('keys' in src) {
      this.keys = src.keys instanceof Map ? new Map(src.keys) : await importJwks(src.keys as { keys: PublicJwk[] } | PublicJwk[]);
      return;
    }
    const started = (this.lastFetch = (src.now ?? Date.now)());
    const jwks = await fetchJwks<PublicJwk>(src.jwksUrl, src);
    this.keys = await importJwks(jwks);
    this.loadedAt = started;
  }

  private refresh(): Promise<void> {
    return (this.loading ??= this.load().finally(() => (this.loading = undefined)));
  }

  async get(keyid: string | undefined): Promise<VerificationKey | undefined> {
    if (keyid === undefined) return undefined;
    // a stale set is not used, even for a keyid it holds: that key may have been rotated out
    if (!this.keys || this.stale()) await this.refresh();
    let k = this.keys!.get(keyid);
    if (!k && 'jwksUrl' in this.source && (this.source.now ?? Date.now)() - this.lastFetch >= (this.source.minRefreshMs ?? 30_000)) {
      await this.refresh();
      k = this.keys!.get(keyid);
    }
    return k;
  }

  private stale(): boolean {
    const src = this.source;
    if (!('jwksUrl' in src)) return false;
    const maxAge = src.cacheMaxAgeMs ?? JWKS_CACHE_MAX_AGE_MS;
    if (!(maxAge >= 0)) throw new RangeError(`cacheMaxAgeMs must be a number of milliseconds, not ${String(src.cacheMaxAgeMs)}`);
    return (src.now ?? Date.now)() - this.loadedAt >= maxAge;
  }
}

const byUrl = new Map<string, KeyResolver>();
const byKeys = new WeakMap<object, KeyResolver>();

/** One resolver per JWKS URL and refresh settings (or per keys object), so every call shares the imported keys and the fetch (the first call's `fetch` and `now` are used). */
export function resolverFor(source: KeySource): KeyResolver {
  if ('jwksUrl' in source) {
    const id = `${source.minRefreshMs ?? ''} ${source.cacheMaxAgeMs ?? ''} ${source.jwksUrl}`;
    let r = byUrl.get(id);
    if (!r) byUrl.set(id, (r = new KeyResolver(source)));
    return r;
  }
  let r = byKeys.get(source.keys);
  if (!r) byKeys.set(source.keys, (r = new KeyResolver(source)));
  return r;
}
