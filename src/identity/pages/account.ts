/**
 * The account pages of a signed-in user (the oidc-provider session of this browser):
 * their sign-in sessions, each with an "end" button, "end every session", their
 * second factors and passkeys, each with "remove", enrolment of an authenticator app
 * or e-mail/SMS codes, "add a passkey" (a user registers several), and new recovery
 * codes. Every POST checks the anti-CSRF token of the browser session. A change of
 * second factors needs a recent sign-in (NIST SP 800-63B §7.2, OWASP re-authentication
 * for sensitive operations): the session's last sign-in (oidc-provider's `loginTs`, with
 * its `acr`) is at most `identity.account.reauthenticateAfter` old and, to remove a
 * factor, renew recovery codes or add a factor to an account that has one, used a second
 * factor. A stolen or unattended session can then neither strip MFA nor plant a factor
 * of its own; it is refused `account.reauthentication-required` and offered to sign in
 * again (`OidcService.accountSignInUrl`, a fixed way back to this page). The same changes
 * also need the current password, typed in the same form when the account has one
 * (account-password.ts, through the sign-in's limits): a session cookie alone, however
 * recent, plants or strips no factor. The password itself is changed with the current one,
 * which ends every session of the user, this one too. Ending sessions needs neither: it
 * only takes access away. The invite page, where a user added without a password chooses
 * one, is invite-pages.ts.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { storedOrTell, type DurableAuditSink } from '../../audit/sink.js';
import type { Clock } from '../../core/clock.js';
import { PortcullisError } from '../../core/errors.js';
import type { Factor } from '../../mfa/factor.js';
import { unavailableCodeFactor } from '../../mfa/guarded-factor.js';
import { RECOVERY_CODE_COUNT } from '../../mfa/recovery-codes.js';
import type { EnrollmentStore } from '../../mfa/store.js';
import { factorInventory, hasSecondFactor, type FactorInventory } from '../factor-inventory.js';
import type { Lockout } from '../lockout.js';
import type { PasswordHashers } from '../passwords/hasher.js';
import type { PasswordStore } from '../passwords/store.js';
import { storageId } from '../oidc/adapter.js';
import { ACR_MFA, escapeHtml, sessionHandle, type OidcService } from '../oidc/provider.js';
import type { IdentityStore, UserRecord } from '../store.js';
import type { UserService } from '../users.js';
import { changePassword, CURRENT_PASSWORD, hasPassword, isPasswordRefusal, passwordInput, passwordSection, proveCurrentPassword, refusalText } from './account-password.js';
import type { CsrfTokens } from './csrf.js';
import { field, form, page, refusal, type Page } from './html.js';
import { renewRecoveryCodes } from './recovery-codes.js';
import type { WebAuthnCeremonies } from './webauthn.js';

export interface AccountDeps {
  oidc: OidcService;
  users: UserService;
  identity: IdentityStore;
  factors: readonly Factor[];
  /** Every enrolment of a user, whatever the configured factors (a confirmed one always counts). */
  enrollments: Pick<EnrollmentStore, 'listEnrollments'>;
  /** The current password a sensitive change asks for is checked as at sign-in. */
  passwords: PasswordStore;
  hashers: PasswordHashers;
  lockout: Lockout;
  csrf: CsrfTokens;
  webauthn: WebAuthnCeremonies;
  /** Refusals are recorded in the background; a change waits for its event to be stored. */
  audit: DurableAuditSink;
  clock: Clock;
  /** How recent (ms) the session's last sign-in must be for a change of second factors (`identity.account.reauthenticateAfter`). */
  reauthenticateAfterMs: number;
}

/** What an account POST answers: a page, or JSON for the WebAuthn script. */
export type AccountOutcome = Page | { json: unknown; status?: number; retryAfter?: string };

export const ACCOUNT_PATH = '/account';

const FACTOR_LABEL: Record<string, string> = { totp: 'Authenticator app (TOTP)', email: 'Codes by e-mail', sms: 'Codes by text message', 'recovery-code': 'Recovery codes' };

interface BrowserSession {
  id: string;
  user: UserRecord;
  /** The acr of the session's last sign-in. */
  acr: string | undefined;
  /** When the session's last sign-in finished (epoch ms; oidc-provider's `loginTs`). */
  signedInAt: number | undefined;
}

/** What a change of second factors lacks: a sign-in recent enough, or one that used the second factor. */
type ReauthenticationNeed = 'recent-sign-in' | 'second-factor';

function spoken(ms: number): string {
  const min = Math.round(ms / 60_000);
  if (min >= 60 && min % 60 === 0) return min === 60 ? '1 hour' : `${min / 60} hours`;
  return min === 1 ? '1 minute' : `${min} minutes`;
}

function when(ms: number | null): string {
  return ms ? new Date(ms).toISOString().replace('T', ' ').slice(0, 16) + ' UTC' : '-';
}

export class AccountPages {
  constructor(private readonly d: AccountDeps) {}

  /** The signed-in user of this browser; throws `user.not-signed-in`. */
  private async session(req: IncomingMessage, res: ServerResponse): Promise<BrowserSession> {
    const provider = this.d.oidc.provider as unknown as { Session: { get(ctx: unknown): Promise<{ accountId?: string; jti?: string; acr?: string; loginTs?: number }> } };
    const s = await provider.Session.get({ req, res });
    const user = s.accountId ? await this.d.identity.getUser(s.accountId) : undefined;
    if (!s.accountId || !s.jti || !user || user.status !== 'active') throw new PortcullisError('user.not-signed-in', 'you are not signed in in this browser');
    // The key the session is stored and listed under (never the cookie's value itself).
    return { id: storageId('Session', s.jti), user, acr: s.acr, signedInAt: typeof s.loginTs === 'number' ? s.loginTs * 1000 : undefined };
  }

  private csrfKey(s: BrowserSession): string {
    return `account:${s.id}`;
  }

  /** GET /account */
  async show(req: IncomingMessage, res: ServerResponse, notice?: string): Promise<Page> {
    const s = await this.session(req, res);
    return this.render(s, notice);
  }

  /** A factor to set up that this deployment does not have: e-mail or SMS codes without a sender are mfa.factor-unavailable (503), anything else 404. */
  private noSuchFactor(s: BrowserSession, id: string | undefined): Promise<Page> {
    const e = unavailableCodeFactor(id);
    if (e) return this.render(s, undefined, `${e.message[0]!.toUpperCase()}${e.message.slice(1)}.`, e.status, e.code);
    return this.render(s, undefined, 'No such second factor.', 404);
  }

  private async render(s: BrowserSession, notice?: string, error?: string, status?: number, errorCode?: string): Promise<Page> {
    const csrf = await this.d.csrf.tokenFor(this.csrfKey(s));
    const hasFactor = await this.hasFactor(s.user.id);
    const need = this.reauthenticationNeed(s, hasFactor);
    const userId = s.user.id;
    // the current password in every form that changes the factors (when the account has one)
    const withPassword = await hasPassword(this.d, userId);
    let fields = 0;
    const pw = (): string => (withPassword ? passwordInput(`current-password-${++fields}`, CURRENT_PASSWORD, 'Your current password', 'current-password') : '');
    const sessions = await this.d.oidc.listSessions(userId);
    const rows = sessions
      .map((x) => {
        const apps = x.clients.map((c) => escapeHtml(this.d.oidc.appName(c))).join(', ') || '-';
        const current = x.id === s.id ? ' <strong>(this browser)</strong>' : '';
        const end = form(`${ACCOUNT_PATH}/sessions/end`, csrf, `<input type="hidden" name="session" value="${escapeHtml(x.handle)}"><button type="submit">End${x.id === s.id ? ' (sign out here)' : ''}</button>`);
        return `<tr><td>${when(x.createdAt)}${current}</td><td>${apps}</td><td>${escapeHtml(x.amr.join(' ') || '-')}</td><td>${end}</td></tr>`;
      })
      .join('');
    let factorRows = '';
    for (const f of this.d.factors) {
      if (!(await f.isEnrolled(userId))) continue;
      // how many recovery codes are left, so a spent one (perhaps not by the user) is seen
      const left = f.remaining ? ` <span id="recovery-codes-left">${await f.remaining(userId)} of ${RECOVERY_CODE_COUNT} recovery codes left</span>` : '';
      factorRows += `<tr><td>${escapeHtml(FACTOR_LABEL[f.id] ?? f.id)}${left}</td><td>${form(`${ACCOUNT_PATH}/factors/remove`, csrf, `<input type="hidden" name="factor" value="${escapeHtml(f.id)}">${pw()}<button type="submit">Remove</button>`)}</td></tr>`;
    }
    let addRows = '';
    for (const f of this.d.factors) {
      if (f.id === 'recovery-code' || (await f.isEnrolled(userId))) continue;
      const address = f.id === 'email' ? field(`address-${f.id}`, 'E-mail address', 'email', 'name="address" required') : f.id === 'sms' ? field(`address-${f.id}`, 'Phone number (international form, +15551234567)', 'tel', 'name="address" autocomplete="tel" required') : '';
      addRows += `<h3>${escapeHtml(FACTOR_LABEL[f.id] ?? f.id)}</h3>${form(`${ACCOUNT_PATH}/factors/enroll`, csrf, `<input type="hidden" name="factor" value="${escapeHtml(f.id)}">${address.replace(/name="address-[a-z]+" /, '')}${pw()}<p><button type="submit">Set up</button></p>`)}`;
    }
    // a fallback for a second factor, passkeys among them; with none they would let nobody in
    if (hasFactor) addRows += `<h3>Recovery codes</h3>${form(`${ACCOUNT_PATH}/factors/recovery-codes`, csrf, `${pw()}<p><button type="submit">Generate new recovery codes (the old ones stop working)</button></p>`)}`;
    for (const k of await this.d.identity.listWebAuthnCredentials(userId)) {
      factorRows += `<tr><td>Passkey or security key: ${escapeHtml(k.name)} (added ${when(k.createdAt)})${k.suspendedAt !== null ? ` — suspended ${when(k.suspendedAt)}: its counter went back, so it may have been copied; remove it and add a new one` : ''}</td><td>${form(`${ACCOUNT_PATH}/factors/remove`, csrf, `<input type="hidden" name="factor" value="webauthn:${escapeHtml(k.id)}">${pw()}<button type="submit">Remove</button>`)}</td></tr>`;
    }
    const body =
      (notice ? `<p role="status" id="notice">${escapeHtml(notice)}</p>` : '') +
      `<p>Signed in as <strong id="account-email">${escapeHtml(s.user.email)}</strong>.</p>` +
      `<section><h2>Sessions</h2><table id="sessions"><thead><tr><th scope="col">Signed in</th><th scope="col">Apps</th><th scope="col">Methods</th><th scope="col"></th></tr></thead><tbody>${rows}</tbody></table>` +
      form(`${ACCOUNT_PATH}/sessions/end-all`, csrf, '<button type="submit">End every session (all devices and apps)</button>') +
      `</section>${passwordSection(`${ACCOUNT_PATH}/password/change`, csrf, withPassword)}<section><h2>Second factors</h2>${need ? this.signInAgain(need) : ''}${factorRows ? `<table id="factors"><tbody>${factorRows}</tbody></table>` : '<p id="factors">No second factor is set up.</p>'}` +
      addRows +
      `<h3>Add a passkey or security key</h3>${field('passkey-name', 'Name for this key', 'text', 'value="My passkey" maxlength="64"')}${withPassword ? passwordInput('passkey-password', CURRENT_PASSWORD, 'Your current password', 'current-password') : ''}<p><button type="button" hidden data-mode="register" data-csrf="${escapeHtml(csrf)}" data-options="${ACCOUNT_PATH}/webauthn/register-options" data-verify="${ACCOUNT_PATH}/webauthn/register">Add a passkey</button></p><p id="webauthn-status" role="status"></p></section>`;
    return page('Your account', body, { script: true, ...(error ? { error } : {}), ...(errorCode ? { errorCode } : {}), ...(status ? { status } : {}) });
  }

  /** POST /account/:action; `ip`: the client address, counted by the limits of the current password and of a new factor's confirmation code. */
  async post(req: IncomingMessage, res: ServerResponse, action: string, body: Record<string, string>, ip?: string): Promise<AccountOutcome> {
    const s = await this.session(req, res);
    await this.d.csrf.check(this.csrfKey(s), body['csrf']);
    const userId = s.user.id;
    const actor = `user:${userId}`;
    switch (action) {
      case 'sessions/end': {
        const handle = String(body['session'] ?? '');
        const current = handle === sessionHandle(s.id);
        if (!(await this.d.oidc.endSessionByHandle(userId, handle))) return this.render(s, undefined, 'No such session.', 404);
        this.d.audit.record({ time: this.d.clock.now(), type: 'user.session-ended', actor, data: { userId } });
        await this.stored();
        if (current) return page('Signed out', '<p id="notice">This session has ended: you are signed out in this browser.</p>');
        return this.render(s, 'The session has ended.');
      }
      case 'sessions/end-all':
        await this.d.users.endAllSessions(userId, actor);
        await this.stored();
        return page('Signed out', '<p id="notice">Every session has ended: you are signed out everywhere, and every token issued to you has stopped working.</p>');
      case 'password/change': {
        try {
          await changePassword(this.d, userId, { current: body[CURRENT_PASSWORD], next: String(body['new-password'] ?? ''), confirm: String(body['confirm-password'] ?? '') }, ip);
        } catch (e) {
          if (!isPasswordRefusal(e)) throw e;
          this.d.audit.record({ time: this.d.clock.now(), type: 'user.password-change-refused', actor, reason: e.code, data: { userId, ip: ip ?? null } });
          return refusal(await this.render(s, undefined, refusalText(e), e.status, e.code), e);
        }
        await this.stored();
        return page('Password changed', '<p id="notice" role="status">Your password was changed. Every session has ended, in this browser too: sign in again with your new password.</p>');
      }
      case 'factors/remove': {
        const need = this.reauthenticationNeed(s, true);
        if (need) return this.reauthenticate(s, action, need);
        const denied = await this.passwordDenied(s, action, body, ip);
        if (denied) return denied;
        const which = String(body['factor'] ?? '');
        const passkey = which.startsWith('webauthn:');
        const f = passkey ? undefined : this.d.factors.find((x) => x.id === which);
        if (!passkey && (!f || !(await f.isEnrolled(userId)))) return this.render(s, undefined, 'No such second factor.', 404);
        if (f?.id === 'recovery-code') await f.remove(userId);
        else {
          // MFA required: the last usable factor stays, judged in the store's step that removes
          // it, so two removals at once cannot each remove "the other one".
          const keepOneOf = s.user.mfaRequired || this.d.oidc.mfaForEveryone ? this.d.factors.filter((x) => x.id !== 'recovery-code').map((x) => x.id) : undefined;
          const removal = await this.d.identity.removeSecondFactor(userId, passkey ? { passkey: which.slice('webauthn:'.length) } : { enrollment: which }, keepOneOf);
          if (removal === 'last') {
            const e = new PortcullisError('mfa.last-factor', 'MFA is required for your account: add another second factor before removing this one');
            return this.refused(s, action, () => this.render(s, undefined, `${e.message}.`, e.status, e.code), e.code);
          }
          if (removal === 'absent') return this.render(s, undefined, passkey ? 'No such key.' : 'No such second factor.', 404);
          // what else the factor keeps (an e-mail or SMS factor's pending codes); its enrolment is gone
          if (f) await f.remove(userId);
        }
        // Recovery codes stand in for a second factor: with none left they would let nobody in
        // (the sign-in asks for no second step), and would come back to life unseen with the next one.
        const rc = this.d.factors.find((x) => x.id === 'recovery-code');
        const codesVoided = rc !== undefined && which !== rc.id && !(await this.hasFactor(userId)) && (await rc.isEnrolled(userId));
        if (codesVoided) await rc.remove(userId);
        this.d.audit.record({ time: this.d.clock.now(), type: 'user.factor-removed', actor, data: { userId, factor: which.startsWith('webauthn:') ? 'webauthn' : which, ...(codesVoided ? { recoveryCodesRemoved: true } : {}) } });
        await this.stored();
        return this.render(s, 'The second factor was removed.');
      }
      case 'factors/enroll': {
        const need = this.reauthenticationNeed(s, await this.hasFactor(userId));
        if (need) return this.reauthenticate(s, action, need);
        const f = this.d.factors.find((x) => x.id === body['factor'] && x.id !== 'recovery-code');
        if (!f) return this.noSuchFactor(s, body['factor']);
        // the confirmation needs no password: only who started the enrolment holds its seed or code
        const denied = await this.passwordDenied(s, action, body, ip);
        if (denied) return denied;
        let out;
        try {
          out = await f.enroll({ userId, address: f.id === 'totp' ? s.user.email : String(body['address'] ?? '') });
        } catch (e) {
          if (!(e instanceof PortcullisError) || !e.expose) throw e;
          return refusal(await this.render(s, undefined, e.message, e.status, e.code), e);
        }
        return this.confirmPage(s, f.id, out);
      }
      case 'factors/confirm': {
        const need = this.reauthenticationNeed(s, await this.hasFactor(userId));
        if (need) return this.reauthenticate(s, action, need);
        const f = this.d.factors.find((x) => x.id === body['factor'] && x.id !== 'recovery-code');
        if (!f) return this.noSuchFactor(s, body['factor']);
        try {
          await f.confirm({ userId, ...(ip ? { ip } : {}) }, String(body['code'] ?? '').trim());
        } catch (e) {
          if (!(e instanceof PortcullisError) || !e.expose) throw e;
          return refusal(await this.render(s, undefined, e.message, e.status, e.code), e);
        }
        this.d.audit.record({ time: this.d.clock.now(), type: 'user.factor-added', actor, data: { userId, factor: f.id } });
        await this.stored();
        const rc = this.d.factors.find((x) => x.id === 'recovery-code');
        if (rc && !(await rc.isEnrolled(userId))) return this.recoveryCodesPage(s, rc, actor);
        return this.render(s, 'The second factor is set up.');
      }
      case 'factors/recovery-codes': {
        // New codes are a way in: only after a recent sign-in with the second factor.
        const need = this.reauthenticationNeed(s, true);
        if (need) return this.reauthenticate(s, action, need);
        const denied = await this.passwordDenied(s, action, body, ip);
        if (denied) return denied;
        const rc = this.d.factors.find((x) => x.id === 'recovery-code');
        if (!rc) return this.render(s, undefined, 'No such second factor.', 404);
        return this.recoveryCodesPage(s, rc, actor);
      }
      case 'webauthn/register-options': {
        const need = this.reauthenticationNeed(s, await this.hasFactor(userId));
        if (need) return this.reauthenticate(s, action, need, true);
        // the finish needs no password: it answers the challenge issued here, to this browser only
        const denied = await this.passwordDenied(s, action, body, ip, true);
        if (denied) return denied;
        return { json: await this.d.webauthn.registrationOptions(this.webauthnSlot(s), s.user) };
      }
      case 'webauthn/register': {
        const need = this.reauthenticationNeed(s, await this.hasFactor(userId));
        if (need) return this.reauthenticate(s, action, need, true);
        const r = await this.d.webauthn.verifyRegistration(this.webauthnSlot(s), userId, body['response'] ?? '', body['name'] ?? '');
        this.d.audit.record({ time: this.d.clock.now(), type: 'user.factor-added', actor, data: { userId, factor: 'webauthn', credential: r.id } });
        await this.stored();
        return { json: { redirect: ACCOUNT_PATH } };
      }
      default:
        throw new PortcullisError('not-found', 'no such account action');
    }
  }

  private async confirmPage(s: BrowserSession, factorId: string, out: { qrSvg?: string; secretBase32?: string; otpauthUri?: string; sentTo?: string }): Promise<Page> {
    const csrf = await this.d.csrf.tokenFor(this.csrfKey(s));
    const confirm = form(`${ACCOUNT_PATH}/factors/confirm`, csrf, `<input type="hidden" name="factor" value="${escapeHtml(factorId)}">${field('code', 'Code', 'text', 'inputmode="numeric" autocomplete="one-time-code" required')}<p><button type="submit">Confirm</button></p>`);
    if (factorId === 'totp') {
      return page(
        'Set up an authenticator app',
        `<p>Scan this code with your authenticator app, or enter the key by hand, then type the code it shows.</p><figure role="img" aria-label="QR code of the key">${out.qrSvg ?? ''}</figure>` +
          `<p>Key: <code id="totp-secret">${escapeHtml(out.secretBase32 ?? '')}</code></p><p><a id="otpauth-uri" href="${escapeHtml(out.otpauthUri ?? '')}">Open in an authenticator app</a></p>${confirm}`,
      );
    }
    return page(factorId === 'sms' ? 'Confirm your phone number' : 'Confirm your address', `<p>A code was sent to ${escapeHtml(out.sentTo ?? '')}.</p>${confirm}`);
  }

  /** A new set of recovery codes, audited first (renewRecoveryCodes): a 503 leaves the codes the user holds valid. */
  private async recoveryCodesPage(s: BrowserSession, rc: Factor, actor: string): Promise<Page> {
    const codes = await renewRecoveryCodes(this.d, rc, s.user.id, { actor, unrecorded: 'Your recovery codes were not renewed, as this could not be recorded: the codes you have still work. Try again later.' });
    return page(
      'Save your recovery codes',
      `<p>Each code signs you in once if you lose your second factor. They are shown only now; any earlier codes no longer work.</p><ul id="recovery-codes">${codes.map((c) => `<li><code>${escapeHtml(c)}</code></li>`).join('')}</ul><p><a href="${ACCOUNT_PATH}">Back to your account</a></p>`,
    );
  }

  /**
   * A change of the account is acknowledged only once its audit event is stored, as the
   * admin API's are: else 503 `audit.unavailable`, the change made all the same.
   */
  private stored(): Promise<void> {
    return storedOrTell(this.d.audit, 'Your change was made but could not be recorded yet; do not repeat it, and reload this page later.');
  }

  private webauthnSlot(s: BrowserSession): string {
    return `account:${s.id}`;
  }

  /**
   * Audits a refused change of the account's second factors (the last factor of a user who
   * must have one), then answers.
   */
  private async refused(s: BrowserSession, action: string, answer: () => Promise<AccountOutcome>, reason: string): Promise<AccountOutcome> {
    this.d.audit.record({ time: this.d.clock.now(), type: 'user.factor-change-refused', actor: `user:${s.user.id}`, reason, data: { userId: s.user.id, action } });
    return answer();
  }

  /**
   * What this session lacks for a change of second factors, if anything (NIST SP 800-63B
   * §7.2): a last sign-in within `reauthenticateAfter` (one of unknown time counts as old),
   * and, when `secondFactor`, one that used a second factor (its acr is the MFA acr: a
   * sign-in of a user who has a factor always asks for it, or was a user-verifying passkey).
   * A session's acr and time are those of its last sign-in, which a new one replaces.
   */
  private reauthenticationNeed(s: BrowserSession, secondFactor: boolean): ReauthenticationNeed | undefined {
    if (secondFactor && s.acr !== ACR_MFA) return 'second-factor';
    if (s.signedInAt === undefined || this.d.clock.now() - s.signedInAt > this.d.reauthenticateAfterMs) return 'recent-sign-in';
    return undefined;
  }

  /**
   * Refuses a change for which the session must sign in again (`account.reauthentication-required`),
   * audited as `user.factor-change-refused` with what it lacked; the page (or the JSON for the
   * passkey script) offers the sign-in that comes back here.
   */
  private reauthenticate(s: BrowserSession, action: string, need: ReauthenticationNeed, json = false): Promise<AccountOutcome> {
    const age = s.signedInAt === undefined ? null : Math.max(0, Math.floor((this.d.clock.now() - s.signedInAt) / 1000));
    const e = new PortcullisError(
      'account.reauthentication-required',
      need === 'second-factor'
        ? 'sign in again with your second factor to make this change'
        : `sign in again to make this change: your last sign-in in this browser was more than ${spoken(this.d.reauthenticateAfterMs)} ago`,
    );
    this.d.audit.record({ time: this.d.clock.now(), type: 'user.factor-change-refused', actor: `user:${s.user.id}`, reason: e.code, data: { userId: s.user.id, action, need, signedInSecondsAgo: age } });
    if (json) return Promise.resolve({ json: { error: e.message, code: e.code, signInAgain: this.d.oidc.accountSignInUrl }, status: e.status });
    return this.render(s, undefined, `${e.message[0]!.toUpperCase()}${e.message.slice(1)}.`, e.status, e.code);
  }

  /**
   * Refuses a change of the factors whose form lacks the right current password (when the
   * account has one): `account.password-required`, or the sign-in's `auth.invalid-credentials`
   * (a failed attempt of the account), `auth.throttled`, `auth.locked`; audited as
   * `user.factor-change-refused`, never with what was typed. Undefined when the change may go on.
   */
  private async passwordDenied(s: BrowserSession, action: string, body: Record<string, string>, ip: string | undefined, json = false): Promise<AccountOutcome | undefined> {
    if (!(await hasPassword(this.d, s.user.id))) return undefined;
    try {
      await proveCurrentPassword(this.d, s.user.id, body[CURRENT_PASSWORD], ip);
      return undefined;
    } catch (e) {
      if (!isPasswordRefusal(e)) throw e;
      this.d.audit.record({ time: this.d.clock.now(), type: 'user.factor-change-refused', actor: `user:${s.user.id}`, reason: e.code, data: { userId: s.user.id, action, ip: ip ?? null } });
      if (json) return refusal({ json: { error: refusalText(e), code: e.code }, status: e.status }, e);
      return refusal(await this.render(s, undefined, refusalText(e), e.status, e.code), e);
    }
  }

  /** The offer to sign in again, back to this page. */
  private signInAgain(need: ReauthenticationNeed): string {
    const why = need === 'second-factor' ? 'needs a sign-in with your second factor' : `needs a sign-in within the last ${spoken(this.d.reauthenticateAfterMs)}`;
    return `<p id="reauthenticate">Changing your second factors ${why}. <a id="sign-in-again" href="${escapeHtml(this.d.oidc.accountSignInUrl)}">Sign in again</a></p>`;
  }

  /**
   * The second factors the user can sign in with, as the remove form names them (`totp`,
   * `webauthn:<id>`, …): recovery codes are a fallback, not one, and a confirmed enrolment
   * of a factor the deployment no longer offers cannot be used (sign-in refuses with
   * mfa.factor-unavailable), so neither keeps an account with required MFA usable.
   */
  private inventory(userId: string): Promise<FactorInventory> {
    return factorInventory({ factors: this.d.factors, passkeys: this.d.identity, enrollments: this.d.enrollments }, userId);
  }

  /**
   * Whether a sign-in of the user asks for a second factor (`hasSecondFactor`, as the
   * sign-in pages judge it): then adding a factor needs a sign-in that used one (an account
   * without any gains protection from its first). A confirmed factor the deployment no
   * longer offers counts; recovery codes alone do not, as no sign-in asks for them, so a
   * sign-in "with the second factor" could never be had.
   */
  private async hasFactor(userId: string): Promise<boolean> {
    return hasSecondFactor(await this.inventory(userId));
  }
}
