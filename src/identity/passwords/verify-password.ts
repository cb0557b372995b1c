/**
 * Password sign-in step: brute-force limits, verification against the stored hash, and
 * the upgrade of an outdated hash to the preferred hasher once the password is known
 * to be right.
 */
import { PortcullisError } from '../../core/errors.js';
import type { Lockout } from '../lockout.js';
import type { PasswordHashers } from './hasher.js';
import type { PasswordStore } from './store.js';

export interface VerifyPasswordDeps {
  hashers: PasswordHashers;
  store: PasswordStore;
  lockout: Lockout;
}

export interface VerifyPasswordInput {
  /** The user, or undefined when the login name matched no user (still costs one hash). */
  userId: string | undefined;
  /** What failures are counted against: the user id, or the normalised login name for unknown users. */
  account: string;
  ip?: string;
  password: string;
}

export interface VerifyPasswordResult {
  /** True when the stored hash was replaced by a preferred-hasher hash. */
  rehashed: boolean;
}

/**
 * Throws `auth.invalid-credentials` (unknown user and wrong password alike),
 * `auth.throttled` or `auth.locked`.
 *
 * @example
 * await verifyPassword({ hashers, store, lockout }, { userId: user?.id, account: user?.id ?? login, ip, password });
 */
export async function verifyPassword(deps: VerifyPasswordDeps, input: VerifyPasswordInput): Promise<VerifyPasswordResult> {
  return deps.lockout.guard({ account: input.account, ip: input.ip }, async () => {
    const stored = input.userId === undefined ? undefined : await deps.store.getPasswordHash(input.userId);
    const check = await deps.hashers.verify(stored, input.password);
    if (!check.ok) throw new PortcullisError('auth.invalid-credentials', 'invalid user name or password');
    if (check.rehash !== undefined && stored !== undefined && input.userId !== undefined) {
      return { rehashed: await deps.store.replacePasswordHash(input.userId, stored, check.rehash) };
    }
    return { rehashed: false };
  });
}
