/**
 * RFC 9421 §3.3 signature algorithms mapped onto WebCrypto.
 *
 * The key decides the algorithm (§3.2: the verifier MUST determine the algorithm
 * from the key material or its own configuration, never from the message alone);
 * `keyFits` checks that an imported `CryptoKey` really is of the algorithm named.
 * ECDSA signatures are the raw r||s form (§3.3.4/§3.3.5), which is WebCrypto's own.
 */
import type { SignatureAlgorithm } from './types.js';

interface AlgorithmSpec {
  /** For `crypto.subtle.importKey` / `generateKey`. */
  importParams: RsaHashedImportParams | EcKeyImportParams | HmacImportParams | Algorithm;
  /** For `crypto.subtle.sign` / `verify`. */
  signParams: RsaPssParams | EcdsaParams | Algorithm;
  /** Exact signature length in bytes where the algorithm fixes it. */
  length?: number;
}

const SPECS: Record<SignatureAlgorithm, AlgorithmSpec> = {
  // §3.3.1: RSASSA-PSS, SHA-512, MGF1 with SHA-512, salt length 64 bytes.
  'rsa-pss-sha512': { importParams: { name: 'RSA-PSS', hash: 'SHA-512' }, signParams: { name: 'RSA-PSS', saltLength: 64 } as RsaPssParams },
  // §3.3.2
  'rsa-v1_5-sha256': { importParams: { name: 'RSASSA-PKCS1-v1_5', hash: 'SHA-256' }, signParams: { name: 'RSASSA-PKCS1-v1_5' } },
  // §3.3.3: the full 256-bit output; there is no truncated form.
  'hmac-sha256': { importParams: { name: 'HMAC', hash: 'SHA-256' }, signParams: { name: 'HMAC' }, length: 32 },
  // §3.3.4/§3.3.5: r||s, each the size of the curve order.
  'ecdsa-p256-sha256': { importParams: { name: 'ECDSA', namedCurve: 'P-256' }, signParams: { name: 'ECDSA', hash: 'SHA-256' } as EcdsaParams, length: 64 },
  'ecdsa-p384-sha384': { importParams: { name: 'ECDSA', namedCurve: 'P-384' }, signParams: { name: 'ECDSA', hash: 'SHA-384' } as EcdsaParams, length: 96 },
  // §3.3.6: Ed25519 (RFC 8032), pure.
  ed25519: { importParams: { name: 'Ed25519' }, signParams: { name: 'Ed25519' }, length: 64 },
};

export const SIGNATURE_ALGORITHMS = Object.freeze(Object.keys(SPECS)) as readonly SignatureAlgorithm[];

export function isSignatureAlgorithm(s: unknown): s is SignatureAlgorithm {
  return typeof s === 'string' && Object.prototype.hasOwnProperty.call(SPECS, s);
}

/**
 * The WebCrypto parameters for importing a key of `alg`; import once and keep the `CryptoKey`.
 *
 * @example
 * const key = await crypto.subtle.importKey('raw', secret, importParams('hmac-sha256'), false, ['sign', 'verify']);
 */
export function importParams(alg: SignatureAlgorithm): AlgorithmSpec['importParams'] {
  return SPECS[alg].importParams;
}

/** Whether `key` is a WebCrypto key of algorithm `alg` usable for `usage`. */
export function keyFits(alg: SignatureAlgorithm, key: CryptoKey, usage: 'sign' | 'verify'): boolean {
  if (!key || typeof key !== 'object' || !key.algorithm || !key.usages?.includes(usage)) return false;
  const want = SPECS[alg].importParams as { name: string; hash?: string; namedCurve?: string };
  const have = key.algorithm as { name: string; hash?: { name: string }; namedCurve?: string };
  if (have.name !== want.name) return false;
  if (want.hash !== undefined && have.hash?.name !== want.hash) return false;
  if (want.namedCurve !== undefined && have.namedCurve !== want.namedCurve) return false;
  return true;
}

/** Signs `data` with `key`; one WebCrypto call. */
export async function signBytes(alg: SignatureAlgorithm, key: CryptoKey, data: Uint8Array): Promise<Uint8Array> {
  return new Uint8Array(await crypto.subtle.sign(SPECS[alg].signParams, key, data as Uint8Array<ArrayBuffer>));
}

/**
 * Verifies `signature` over `data`; one WebCrypto call. Returns false (never throws)
 * for a signature of the wrong length or one the primitive rejects.
 */
export async function verifyBytes(alg: SignatureAlgorithm, key: CryptoKey, signature: Uint8Array, data: Uint8Array): Promise<boolean> {
  const spec = SPECS[alg];
  if (spec.length !== undefined && signature.byteLength !== spec.length) return false;
  try {
    return await crypto.subtle.verify(spec.signParams, key, signature as Uint8Array<ArrayBuffer>, data as Uint8Array<ArrayBuffer>);
  } catch {
    return false;
  }
}
