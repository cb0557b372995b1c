/**
 * The RSA keys an app may register (signing keys for RFC 9421, JWKS for
 * private_key_jwt, RSA-OAEP encryption keys) and JWE may use: 2048 to 16384 bits, and an
 * odd public exponent of at least 3. OpenSSL refuses to verify or encrypt with a modulus
 * over 16384 bits (OPENSSL_RSA_MAX_MODULUS_BITS), so a larger key imports but can never
 * verify a signature or receive a ciphertext, and costs memory and time on every use. With e = 1 a "signature" is the padded message
 * itself, so anyone could sign as the app, and a "ciphertext" is the padded plaintext,
 * readable by anyone; an even exponent is no RSA key at all. The certificate path check
 * (pki/verify-chain.ts) applies the same rule to chains; CSRs (pki/csr.ts) ask for 65537.
 */
import { KeyObject, type webcrypto } from 'node:crypto';

export const MIN_RSA_BITS = 2048;
/** OPENSSL_RSA_MAX_MODULUS_BITS: the largest modulus OpenSSL verifies or encrypts with. */
export const MAX_RSA_BITS = 16384;

/**
 * Why the RSA key `key` (public or private; a KeyObject or a WebCrypto CryptoKey) is
 * refused (too short, too long, or a bad exponent), or undefined when it is usable.
 */
export function rsaKeyWeakness(key: KeyObject | webcrypto.CryptoKey): string | undefined {
  const d = (key instanceof KeyObject ? key : KeyObject.from(key)).asymmetricKeyDetails ?? {};
  const bits = d.modulusLength ?? 0;
  if (bits < MIN_RSA_BITS) return `RSA keys must have at least ${MIN_RSA_BITS} bits (this one has ${bits})`;
  if (bits > MAX_RSA_BITS) return `RSA keys must have at most ${MAX_RSA_BITS} bits (this one has ${bits})`;
  const e = d.publicExponent ?? 0n;
  if (e < 3n || e % 2n === 0n) return 'the RSA public exponent must be odd and at least 3';
  return undefined;
}
