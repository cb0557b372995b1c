/**
 * Encryption of factor secrets at rest (TOTP seeds). The composition root adapts the
 * master-key envelope (AES-256-GCM data keys) to this shape; `aad` binds a ciphertext
 * to its owner and use (`totp:<userId>`), so a sealed seed copied onto another user
 * does not open.
 */
export interface SecretBox {
  seal(plain: Uint8Array, aad: string): Promise<string>;
  /** Throws (`crypto.decrypt-failed`) when the ciphertext or the aad was tampered with. */
  open(sealed: string, aad: string): Promise<Uint8Array>;
}
