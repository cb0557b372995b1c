/**
 * The password on the account page: its change (NIST SP 800-63B §5.1.1.2, OWASP ASVS V2.1:
 * the current password, then a new one that passes the policy), and the current password
 * asked for by every other sensitive change of the account (ASVS V3.7.1: re-authentication
 * before a sensitive change), so that a stolen session cookie alone can neither change the
 * password nor plant or strip a second factor. The current password takes the sign-in's
 * path (`verifyPassword`): the same hashers and timing-safe verification, the account's
 * brute-force limits, and a wrong one is a failed sign-in attempt of the account.
 */
import { PortcullisError } from '../../core/errors.js';
import { escapeHtml } from '../oidc/provider.js';
import { form } from './html.js';
import type { Lockout } from '../lockout.js';
import { normalizePassword, type PasswordHashers } from '../passwords/hasher.js';
import type { PasswordStore } from '../passwords/store.js';
import { verifyPassword } from '../passwords/verify-password.js';
import type { UserService } from '../users.js';

export interface AccountPasswordDeps {
  hashers: PasswordHashers;
  passwords: PasswordStore;
  lockout: Lockout;
  users: Pick<UserService, 'checkPassword' | 'changePassword'>;
}

/** The form field that carries the current password. */
export const CURRENT_PASSWORD = 'current-password';

/** The refusals a form with the current password answers on the page (anything else is not the user's mistake). */
export function isPasswordRefusal(e: unknown): e is PortcullisError {
  return e instanceof PortcullisError && (e.code.startsWith('password.') || e.code === 'account.password-required' || e.code === 'auth.invalid-credentials' || e.code === 'auth.throttled' || e.code === 'auth.locked');
}

/** The page's words for a refusal. */
export function refusalText(e: PortcullisError): string {
  if (e.code === 'auth.invalid-credentials') return 'Your current password is wrong.';
  return `${e.message[0]!.toUpperCase()}${e.message.slice(1)}.`;
}

/** A password input with its label; `id` unique in the page. */
export function passwordInput(id: string, name: string, label: string, autocomplete: 'current-password' | 'new-password'): string {
  const min = autocomplete === 'new-password' ? ' minlength="8"' : '';
  return `<p><label for="${escapeHtml(id)}">${escapeHtml(label)}</label><br><input id="${escapeHtml(id)}" name="${escapeHtml(name)}" type="password" autocomplete="${autocomplete}"${min} required></p>`;
}

/** The account page's section that changes the password (posted to `action`); none for an account without one (an invite sets it). */
export function passwordSection(action: string, csrf: string, withPassword: boolean): string {
  if (!withPassword) return '<section><h2>Password</h2><p id="password">Your account has no password.</p></section>';
  return (
    '<section><h2>Password</h2><p>Changing your password ends every session, in this browser too: you then sign in again with the new one.</p>' +
    form(
      action,
      csrf,
      passwordInput('password-current', CURRENT_PASSWORD, 'Current password', 'current-password') +
        passwordInput('password-new', 'new-password', 'New password (at least 8 characters; a phrase of several unrelated words works well)', 'new-password') +
        passwordInput('password-confirm', 'confirm-password', 'New password again', 'new-password') +
        '<p><button type="submit">Change password</button></p>',
    ) +
    '</section>'
  );
}

/** Whether the user has a password: then every sensitive change of the account asks for it. */
export async function hasPassword(d: Pick<AccountPasswordDeps, 'passwords'>, userId: string): Promise<boolean> {
  return (await d.passwords.getPasswordHash(userId)) !== undefined;
}

/**
 * Proves the current password typed in a form, as a sign-in does, and returns the stored
 * hash it was proven against. Throws `account.password-required` when none was typed (not
 * counted), `auth.invalid-credentials` (counted against the account and the address),
 * `auth.throttled` or `auth.locked`.
 *
 * @example
 * await proveCurrentPassword(deps, user.id, body['current-password'], ip);
 */
export async function proveCurrentPassword(d: AccountPasswordDeps, userId: string, typed: string | undefined, ip: string | undefined): Promise<string> {
  if (typed === undefined || typed === '') throw new PortcullisError('account.password-required', 'type your current password to make this change', { expose: true });
  return (await verifyPassword({ hashers: d.hashers, store: d.passwords, lockout: d.lockout }, { userId, account: userId, ...(ip ? { ip } : {}), password: typed })).verifiedHash;
}

/**
 * Changes the user's password from the account page: the confirmation must match and the
 * new one pass the policy (cheap checks, no attempt counted), then the current one is proven
 * (an account without a password has none to prove and is refused: it sets one from an
 * invite), and only then is a new one equal to it refused (`password.unchanged`, which would
 * otherwise confirm a guess without the limits). The new one is written only over the hash
 * the current one was proven against (`UserService.changePassword`): of two changes sent
 * together, or one racing a reset, the later is `password.changed-meanwhile`. The change
 * ends every session of the user, this one too, and records `user.password-set` (a webhook event).
 *
 * @example
 * await changePassword(deps, user.id, { current, next, confirm }, ip);
 */
export async function changePassword(d: AccountPasswordDeps, userId: string, input: { current: string | undefined; next: string; confirm: string }, ip: string | undefined): Promise<void> {
  if (input.next !== input.confirm) throw new PortcullisError('password.mismatch', 'the new password and its confirmation differ', { expose: true });
  await d.users.checkPassword(userId, input.next);
  const verifiedHash = await proveCurrentPassword(d, userId, input.current, ip);
  if (normalizePassword(input.next) === normalizePassword(input.current ?? '')) throw new PortcullisError('password.unchanged', 'the new password is your current one: choose another', { expose: true });
  await d.users.changePassword(userId, input.next, verifiedHash, `user:${userId}`);
}
