/**
 * Which keys may be used with which JWE algorithm (RFC 7518 §4), checked before jose
 * touches the key, and symmetric keys imported once as CryptoKeys (jose re-imports a raw
 * secret on every call otherwise).
 */
import { createPublicKey, KeyObject, webcrypto } from 'node:crypto';
import { PortcullisError } from '../../core/errors.js';
import { rsaKeyWeakness } from '../key-strength.js';
import { ALGS_FOR_KIND, DECRYPT_OPS, type JweAlg, type JweKeyKind } from './policy.js';

type CryptoKeyT = webcrypto.CryptoKey;

/** A key as callers hold it: a node KeyObject, a WebCrypto CryptoKey, or raw secret bytes. */
export type JweKeyMaterial = KeyObject | CryptoKeyT | Uint8Array;

export interface KeyFacts {
  kind: JweKeyKind;
  type: 'secret' | 'public' | 'private';
  /** RSA modulus length or symmetric key length, in bits. */
  bits?: number;
  /** RSA: why the key is refused (too short, or a public exponent of 1 or an even one), see rsaKeyWeakness. */
  weakness?: string;
}

const isCryptoKey = (k: unknown): k is CryptoKeyT => (k as { [Symbol.toStringTag]?: string })?.[Symbol.toStringTag] === 'CryptoKey';

const unsupported = (what: string) => new PortcullisError('jwe.alg-not-allowed', `the key is not usable for JWE: ${what}`);

function rsaFacts(key: KeyObject | CryptoKeyT, bits: number): KeyFacts {
  const weakness = rsaKeyWeakness(key);
  return { kind: 'RSA', type: key.type as KeyFacts['type'], bits, ...(weakness !== undefined ? { weakness } : {}) };
}

/** Classifies a key; throws `jwe.alg-not-allowed` for a key type no accepted algorithm uses. */
export function keyFacts(key: JweKeyMaterial): KeyFacts {
  if (key instanceof KeyObject) {
    if (key.type === 'secret') return { kind: 'oct', type: 'secret', bits: key.symmetricKeySize! * 8 };
    const t = key.asymmetricKeyType;
    const d = key.asymmetricKeyDetails ?? {};
    if (t === 'ec' && d.namedCurve === 'prime256v1') return { kind: 'P-256', type: key.type };
    if (t === 'x25519') return { kind: 'X25519', type: key.type };
    if (t === 'rsa') return rsaFacts(key, d.modulusLength!);
    throw unsupported(`${t}${d.namedCurve ? ` ${d.namedCurve}` : ''}`);
  }
  if (isCryptoKey(key)) {
    const a = key.algorithm as { name: string; namedCurve?: string; length?: number; modulusLength?: number; hash?: { name: string } };
    if (a.name === 'ECDH' && a.namedCurve === 'P-256') return { kind: 'P-256', type: key.type };
    if (a.name === 'X25519') return { kind: 'X25519', type: key.type };
    if (a.name === 'RSA-OAEP' && a.hash?.name === 'SHA-256') return rsaFacts(key, a.modulusLength!);
    if (a.name === 'AES-GCM' || a.name === 'AES-KW') return { kind: 'oct', type: 'secret', bits: a.length! };
    throw unsupported(a.name);
  }
  if (key instanceof Uint8Array) return { kind: 'oct', type: 'secret', bits: key.byteLength * 8 };
  throw unsupported('not a KeyObject, CryptoKey or Uint8Array');
}

/** Throws `jwe.alg-not-allowed` unless `alg` is one the key type accepts, at an accepted size (RSA: and exponent). */
export function assertKeyFitsAlg(facts: KeyFacts, alg: JweAlg): void {
  if (!ALGS_FOR_KIND[facts.kind].includes(alg)) {
    throw new PortcullisError('jwe.alg-not-allowed', `alg ${alg} does not fit a ${facts.kind} key`);
  }
  // RFC 8017 §3.1 and rsaKeyWeakness: with e = 1 the "ciphertext" is the padded plaintext
  if (facts.kind === 'RSA' && facts.weakness !== undefined) throw new PortcullisError('jwe.alg-not-allowed', facts.weakness);
  if (facts.kind === 'oct' && facts.bits !== 256) {
    throw new PortcullisError('jwe.alg-not-allowed', `${alg} with A256GCM needs a 256-bit key`);
  }
}

/** RFC 7517 §4.2–4.3: a key whose `use` is not `enc`, or whose `key_ops` forbid decryption, must not decrypt. */
export function assertDecryptionUse(alg: JweAlg, use: string | undefined, keyOps: readonly string[] | undefined): void {
  if (use !== undefined && use !== 'enc') {
    throw new PortcullisError('jwe.wrong-key-use', `the key has use "${use}", not "enc"`);
  }
  if (keyOps !== undefined && !keyOps.some((op) => DECRYPT_OPS[alg].includes(op))) {
    throw new PortcullisError('jwe.wrong-key-use', `the key_ops of the key do not allow decryption with ${alg}`);
  }
}

const symmetric = new WeakMap<object, Map<string, Promise<CryptoKeyT>>>();
const publicOf = new WeakMap<KeyObject, KeyObject>();

/**
 * The key to hand to jose: symmetric keys as a CryptoKey of the algorithm's WebCrypto
 * type (imported once per key object), a private KeyObject as its public key when encrypting.
 */
export function joseKey(key: JweKeyMaterial, facts: KeyFacts, alg: JweAlg, op: 'encrypt' | 'decrypt'): KeyObject | CryptoKeyT | Promise<CryptoKeyT> {
  if (facts.kind !== 'oct') {
    if (op === 'encrypt' && key instanceof KeyObject && key.type === 'private') {
      let pub = publicOf.get(key);
      if (!pub) publicOf.set(key, (pub = createPublicKey(key)));
      return pub;
    }
    return key as KeyObject | CryptoKeyT;
  }
  const name = alg === 'dir' ? 'AES-GCM' : 'AES-KW';
  if (isCryptoKey(key)) {
    if ((key.algorithm as { name: string }).name !== name) throw new PortcullisError('jwe.alg-not-allowed', `alg ${alg} needs an ${name} key`);
    return key;
  }
  let perAlg = symmetric.get(key);
  if (!perAlg) symmetric.set(key, (perAlg = new Map()));
  let imported = perAlg.get(name);
  if (!imported) {
    const raw = key instanceof KeyObject ? key.export() : key;
    const usages: webcrypto.KeyUsage[] = name === 'AES-GCM' ? ['encrypt', 'decrypt'] : ['wrapKey', 'unwrapKey'];
    imported = webcrypto.subtle.importKey('raw', raw, { name }, false, usages);
    perAlg.set(name, imported);
  }
  return imported;
}
