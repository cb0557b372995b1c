/**
 * PBKDF2-HMAC-SHA256 (RFC 8018 §5.2) via node:crypto's async `pbkdf2` (thread pool).
 * Kept to verify hashes imported from older systems and upgrade them to Argon2id at
 * the next sign-in; it is never the preferred hasher. Format (PHC-style):
 * `$pbkdf2-sha256$i=<iterations>$<salt b64>$<dk b64>`.
 */
import { pbkdf2, randomBytes, timingSafeEqual } from 'node:crypto';
import { promisify } from 'node:util';
import type { PasswordHasher } from './hasher.js';

const derive = promisify(pbkdf2);
const FORMAT = /^\$pbkdf2-sha256\$i=(\d{1,9})\$([A-Za-z0-9+/]+={0,2})\$([A-Za-z0-9+/]+={0,2})$/;

export class Pbkdf2Hasher implements PasswordHasher {
  readonly id = 'pbkdf2-sha256';

  /** 600,000 iterations: OWASP's figure for PBKDF2-HMAC-SHA256. */
  constructor(private readonly iterations = 600_000) {}

  understands(stored: string): boolean {
    return FORMAT.test(stored);
  }

  async hash(password: string): Promise<string> {
    const salt = randomBytes(16);
    const dk = await derive(password, salt, this.iterations, 32, 'sha256');
    return `$pbkdf2-sha256$i=${this.iterations}$${salt.toString('base64')}$${dk.toString('base64')}`;
  }

  async verify(stored: string, password: string): Promise<boolean> {
    const m = FORMAT.exec(stored);
    if (!m) return false;
    const iterations = Number(m[1]);
    const salt = Buffer.from(m[2]!, 'base64');
    const expected = Buffer.from(m[3]!, 'base64');
    if (iterations < 1 || expected.length < 16) return false;
    const dk = await derive(password, salt, iterations, expected.length, 'sha256');
    return timingSafeEqual(dk, expected);
  }

  needsRehash(stored: string): boolean {
    const m = FORMAT.exec(stored);
    return !m || Number(m[1]) < this.iterations;
  }
}
