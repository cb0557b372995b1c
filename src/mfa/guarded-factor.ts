/**
 * Puts a factor behind the brute-force limits: `verify` and `confirm` are refused while
 * the account's second-factor counter or the client address is delayed or locked, and
 * each wrong, expired or replayed code counts as a failure (identity/lockout.ts). Only
 * a right code (or an admin unlock) clears the account's second-factor failures.
 */
import { PortcullisError } from '../core/errors.js';
import type { AttemptSubject, Lockout } from '../identity/lockout.js';
import type { ChallengeOutput, EnrollInput, EnrollOutput, Factor, FactorSubject } from './factor.js';

/**
 * @example
 * const totp = guardFactor(new TotpFactor(deps, { issuer: 'Example' }), lockout);
 * await totp.verify({ userId, ip }, code);
 */
export function guardFactor(factor: Factor, lockout: Lockout): Factor {
  // Counted apart from the password: a right password does not clear a factor's failures.
  const who = (s: FactorSubject): AttemptSubject => ({ account: s.userId, ip: s.ip, step: 'factor' });
  return {
    id: factor.id,
    amr: factor.amr,
    enroll: (input: EnrollInput): Promise<EnrollOutput> => factor.enroll(input),
    confirm: (s: FactorSubject, code: string) => lockout.guard(who(s), () => factor.confirm(s, code)),
    challenge: async (s: FactorSubject): Promise<ChallengeOutput> => {
      await lockout.check(who(s));
      return factor.challenge(s);
    },
    verify: (s: FactorSubject, code: string) => lockout.guard(who(s), () => factor.verify(s, code)),
    isEnrolled: (userId: string) => factor.isEnrolled(userId),
    remove: (userId: string) => factor.remove(userId),
  };
}

/** Looks a factor up by id; throws `mfa.unknown-factor`. */
export function factorById(factors: readonly Factor[], id: string): Factor {
  const f = factors.find((x) => x.id === id);
  if (!f) throw new PortcullisError('mfa.unknown-factor', `no second factor named ${JSON.stringify(id.slice(0, 40))}`);
  return f;
}
