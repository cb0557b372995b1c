/**
 * Generation of encryption keys: key pairs for ECDH-ES (P-256, X25519) and RSA-OAEP-256
 * (RSA-3072), and 256-bit app keys for `dir`/A256KW, as JWKs with `use: enc`
 * (RFC 7517 §4.2) and as KeyObjects.
 */
import { createSecretKey, randomBytes, type KeyObject } from 'node:crypto';
import type { JWK } from 'jose';
import { randomId } from '../../core/ids.js';
import { generateDetachedKeyPair } from '../key-pairs.js';
import type { JweAlg } from './policy.js';


export type EncryptionKeyType = 'P-256' | 'X25519' | 'RSA-3072';

export interface EncryptionKeyPair {
  kid: string;
  type: EncryptionKeyType;
  /** The `alg` published with the key, and the only one it decrypts (RFC 7517 §4.4). */
  alg: JweAlg;
  publicKey: KeyObject;
  privateKey: KeyObject;
  /** Public JWK with kid, alg and `use: enc`; safe to publish. */
  publicJwk: JWK;
  /** Private JWK with kid, alg and `use: enc`; a secret, to be stored encrypted. */
  privateJwk: JWK;
}

export const ALG_FOR_TYPE: Readonly<Record<EncryptionKeyType, JweAlg>> = {
  'P-256': 'ECDH-ES+A256KW',
  X25519: 'ECDH-ES+A256KW',
  'RSA-3072': 'RSA-OAEP-256',
};

/** The type of a stored encryption key, from its public JWK. */
export function typeOfJwk(jwk: JWK): EncryptionKeyType | undefined {
  if (jwk.kty === 'EC' && jwk.crv === 'P-256') return 'P-256';
  if (jwk.kty === 'OKP' && jwk.crv === 'X25519') return 'X25519';
  if (jwk.kty === 'RSA') return 'RSA-3072';
  return undefined;
}

async function pair(type: EncryptionKeyType): Promise<{ publicKey: KeyObject; privateKey: KeyObject }> {
  switch (type) {
    case 'P-256':
      return generateDetachedKeyPair({ type: 'ec', namedCurve: 'P-256' });
    case 'X25519':
      return generateDetachedKeyPair({ type: 'x25519' });
    case 'RSA-3072':
      return generateDetachedKeyPair({ type: 'rsa', modulusLength: 3072 });
  }
}

/**
 * @example
 * const k = await generateEncryptionKey('X25519');
 * jwks.keys.push(k.publicJwk); // { kty: 'OKP', crv: 'X25519', x, kid, alg: 'ECDH-ES+A256KW', use: 'enc' }
 */
export async function generateEncryptionKey(type: EncryptionKeyType, kid: string = randomId(12)): Promise<EncryptionKeyPair> {
  const { publicKey, privateKey } = await pair(type);
  const alg = ALG_FOR_TYPE[type];
  const meta = { kid, alg, use: 'enc' };
  return {
    kid,
    type,
    alg,
    publicKey,
    privateKey,
    publicJwk: { ...(publicKey.export({ format: 'jwk' }) as JWK), ...meta },
    privateJwk: { ...(privateKey.export({ format: 'jwk' }) as JWK), ...meta },
  };
}

export interface SymmetricEncryptionKey {
  kid: string;
  key: KeyObject;
  /** `{ kty: 'oct', k, kid, alg, use: 'enc' }`: a secret, shown once to the app and stored encrypted. */
  jwk: JWK;
}

/** A per-app AES-256 key for `dir` (default) or A256KW with A256GCM. */
export function generateSymmetricKey(alg: 'dir' | 'A256KW' = 'dir', kid: string = randomId(12)): SymmetricEncryptionKey {
  const raw = randomBytes(32);
  return { kid, key: createSecretKey(raw), jwk: { kty: 'oct', k: raw.toString('base64url'), kid, alg, use: 'enc' } };
}
