/**
 * Argon2id (RFC 9106) through `@node-rs/argon2`, run on the process's hashing threads
 * (argon2id-workers.ts: bounded, below the event loop in priority). Parameters come from
 * `identity.passwords.argon2id`; the defaults are OWASP's minimum, m=19 MiB, t=2, p=1
 * (the schema refuses less). Hashes are PHC strings:
 * `$argon2id$v=19$m=19456,t=2,p=1$<salt>$<hash>`.
 */
import { Algorithm } from '@node-rs/argon2';
import { PortcullisError } from '../../core/errors.js';
import { sharedArgon2idPool, type Argon2idPool } from './argon2id-workers.js';
import type { PasswordHasher } from './hasher.js';

export interface Argon2idParams {
  /** KiB of memory (default 19456 = 19 MiB). */
  memoryCost: number;
  /** Passes (default 2). */
  timeCost: number;
  /** Lanes (default 1). */
  parallelism: number;
}

export const OWASP_ARGON2ID: Argon2idParams = Object.freeze({ memoryCost: 19456, timeCost: 2, parallelism: 1 });

const PHC = /^\$argon2(id|i|d)\$v=(\d+)\$m=(\d+),t=(\d+),p=(\d+)\$[A-Za-z0-9+/]+\$[A-Za-z0-9+/]+$/;

export class Argon2idHasher implements PasswordHasher {
  readonly id = 'argon2id';
  private readonly params: Argon2idParams;

  constructor(
    params: Partial<Argon2idParams> = {},
    private readonly pool: Argon2idPool = sharedArgon2idPool(),
  ) {
    this.params = { ...OWASP_ARGON2ID, ...params };
  }

  understands(stored: string): boolean {
    return PHC.test(stored);
  }

  hash(password: string): Promise<string> {
    return this.pool.hash(password, { algorithm: Algorithm.Argon2id, ...this.params });
  }

  async verify(stored: string, password: string): Promise<boolean> {
    if (!this.understands(stored)) return false;
    try {
      return await this.pool.verify(stored, password);
    } catch (e) {
      // A full or closed pool is not a wrong password (it must not count as a failure).
      if (e instanceof PortcullisError) throw e;
      return false;
    }
  }

  /** True for argon2i/argon2d hashes, older versions, or any parameter below today's. */
  needsRehash(stored: string): boolean {
    const m = PHC.exec(stored);
    if (!m) return true;
    const [, variant, version, mem, time, par] = m;
    return (
      variant !== 'id' ||
      Number(version) !== 19 ||
      Number(mem) < this.params.memoryCost ||
      Number(time) < this.params.timeCost ||
      Number(par) !== this.params.parallelism
    );
  }
}
