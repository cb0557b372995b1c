/**
 * Random 96-bit AES-GCM IVs (NIST SP 800-38D §8.2.2) drawn from a CSPRNG pool refilled
 * every 1024 IVs: one system call per 1024 encryptions instead of one each. Each IV is a
 * copy of its own slice, so none is handed out twice.
 */
import { randomFillSync } from 'node:crypto';

const IV_BYTES = 12;
const pool = Buffer.allocUnsafe(IV_BYTES * 1024);
let offset = pool.length;

/** A fresh random 96-bit IV. @example createCipheriv('aes-256-gcm', key, randomGcmIv()) */
export function randomGcmIv(): Buffer {
  if (offset === pool.length) {
    randomFillSync(pool);
    offset = 0;
  }
  const iv = Buffer.from(pool.subarray(offset, offset + IV_BYTES));
  offset += IV_BYTES;
  return iv;
}
