/**
 * The RSA public keys an app may register (signing keys for RFC 9421, JWKS for
 * private_key_jwt): at least 2048 bits, and an odd public exponent of at least 3. With
 * e = 1 a "signature" is the padded message itself, so anyone could sign as the app; an
 * even exponent is no RSA key at all. The certificate path check (pki/verify-chain.ts)
 * applies the same rule to chains.
 */
import type { KeyObject } from 'node:crypto';

export const MIN_RSA_BITS = 2048;

/** Why the RSA public key `key` is refused, or undefined when it is strong enough. */
export function rsaKeyWeakness(key: KeyObject): string | undefined {
  const d = key.asymmetricKeyDetails ?? {};
  const bits = d.modulusLength ?? 0;
  if (bits < MIN_RSA_BITS) return `RSA keys must have at least ${MIN_RSA_BITS} bits (this one has ${bits})`;
  const e = d.publicExponent ?? 0n;
  if (e < 3n || e % 2n === 0n) return 'the RSA public exponent must be odd and at least 3';
  return undefined;
}
