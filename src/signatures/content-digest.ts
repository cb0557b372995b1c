/**
 * Content-Digest (RFC 9530): parse and serialize the field, compute it over a body,
 * and check a body against it while the body streams. Only `sha-256` and `sha-512`
 * are accepted (§5 marks the others insecure or deprecated). WebCrypto has no
 * incremental hash, so streaming takes a `HasherFactory` (node: `src/http/content-digest-node.ts`).
 */
import { parseDictionary, serializeDictionary } from 'structured-headers';
import { PortcullisError } from '../core/errors.js';
import { dictionaryKeys } from './signature-input.js';

export type DigestAlgorithm = 'sha-256' | 'sha-512';

export const DIGEST_LENGTH: Record<DigestAlgorithm, number> = { 'sha-256': 32, 'sha-512': 64 };
const SUBTLE_NAME: Record<DigestAlgorithm, string> = { 'sha-256': 'SHA-256', 'sha-512': 'SHA-512' };

/** An incremental hash. */
export interface Hasher {
  update(chunk: Uint8Array): void;
  digest(): Uint8Array | Promise<Uint8Array>;
}

export type HasherFactory = (alg: DigestAlgorithm) => Hasher;

const isDigestAlgorithm = (k: string): k is DigestAlgorithm => k === 'sha-256' || k === 'sha-512';

/**
 * Parses Content-Digest (or Repr-Digest) into the supported digests it carries;
 * members with other algorithms are ignored (§2), a malformed field is `digest.malformed`.
 */
export function parseContentDigest(value: string): Map<DigestAlgorithm, Uint8Array> {
  let dict;
  try {
    dict = parseDictionary(value);
  } catch (e) {
    throw new PortcullisError('digest.malformed', 'Content-Digest is not a structured dictionary', { cause: e });
  }
  if (dictionaryKeys(value).length !== dict.size) throw new PortcullisError('digest.malformed', 'Content-Digest repeats an algorithm');
  const out = new Map<DigestAlgorithm, Uint8Array>();
  for (const [alg, member] of dict) {
    if (!(member[0] instanceof ArrayBuffer)) throw new PortcullisError('digest.malformed', `Content-Digest ${alg} is not a byte sequence`);
    if (!isDigestAlgorithm(alg)) continue;
    if (member[0].byteLength !== DIGEST_LENGTH[alg]) throw new PortcullisError('digest.malformed', `Content-Digest ${alg} has the wrong length`);
    out.set(alg, new Uint8Array(member[0]));
  }
  return out;
}

/** Serializes digests as a Content-Digest value: `sha-256=:…:, sha-512=:…:`. */
export function serializeContentDigest(digests: ReadonlyMap<DigestAlgorithm, Uint8Array> | Partial<Record<DigestAlgorithm, Uint8Array>>): string {
  const entries = digests instanceof Map ? [...digests] : Object.entries(digests);
  return serializeDictionary(new Map(entries.filter(([, v]) => v).map(([k, v]) => [k, [(v as Uint8Array<ArrayBuffer>).slice().buffer, new Map()]])));
}

/**
 * Content-Digest of a whole body with WebCrypto.
 *
 * @example
 * await contentDigest(new TextEncoder().encode('{"hello": "world"}'), ['sha-256']);
 * // 'sha-256=:X48E9qOokqqrvdts8nOJRJN3OWDUoyWxBf7kbu9DBPE=:'
 */
export async function contentDigest(body: Uint8Array, algs: readonly DigestAlgorithm[] = ['sha-256']): Promise<string> {
  const out = new Map<DigestAlgorithm, Uint8Array>();
  for (const a of algs) out.set(a, new Uint8Array(await crypto.subtle.digest(SUBTLE_NAME[a], body as Uint8Array<ArrayBuffer>)));
  return serializeContentDigest(out);
}

function equal(a: Uint8Array, b: Uint8Array): boolean {
  if (a.byteLength !== b.byteLength) return false;
  let d = 0;
  for (let i = 0; i < a.byteLength; i++) d |= a[i]! ^ b[i]!;
  return d === 0;
}

/** The digests a header expects, or `digest.missing` when it carries none we accept. */
function expected(headerValue: string | null | undefined): Map<DigestAlgorithm, Uint8Array> {
  if (headerValue === null || headerValue === undefined) throw new PortcullisError('digest.missing', 'the message has no Content-Digest');
  const want = parseContentDigest(headerValue);
  if (want.size === 0) throw new PortcullisError('digest.missing', 'Content-Digest has no sha-256 or sha-512 member');
  return want;
}

export interface DigestChecker {
  update(chunk: Uint8Array): void;
  /** Throws `digest.mismatch` unless every accepted digest in the header matches the bytes seen. */
  finish(): Promise<void>;
}

/**
 * Checks a streamed body against its Content-Digest. The header is parsed before
 * the first byte (`digest.missing` / `digest.malformed` early); each supported
 * algorithm the header names is computed and must match.
 *
 * @example
 * const check = contentDigestChecker(headers.get('content-digest'), nodeHasherFactory);
 * for await (const chunk of body) check.update(chunk);
 * await check.finish();
 */
export function contentDigestChecker(headerValue: string | null | undefined, factory: HasherFactory): DigestChecker {
  const want = expected(headerValue);
  const hashers = [...want.keys()].map((alg) => [alg, factory(alg)] as const);
  return {
    update(chunk) {
      for (const [, h] of hashers) h.update(chunk);
    },
    async finish() {
      for (const [alg, h] of hashers) {
        if (!equal(await h.digest(), want.get(alg)!)) throw new PortcullisError('digest.mismatch', `the body does not match its ${alg} Content-Digest`);
      }
    },
  };
}

/**
 * A pass-through stream that checks the body against its Content-Digest; the
 * stream errors with `digest.mismatch` at the end instead of closing.
 */
export function contentDigestVerifyStream(headerValue: string | null | undefined, factory: HasherFactory): TransformStream<Uint8Array, Uint8Array> {
  const check = contentDigestChecker(headerValue, factory);
  return new TransformStream({
    transform(chunk, controller) {
      check.update(chunk);
      controller.enqueue(chunk);
    },
    flush: () => check.finish(),
  });
}

/** Computes a Content-Digest value over a streamed body (signing side). */
export function contentDigester(factory: HasherFactory, algs: readonly DigestAlgorithm[] = ['sha-256']): { update(chunk: Uint8Array): void; finish(): Promise<string> } {
  const hashers = algs.map((a) => [a, factory(a)] as const);
  return {
    update(chunk) {
      for (const [, h] of hashers) h.update(chunk);
    },
    async finish() {
      const out = new Map<DigestAlgorithm, Uint8Array>();
      for (const [a, h] of hashers) out.set(a, await h.digest());
      return serializeContentDigest(out);
    },
  };
}

/**
 * A web-only `HasherFactory` that buffers the body and hashes it with WebCrypto at
 * the end (browsers have no incremental SHA-2); memory grows with the body.
 */
export const bufferingHasherFactory: HasherFactory = (alg) => {
  const chunks: Uint8Array[] = [];
  let size = 0;
  return {
    update(chunk) {
      chunks.push(chunk.slice());
      size += chunk.byteLength;
    },
    async digest() {
      const all = new Uint8Array(size);
      let at = 0;
      for (const c of chunks) {
        all.set(c, at);
        at += c.byteLength;
      }
      return new Uint8Array(await crypto.subtle.digest(SUBTLE_NAME[alg], all));
    },
  };
};
