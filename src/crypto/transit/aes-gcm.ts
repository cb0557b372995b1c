/**
 * The AES-256-GCM primitive of transit (NIST SP 800-38D): 256-bit key as a KeyObject,
 * 96-bit IV, 128-bit tag, optional associated data. Output and input are `ct || tag`.
 */
import { createCipheriv, createDecipheriv, type KeyObject } from 'node:crypto';
import { PortcullisError } from '../../core/errors.js';

export const GCM_IV_BYTES = 12;
export const GCM_TAG_BYTES = 16;

/**
 * Encrypts `plaintext` under `key` with `iv`; returns ciphertext followed by the 16-byte tag
 * (with `ivPrefix`, `iv || ciphertext || tag` in one buffer, the transit wire layout).
 */
export function gcmSeal(key: KeyObject, iv: Uint8Array, plaintext: Uint8Array, aad?: Uint8Array, ivPrefix = false): Buffer {
  const c = createCipheriv('aes-256-gcm', key, iv);
  if (aad !== undefined && aad.byteLength > 0) c.setAAD(aad);
  const head = c.update(plaintext);
  c.final();
  return ivPrefix ? Buffer.concat([iv, head, c.getAuthTag()]) : Buffer.concat([head, c.getAuthTag()]);
}

/** Decrypts `ct || tag`; throws `transit.decrypt-failed` when the tag does not verify. */
export function gcmOpen(key: KeyObject, iv: Uint8Array, sealed: Uint8Array, aad?: Uint8Array): Buffer {
  if (iv.byteLength !== GCM_IV_BYTES || sealed.byteLength < GCM_TAG_BYTES) {
    throw new PortcullisError('transit.malformed-ciphertext', 'the ciphertext is too short');
  }
  const end = sealed.byteLength - GCM_TAG_BYTES;
  const d = createDecipheriv('aes-256-gcm', key, iv, { authTagLength: GCM_TAG_BYTES });
  d.setAuthTag(sealed.subarray(end));
  if (aad !== undefined && aad.byteLength > 0) d.setAAD(aad);
  const head = d.update(sealed.subarray(0, end));
  try {
    d.final();
  } catch {
    throw new PortcullisError('transit.decrypt-failed', 'the ciphertext did not decrypt (changed, or another context)');
  }
  return head;
}
