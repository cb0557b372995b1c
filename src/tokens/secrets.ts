/**
 * Client secrets: 256 random bits, shown once. Only a verifier is stored: the
 * SHA-256 of the secret (enough for a full-entropy secret, where no guessing
 * attack applies), compared in constant time.
 */
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';

export function generateClientSecret(): string {
  return randomBytes(32).toString('base64url');
}

export function secretVerifier(secret: string): string {
  return `sha256$${createHash('sha256').update(secret, 'utf8').digest('base64url')}`;
}

/** Constant-time check of a presented secret against a stored verifier. */
export function verifySecret(presented: string, verifier: string | null): boolean {
  if (!verifier || !verifier.startsWith('sha256$')) return false;
  const expected = Buffer.from(verifier.slice(7), 'base64url');
  const actual = createHash('sha256').update(presented, 'utf8').digest();
  return expected.length === actual.length && timingSafeEqual(expected, actual);
}
