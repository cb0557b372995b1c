/**
 * Rules for choosing a password, after NIST SP 800-63B §3.1.1.2 (rev. 4: §5.1.1.2):
 * at least 8 characters, at least 64 allowed, no composition rules (no "one digit, one
 * symbol"), every Unicode character and spaces allowed, length counted in code points
 * after NFKC normalisation, and rejection of passwords that are common or breached,
 * repetitive or sequential, or made of context words (user name, service name).
 */
import { PortcullisError } from '../../core/errors.js';
import type { PasswordBlocklist } from './common-passwords.js';
import { normalizePassword } from './hasher.js';

export interface PasswordPolicy {
  /** Minimum length in code points (NIST: at least 8). */
  minLength: number;
  /** Maximum length in code points (NIST: verifiers SHOULD allow at least 64). */
  maxLength: number;
}

export const DEFAULT_PASSWORD_POLICY: PasswordPolicy = Object.freeze({ minLength: 8, maxLength: 256 });

export interface PasswordContext {
  /** Words that must not make up the password: the user name, e-mail, the service name. */
  contextWords?: string[];
}

/** Length in Unicode code points (an emoji counts once, not twice as in UTF-16). */
export function codePointLength(s: string): number {
  return Array.from(s).length;
}

function isRepetitiveOrSequential(p: string): boolean {
  const cps = Array.from(p, (c) => c.codePointAt(0)!);
  if (cps.length < 2) return false;
  const step = cps[1]! - cps[0]!;
  // "aaaaaaaa", "12345678", "abcdefgh", "87654321"
  if (Math.abs(step) <= 1 && cps.every((c, i) => i === 0 || c - cps[i - 1]! === step)) return true;
  // a unit of up to 3 characters repeated: "abcabcabc", "12121212"
  for (let unit = 1; unit <= 3 && unit * 2 <= cps.length; unit++) {
    if (cps.every((c, i) => c === cps[i % unit])) return true;
  }
  return false;
}

function isContextBased(folded: string, words: string[]): boolean {
  const letters = folded.replace(/[^\p{L}\p{N}]/gu, '');
  for (const raw of words) {
    const w = raw.normalize('NFKC').toLowerCase();
    const candidates = [w, w.split('@')[0] ?? w].filter((x) => codePointLength(x) >= 4);
    for (const c of candidates) {
      const cl = c.replace(/[^\p{L}\p{N}]/gu, '');
      if (cl.length === 0) continue;
      // The password is the word itself, or the word plus a few characters ("alice2024!").
      if ((folded.includes(c) || letters.includes(cl)) && codePointLength(folded) - codePointLength(c) < 6) return true;
    }
  }
  return false;
}

/**
 * Checks a new password and returns it NFKC-normalised; throws `password.too-short`,
 * `password.too-long` or `password.common`. Never put the password in a message.
 *
 * @example
 * const list = await loadCommonPasswords();
 * checkNewPassword('correct horse battery staple', list, { contextWords: ['alice'] });
 */
export function checkNewPassword(
  password: string,
  blocklist: PasswordBlocklist,
  context: PasswordContext = {},
  policy: PasswordPolicy = DEFAULT_PASSWORD_POLICY,
): string {
  const normalized = normalizePassword(password);
  const length = codePointLength(normalized);
  // NIST: "Verifiers SHALL require subscriber-chosen memorized secrets to be at least 8 characters in length."
  if (length < Math.max(8, policy.minLength)) {
    throw new PortcullisError('password.too-short', `the password must be at least ${Math.max(8, policy.minLength)} characters long`, {
      details: { minLength: Math.max(8, policy.minLength) },
    });
  }
  // NIST: "Verifiers SHOULD permit subscriber-chosen memorized secrets at least 64 characters in length."
  const max = Math.max(64, policy.maxLength);
  if (length > max) {
    throw new PortcullisError('password.too-long', `the password must be at most ${max} characters long`, { details: { maxLength: max } });
  }
  const folded = normalized.toLowerCase();
  if (blocklist.has(normalized)) {
    throw new PortcullisError('password.common', 'this password is on the list of commonly used or breached passwords', { details: { reason: 'common' } });
  }
  if (isRepetitiveOrSequential(folded)) {
    throw new PortcullisError('password.common', 'the password is made of repeated or sequential characters', { details: { reason: 'repetitive' } });
  }
  if (context.contextWords && isContextBased(folded, context.contextWords)) {
    throw new PortcullisError('password.common', 'the password is too close to the user name or the service name', { details: { reason: 'context' } });
  }
  return normalized;
}
