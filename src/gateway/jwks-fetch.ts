/**
 * The fetch an external issuer's JWKS (RFC 7517 §5) is retrieved with: jose's own asks for
 * no redirects (a 3xx is not followed, so a JWKS URL cannot bounce the gateway to another,
 * private, address) and times out, but buffers the whole body, so a response of 50 MB, or
 * one that never ends, is held in memory until the timeout. This one reads at most
 * `maxBytes` and gives up beyond, and checks the body is a JSON object with a `keys` array. After a failed retrieval it does not try again for
 * `retryAfterMs`: without that, every request bearing a token of an issuer whose JWKS
 * endpoint fails would make one more outbound request (jose's cooldown only counts
 * successful retrievals). A key set that holds two signing keys of one type under one `kid`
 * (RFC 7517 §4.5: "different keys within the JWK Set SHOULD use distinct kid values") is
 * reported once per retrieval through `onDuplicateKids`; tokens naming such a kid are refused.
 */
import type { FetchImplementation } from 'jose';

/** A generous bound: real key sets, `x5c` chains included, are a few KB. */
export const JWKS_MAX_BYTES = 1024 * 1024;
export const JWKS_RETRY_AFTER_MS = 5_000;

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

/**
 * A fetch for jose's `createRemoteJWKSet` (its `customFetch` option) that bounds the body
 * and backs off after a failure; `retryAfterMs()` is what is left of the back-off.
 * @example createRemoteJWKSet(url, { [customFetch]: boundedJwksFetch() })
 */
export function boundedJwksFetch(o: { maxBytes?: number; retryAfterMs?: number; now?: () => number; onDuplicateKids?: (kids: string[]) => void } = {}): JwksFetch {
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
      const dup = o.onDuplicateKids !== undefined ? duplicateKids(keys) : [];
      if (dup.length > 0) o.onDuplicateKids!(dup);
      return new Response(text, { status: 200, headers: { 'content-type': 'application/json' } });
    } catch (e) {
      failedAt = now();
      throw e;
    }
  };
  return Object.assign(fetchJwks, { retryAfterMs: () => Math.max(0, failedAt + retryAfterMs - now()) });
}
