/** Random identifiers and secrets. */
import { randomBytes, randomUUID } from 'node:crypto';

/** A URL-safe random string of `bytes` bytes of entropy. */
export function randomId(bytes = 16): string {
  return randomBytes(bytes).toString('base64url');
}

export function uuid(): string {
  return randomUUID();
}
