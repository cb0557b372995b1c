/**
 * The fetch an external issuer's JWKS (RFC 7517 §5) is retrieved with: jose's own asks for
 * no redirects (a 3xx is not followed, so a JWKS URL cannot bounce the gateway to another,
 * private, address) and times out, but buffers the whole body, so a response of 50 MB, or
 * one that never ends, is held in memory until the timeout. This one reads at most
 * `maxBytes` and gives up beyond, and checks the body is a JSON object with a `keys` array
 * of at most `JWKS_MAX_KEYS` JWKs, each an object with a `kty` (RFC 7517 §4.1: "This member
 * MUST be present in a JWK"). Each signing key is imported once here; one that cannot be (a
 * key type or curve this gateway does not verify, a private key, a broken value, an RSA
 * modulus under 2048 bits or over the 16384 OpenSSL verifies with) is left out of the set jose sees and reported once per retrieval
 * through `onSkippedKeys` (RFC 7517 §5: "Implementations SHOULD ignore JWKs within a JWK Set
 * that use "kty" (key type) values that are not understood by them, that are missing
 * required members, or for which values are out of the supported ranges"). A set left with
 * no signing key is a failed retrieval. After a failed retrieval it does not try again for
 * `retryAfterMs`: without that, every request bearing a token of an issuer whose JWKS
 * endpoint fails, or serves a set jose would refuse, would make one more outbound request
 * (jose's cooldown only counts successful retrievals). A key set that holds two signing keys of one type under one `kid`
 * (RFC 7517 §4.5: "different keys within the JWK Set SHOULD use distinct kid values") is
 * reported once per retrieval through `onDuplicateKids`; tokens naming such a kid are refused.
 */
import { importJWK, type FetchImplementation } from 'jose';

/** A generous bound: real key sets, `x5c` chains included, are a few KB. */
export const JWKS_MAX_BYTES = 1024 * 1024;
export const JWKS_RETRY_AFTER_MS = 5_000;
/** Real key sets hold a few keys (one or two per algorithm during a rotation); each is imported on retrieval. */
export const JWKS_MAX_KEYS = 100;

export class JwksFetchError extends Error {}

/** A JWKS fetch that also says how long it will not try again after a failed retrieval. */
export interface JwksFetch extends FetchImplementation {
  /** Milliseconds until the next retrieval may be tried: 0 when it may be now. */
  retryAfterMs(): number;
}

/** The `kid`s (each cut to 64 characters, at most 10) under which a key set holds more than one signing key of one `kty`. */
export function duplicateKids(keys: readonly unknown[]): string[] {
  const seen = new Set<string>();
  const dup = new Set<string>();
  for (const k of keys) {
    if (typeof k !== 'object' || k === null) continue;
    const { kid, kty, use } = k as { kid?: unknown; kty?: unknown; use?: unknown };
    if (typeof kid !== 'string' || use === 'enc') continue;
    const id = `${String(kty)}\n${kid}`;
    if (seen.has(id)) dup.add(kid.slice(0, 64));
    else seen.add(id);
  }
  return [...dup].slice(0, 10);
}

/** The JWS algorithms a key of each `kty` (and `crv`) can verify, the first the one it is imported under. */
const SIGNING = new Map<string, readonly string[]>([
  ['RSA', ['RS256', 'RS384', 'RS512', 'PS256', 'PS384', 'PS512']],
  ['EC P-256', ['ES256']],
  ['EC P-384', ['ES384']],
  ['EC P-521', ['ES512']],
  ['OKP Ed25519', ['EdDSA', 'Ed25519']],
]);
/** jose's own floor for RSA verification keys. */
const MIN_RSA_BITS = 2048;
/** OPENSSL_RSA_MAX_MODULUS_BITS: no signature verifies with a larger modulus. */
const MAX_RSA_BITS = 16384;

/**
 * The members of a key set that can verify a token, and a note (index, `kid`, why; never key
 * material) for each signing key left out. Encryption keys are left out without a note.
 * Throws when the set is not a JWK Set: more than `JWKS_MAX_KEYS` members, or a member that
 * is not an object with a `kty` string.
 * @example const { usable, skipped } = await signingKeys(jwks.keys)
 */
export async function signingKeys(keys: readonly unknown[]): Promise<{ usable: Record<string, unknown>[]; skipped: string[] }> {
  if (keys.length > JWKS_MAX_KEYS) throw new JwksFetchError(`the JWKS holds ${keys.length} keys, over the limit of ${JWKS_MAX_KEYS}`);
  const usable: Record<string, unknown>[] = [];
  const skipped: string[] = [];
  for (const [i, k] of keys.entries()) {
    if (typeof k !== 'object' || k === null || Array.isArray(k)) throw new JwksFetchError(`member ${i} of the JWKS keys is not an object`);
    const jwk = k as Record<string, unknown>;
    if (typeof jwk['kty'] !== 'string') throw new JwksFetchError(`member ${i} of the JWKS keys has no kty`);
    const { use, key_ops: ops } = jwk;
    if ((use !== undefined && use !== 'sig') || (Array.isArray(ops) && !ops.includes('verify'))) continue;
    const kid = jwk['kid'];
    const why = await unusable(jwk);
    if (why === undefined) usable.push(jwk);
    else skipped.push(`key ${i}${typeof kid === 'string' ? ` (kid ${kid.slice(0, 64)})` : ''}: ${why}`);
  }
  return { usable, skipped };
}

/** Why a signing JWK cannot verify a token here, or undefined when it can. */
async function unusable(jwk: Record<string, unknown>): Promise<string | undefined> {
  const { kty, crv, alg } = jwk;
  const algs = SIGNING.get(kty === 'RSA' ? kty : `${String(kty)} ${String(crv)}`);
  if (algs === undefined) return `kty ${String(kty).slice(0, 16)}${crv !== undefined ? ` crv ${String(crv).slice(0, 16)}` : ''} is not a signing key this gateway verifies`;
  if (alg !== undefined && (typeof alg !== 'string' || !algs.includes(alg))) return `alg ${String(alg).slice(0, 16)} does not fit the key`;
  let key: Awaited<ReturnType<typeof importJWK>>;
  try {
    key = await importJWK(jwk, (alg as string | undefined) ?? algs[0]!);
  } catch {
    return 'the key cannot be imported';
  }
  if (key instanceof Uint8Array || key.type !== 'public') return 'not a public key';
  const bits = (key.algorithm as { modulusLength?: number }).modulusLength;
  if (bits !== undefined && bits < MIN_RSA_BITS) return `an RSA modulus of ${bits} bits, under ${MIN_RSA_BITS}`;
  if (bits !== undefined && bits > MAX_RSA_BITS) return `an RSA modulus of ${bits} bits, over ${MAX_RSA_BITS}`;
  return undefined;
}

/**
 * A fetch for jose's `createRemoteJWKSet` (its `customFetch` option) that bounds the body
 * and backs off after a failure; `retryAfterMs()` is what is left of the back-off.
 * @example createRemoteJWKSet(url, { [customFetch]: boundedJwksFetch() })
 */
export function boundedJwksFetch(
  o: { maxBytes?: number; retryAfterMs?: number; now?: () => number; onDuplicateKids?: (kids: string[]) => void; onSkippedKeys?: (notes: string[]) => void } = {},
): JwksFetch {
  const maxBytes = o.maxBytes ?? JWKS_MAX_BYTES;
  const retryAfterMs = o.retryAfterMs ?? JWKS_RETRY_AFTER_MS;
  const now = o.now ?? Date.now;
  let failedAt = -Infinity;
  const fetchJwks: FetchImplementation = async (url, init) => {
    if (now() - failedAt < retryAfterMs) throw new JwksFetchError('the JWKS retrieval failed moments ago; not retried yet');
    try {
      const res = await fetch(url, init);
      if (res.status !== 200) {
        await res.body?.cancel();
        throw new JwksFetchError(`the JWKS endpoint answered ${res.status}`);
      }
      const declared = Number(res.headers.get('content-length') ?? '0');
      if (declared > maxBytes) {
        await res.body?.cancel();
        throw new JwksFetchError(`the JWKS response declares ${declared} bytes, over the limit of ${maxBytes}`);
      }
      const chunks: Uint8Array[] = [];
      let size = 0;
      if (res.body !== null) {
        const reader = res.body.getReader();
        for (;;) {
          const { done, value } = await reader.read();
          if (done) break;
          size += value.byteLength;
          if (size > maxBytes) {
            await reader.cancel();
            throw new JwksFetchError(`the JWKS response is over the limit of ${maxBytes} bytes`);
          }
          chunks.push(value);
        }
      }
      const text = Buffer.concat(chunks).toString('utf8');
      let jwks: unknown;
      try {
        jwks = JSON.parse(text);
      } catch {
        throw new JwksFetchError('the JWKS response is not JSON');
      }
      const keys = typeof jwks === 'object' && jwks !== null ? (jwks as { keys?: unknown }).keys : undefined;
      if (!Array.isArray(keys)) throw new JwksFetchError('the JWKS response has no keys array');
      const { usable, skipped } = await signingKeys(keys);
      if (skipped.length > 0) o.onSkippedKeys?.(skipped.slice(0, 10));
      if (usable.length === 0) throw new JwksFetchError('the JWKS holds no key that can verify a token');
      const dup = o.onDuplicateKids !== undefined ? duplicateKids(usable) : [];
      if (dup.length > 0) o.onDuplicateKids!(dup);
      return new Response(JSON.stringify({ keys: usable }), { status: 200, headers: { 'content-type': 'application/json' } });
    } catch (e) {
      failedAt = now();
      throw e;
    }
  };
  return Object.assign(fetchJwks, { retryAfterMs: () => Math.max(0, failedAt + retryAfterMs - now()) });
}
