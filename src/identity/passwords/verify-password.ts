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
  /**
   * The account may not sign in (disabled). Its password is checked all the same, and the
   * attempt fails `auth.invalid-credentials` whether the password is right or wrong, at the
   * same cost: counted as a failure, no rehash. `matchedInactiveAccount` tells the two apart
   * for the audit trail.
   */
  inactive?: boolean;
}

export interface VerifyPasswordResult {
  /** True when the stored hash was replaced by a preferred-hasher hash. */
  rehashed: boolean;
  /**
   * The stored hash the password was proven against (its preferred-hasher replacement when
   * `rehashed`): a change of the password writes only over this one (compare-and-set).
   */
  verifiedHash: string;
}

/** The refusals of an inactive account's right password: known here only, never in the error's fields. */
const MATCHED_INACTIVE = new WeakSet<PortcullisError>();

/**
 * Whether `e` refused the right password of an inactive account (`inactive`), for the
 * operator's audit event only: the error itself is the one a wrong password gets.
 *
 * @example
 * audit.record({ …, data: { userId, ...(matchedInactiveAccount(e) ? { inactive: true } : {}) } });
 */
export function matchedInactiveAccount(e: unknown): boolean {
  return e instanceof PortcullisError && MATCHED_INACTIVE.has(e);
}

const invalid = (): PortcullisError => new PortcullisError('auth.invalid-credentials', 'invalid user name or password');

/**
 * Throws `auth.invalid-credentials` (unknown user, wrong password, and any password of an
 * `inactive` account alike), `auth.throttled` or `auth.locked`.
 *
 * @example
 * await verifyPassword({ hashers, store, lockout }, { userId: user?.id, account: user?.id ?? login, ip, password });
 */
export async function verifyPassword(deps: VerifyPasswordDeps, input: VerifyPasswordInput): Promise<VerifyPasswordResult> {
  return deps.lockout.guard({ account: input.account, ip: input.ip }, async () => {
    const stored = input.userId === undefined ? undefined : await deps.store.getPasswordHash(input.userId);
    const check = await deps.hashers.verify(stored, input.password);
    if (!check.ok) throw invalid();
    if (input.inactive === true) {
      const e = invalid();
      MATCHED_INACTIVE.add(e);
      throw e;
    }
    // a verified check had a stored hash to verify against
    if (stored === undefined) throw invalid();
    if (check.rehash !== undefined && input.userId !== undefined && (await deps.store.replacePasswordHash(input.userId, stored, check.rehash))) {
      return { rehashed: true, verifiedHash: check.rehash };
    }
    return { rehashed: false, verifiedHash: stored };
  });
}
