/** The read side of the key ring that verifiers (the gateway, introspection) use. */
import type { KeyObject } from 'node:crypto';

export interface VerificationKey {
  kid: string;
  /** JWS alg the key signs with (ES256, EdDSA, RS256). */
  alg: string;
  /** Public key, imported once. */
  key: KeyObject;
}

export interface VerificationKeys {
  /** A published (next, active or retired-but-unexpired) signing key by kid. */
  getVerificationKey(kid: string): VerificationKey | undefined;
}
