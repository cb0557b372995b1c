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
    ...(factor.remaining ? { remaining: (userId: string) => factor.remaining!(userId) } : {}),
  };
}

/** What the one-time-code factors are called to a user. */
const CODE_FACTORS: Record<string, string> = { email: 'codes by e-mail', sms: 'codes by text message' };

/**
 * For a code factor (`email`, `sms`) that `factors` does not hold — no
 * `identity.otp.sender`, or the other `identity.otp.channel` — the `mfa.factor-unavailable`
 * to answer with, as the sign-in answers a user enrolled in one; else undefined.
 *
 * @example
 * if (!f) throw unavailableCodeFactor(id) ?? new PortcullisError('mfa.unknown-factor', 'no such second factor');
 */
export function unavailableCodeFactor(id: string | undefined): PortcullisError | undefined {
  const codes = id !== undefined && Object.hasOwn(CODE_FACTORS, id) ? CODE_FACTORS[id] : undefined;
  return codes === undefined ? undefined : new PortcullisError('mfa.factor-unavailable', `${codes} are not available on this service: choose another second factor`, { expose: true });
}

/** Looks a factor up by id; throws `mfa.factor-unavailable` for a code factor not offered (unavailableCodeFactor), else `mfa.unknown-factor`. */
export function factorById(factors: readonly Factor[], id: string): Factor {
  const f = factors.find((x) => x.id === id);
  if (f) return f;
  throw unavailableCodeFactor(id) ?? new PortcullisError('mfa.unknown-factor', `no second factor named ${JSON.stringify(id.slice(0, 40))}`);
}
