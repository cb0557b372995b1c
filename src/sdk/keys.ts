/**
 * Verification keys for the SDK: public JWKs (RFC 7517) mapped onto RFC 9421
 * algorithms and imported once, either given or fetched from a JWKS URL (cached,
 * refetched at most every `minRefreshMs` when a keyid is unknown, so rotation is
 * picked up without letting a stranger's keyid trigger a fetch per message; after a
 * failed fetch, calls fail fast with `unavailable` for a back-off, see `jwks.ts`).
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
export type KeySource = { jwksUrl: string; fetch?: typeof fetch; minRefreshMs?: number; now?: () => number; timeoutMs?: number } | { keys: { keys: PublicJwk[] } | PublicJwk[] | ReadonlyMap<string, VerificationKey> };

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

  constructor(private readonly source: KeySource) {}

  private async load(): Promise<void> {
    const src = this.source;
    if ('keys' in src) {
      this.keys = src.keys instanceof Map ? new Map(src.keys) : await importJwks(src.keys as { keys: PublicJwk[] } | PublicJwk[]);
      return;
    }
    this.lastFetch = (src.now ?? Date.now)();
    const jwks = await fetchJwks<PublicJwk>(src.jwksUrl, src);
    this.keys = await importJwks(jwks);
  }

  private refresh(): Promise<void> {
    return (this.loading ??= this.load().finally(() => (this.loading = undefined)));
  }

  async get(keyid: string | undefined): Promise<VerificationKey | undefined> {
    if (keyid === undefined) return undefined;
    if (!this.keys) await this.refresh();
    let k = this.keys!.get(keyid);
    if (!k && 'jwksUrl' in this.source && (this.source.now ?? Date.now)() - this.lastFetch >= (this.source.minRefreshMs ?? 30_000)) {
      await this.refresh();
      k = this.keys!.get(keyid);
    }
    return k;
  }
}

const byUrl = new Map<string, KeyResolver>();
const byKeys = new WeakMap<object, KeyResolver>();

/** One resolver per JWKS URL (or per keys object), so every call shares the imported keys and the fetch (the first call's `fetch` and `now` are used). */
export function resolverFor(source: KeySource): KeyResolver {
  if ('jwksUrl' in source) {
    const id = `${source.minRefreshMs ?? ''} ${source.jwksUrl}`;
    let r = byUrl.get(id);
    if (!r) byUrl.set(id, (r = new KeyResolver(source)));
    return r;
  }
  let r = byKeys.get(source.keys);
  if (!r) byKeys.set(source.keys, (r = new KeyResolver(source)));
  return r;
}
