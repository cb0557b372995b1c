/**
 * The master key: 32 random bytes in a file of its own (mode 0600), never in the
 * database. It only wraps data keys (see envelope.ts).
 */
import { createHmac, randomBytes } from 'node:crypto';
import { existsSync, readFileSync, statSync } from 'node:fs';
import { fsErrorText, PortcullisError } from '../core/errors.js';
import { createFileOnceSync } from '../core/files.js';

export const MASTER_KEY_BYTES = 32;

/**
 * Creates the master key file (mode 0600) when it does not exist, whole or not at all
 * (a failed write leaves no empty key file behind); never overwrites. Returns true when created.
 */
export function createMasterKeyFile(path: string): boolean {
  if (existsSync(path)) return false;
  try {
    return createFileOnceSync(path, randomBytes(MASTER_KEY_BYTES).toString('base64') + '\n', 0o600);
  } catch (e) {
    throw new PortcullisError('crypto.master-key', `master key file ${path} cannot be written: ${fsErrorText(e)}`, { cause: e });
  }
}

/** Reads and checks the master key file (32 bytes base64, not readable by group or others). */
export function readMasterKeyFile(path: string): Buffer {
  if (!existsSync(path)) throw new PortcullisError('crypto.master-key', `master key file ${path} does not exist`);
  const st = statSync(path);
  if (!st.isFile()) throw new PortcullisError('crypto.master-key', `master key file ${path} is not a regular file`);
  if (process.platform !== 'win32' && (st.mode & 0o077) !== 0) {
    throw new PortcullisError('crypto.master-key', `master key file ${path} is readable by group or others (mode ${(st.mode & 0o777).toString(8)}); chmod 600 it`);
  }
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (e) {
    throw new PortcullisError('crypto.master-key', `master key file ${path} cannot be read: ${fsErrorText(e)}`, { cause: e });
  }
  const key = Buffer.from(text.trim(), 'base64');
  if (key.length !== MASTER_KEY_BYTES) throw new PortcullisError('crypto.master-key', `master key file ${path} does not hold ${MASTER_KEY_BYTES} base64-encoded bytes`);
  return key;
}

/**
 * The identifier of a master key, for the audit trail and the operator: the first 16
 * base64url characters of HMAC-SHA-256 under the key of a fixed label. It names the key
 * and reveals nothing of it.
 *
 * @example
 * masterKeyId(readMasterKeyFile(file)); // 'q3Vb0xZ8Jm1TfR2a'
 */
export function masterKeyId(key: Buffer): string {
  return createHmac('sha256', key).update('portcullis master key id').digest('base64url').slice(0, 16);
}
