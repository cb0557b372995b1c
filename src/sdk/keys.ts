/**
 * Verification keys for the SDK: public JWKs (RFC 7517) mapped onto RFC 9421
 * algorithms and imported once, either given or fetched from a JWKS URL (cached,
 * refetched at most every `minRefreshMs` when a keyid is unknown, so rotation is
 * picked up without letting a stranger's keyid trigger a fetch per message).
 */
import { PortcullisError } from '../core/errors.js';
import { importParams } from '../signatures/algorithms.js';
import type { VerificationKey } from '../signatures/verify.js';
import type { SignatureAlgorithm } from '../signatures/types.js';

export interface PublicJwk {
  kty: string;
  kid?: string;
  alg?: string;
  crv?: string;
  use?: string;
  [k: string]: unknown;
}

/** Where verification keys come from: a JWKS URL, a JWK Set / JWK array, or keys already imported by keyid. */
export type KeySource = { jwksUrl: string; fetch?: typeof fetch; minRefreshMs?: number } | { keys: { keys: PublicJwk[] } | PublicJwk[] | ReadonlyMap<string, VerificationKey> };

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
    this.lastFetch = Date.now();
    let jwks: { keys: PublicJwk[] };
    try {
      const res = await (src.fetch ?? fetch)(src.jwksUrl, { headers: { accept: 'application/jwk-set+json, application/json' } });
      if (!res.ok) throw new Error(`JWKS ${src.jwksUrl} answered ${res.status}`);
      jwks = (await res.json()) as { keys: PublicJwk[] };
      if (!Array.isArray(jwks?.keys)) throw new Error(`JWKS ${src.jwksUrl} is not a JWK Set`);
    } catch (e) {
      // fail closed, with the SDK's typed error: nothing verifies without the keys
      throw new PortcullisError('unavailable', `the JWKS at ${src.jwksUrl} could not be fetched`, { cause: e });
    }
    this.keys = await importJwks(jwks);
  }

  private refresh(): Promise<void> {
    return (this.loading ??= this.load().finally(() => (this.loading = undefined)));
  }

  async get(keyid: string | undefined): Promise<VerificationKey | undefined> {
    if (keyid === undefined) return undefined;
    if (!this.keys) await this.refresh();
    let k = this.keys!.get(keyid);
    if (!k && 'jwksUrl' in this.source && Date.now() - this.lastFetch >= (this.source.minRefreshMs ?? 30_000)) {
      await this.refresh();
      k = this.keys!.get(keyid);
    }
    return k;
  }
}

const byUrl = new Map<string, KeyResolver>();
const byKeys = new WeakMap<object, KeyResolver>();

/** One resolver per JWKS URL (or per keys object), so every call shares the imported keys and the fetch. */
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
