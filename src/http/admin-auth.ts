/**
 * The admin credential: a random bearer token created at `init` in its own file
 * (mode 0600). Requests to the admin plane present it as `Authorization: Bearer …`;
 * it is compared in constant time against its SHA-256, never logged.
 */
import { hash, randomBytes, timingSafeEqual } from 'node:crypto';
import { existsSync, readFileSync, statSync } from 'node:fs';
import { fsErrorText, PortcullisError } from '../core/errors.js';
import { createFileOnceSync } from '../core/files.js';

const B64TOKEN = /^[A-Za-z0-9\-._~+/]+=*$/;

/** Creates the admin token file (mode 0600) when it does not exist, whole or not at all; never overwrites. Returns true when created. */
export function createAdminTokenFile(path: string): boolean {
  if (existsSync(path)) return false;
  try {
    return createFileOnceSync(path, `pca_${randomBytes(32).toString('base64url')}\n`, 0o600);
  } catch (e) {
    throw new PortcullisError('config.invalid', `admin token file ${path} cannot be written: ${fsErrorText(e)}`, { cause: e });
  }
}

export function readAdminToken(path: string): string {
  if (!existsSync(path)) throw new PortcullisError('config.not-found', `admin token file ${path} does not exist (run \`portcullis init\`)`);
  const st = statSync(path);
  if (!st.isFile()) throw new PortcullisError('config.invalid', `admin token file ${path} is not a regular file`);
  // the same rule as the master key: a secret others can read is refused (fail closed)
  if (process.platform !== 'win32' && (st.mode & 0o077) !== 0) {
    throw new PortcullisError('config.invalid', `admin token file ${path} is readable by group or others (mode ${(st.mode & 0o777).toString(8)}); chmod 600 it`);
  }
  let t: string;
  try {
    t = readFileSync(path, 'utf8').trim();
  } catch (e) {
    throw new PortcullisError('config.invalid', `admin token file ${path} cannot be read: ${fsErrorText(e)}`);
  }
  if (t.length < 32) throw new PortcullisError('config.invalid', `admin token file ${path} does not hold a token`);
  // RFC 6750 §2.1: b64token = 1*( ALPHA / DIGIT / "-" / "." / "_" / "~" / "+" / "/" ) *"="
  if (!B64TOKEN.test(t)) throw new PortcullisError('config.invalid', `admin token file ${path} does not hold a bearer token (letters, digits and - . _ ~ + / only, then =)`);
  return t;
}

/** Returns a checker that accepts exactly the admin token, in constant time. */
export function adminTokenChecker(token: string): (authorization: string | undefined) => boolean {
  const expected = hash('sha256', token, 'buffer');
  return (authorization) => {
    if (!authorization) return false;
    const m = /^Bearer +(\S+) *$/i.exec(authorization);
    if (!m) return false;
    return timingSafeEqual(hash('sha256', m[1]!, 'buffer'), expected);
  };
}
