/**
 * A SecretBox over the master-key envelope: authenticated encryption of secrets at
 * rest (CA private keys, TOTP seeds) with AES-256-GCM data keys wrapped by the master
 * key. The `aad` string binds a ciphertext to its owner and use (`pki.ca-key:<id>`),
 * so a sealed value copied onto another row does not open. Structurally the same
 * interface as `mfa/secret-box.ts` and `pki/signer.ts` declare.
 */
import type { Envelope } from './envelope.js';

export interface SecretBox {
  seal(plain: Uint8Array, aad: string): Promise<string>;
  /** Throws `crypto.decrypt-failed` when the ciphertext or the aad was tampered with. */
  open(sealed: string, aad: string): Promise<Uint8Array>;
}

/**
 * @example const kind = fileSignerKind(envelopeSecretBox(services.envelope));
 */
export function envelopeSecretBox(envelope: Envelope): SecretBox {
  return {
    async seal(plain, aad) {
      return envelope.encrypt(Buffer.from(plain.buffer, plain.byteOffset, plain.byteLength), aad);
    },
    async open(sealed, aad) {
      const b = await envelope.decrypt(sealed, aad);
      return new Uint8Array(b.buffer, b.byteOffset, b.byteLength);
    },
  };
}
