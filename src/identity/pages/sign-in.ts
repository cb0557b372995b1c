/**
 * The sign-in interaction pages behind oidc-provider's `login` and `consent` prompts:
 * password, second factor (TOTP, e-mail/SMS code, recovery code, security key), MFA
 * enrolment for a user who must have a factor and has none, passwordless passkeys,
 * and consent. Every POST checks the interaction's anti-CSRF token. A wrong password
 * and an unknown user get the same answer after the same work (one password hash),
 * and every attempt goes through the brute-force limits (identity/lockout.ts). The step
 * that proves the user binds the sign-in to that browser (signin-browser.ts): every later
 * step, and the resume of the authorization request, needs its cookie. oidc-provider finds
 * the interaction by its `_interaction` cookie, not by the URL: a page or step whose URL
 * names another interaction than the cookie is refused (`auth.interaction-mismatch`).
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { InteractionDetails } from 'oidc-provider';
import { storedOrTell, type DurableAuditSink } from '../../audit/sink.js';
import type { Clock } from '../../core/clock.js';
import type { EphemeralStore } from '../../core/ephemeral.js';
import { PortcullisError } from '../../core/errors.js';
import type { Factor } from '../../mfa/factor.js';
import { unavailableCodeFactor } from '../../mfa/guarded-factor.js';
import type { EnrollmentStore } from '../../mfa/store.js';
import { factorInventory, hasSecondFactor, usablePasskeys, type FactorInventory } from '../factor-inventory.js';
import type { Lockout } from '../lockout.js';
import type { PasswordHashers } from '../passwords/hasher.js';
import type { PasswordStore } from '../passwords/store.js';
import { matchedInactiveAccount, verifyPassword } from '../passwords/verify-password.js';
import { ACR_MFA, escapeHtml, type OidcService } from '../oidc/provider.js';
import type { IdentityStore, UserRecord } from '../store.js';
import { normalizeEmail } from '../users.js';
import type { CsrfTokens } from './csrf.js';
import { field, form, page, refusal, type Page } from './html.js';
import { renewRecoveryCodes } from './recovery-codes.js';
import { bindBrowser, holdsBinding, type BrowserBinding } from './signin-browser.js';
import type { WebAuthnCeremonies } from './webauthn.js';

export interface SignInDeps {
  oidc: OidcService;
  identity: IdentityStore;
  passwords: PasswordStore;
  hashers: PasswordHashers;
  lockout: Lockout;
  /** Guarded factors (guardFactor), by id: `totp`, `email`, `sms`, `recovery-code`. */
  factors: readonly Factor[];
  /** Every enrolment of a user, whatever the configured factors (a confirmed one always counts). */
  enrollments: Pick<EnrollmentStore, 'listEnrollments'>;
  webauthn: WebAuthnCeremonies;
  ephemeral: EphemeralStore;
  csrf: CsrfTokens;
  audit: DurableAuditSink;
  clock: Clock;
}

interface SignInState {
  userId: string;
  /**
   * When the password step began (epoch ms): a sign-in begun before the user's sessions
   * were ended (`tokensRevokedBefore`) cannot finish. Absent in a state written before.
   */
  at?: number;
  amr: string[];
  stage: 'mfa' | 'enroll' | 'recovery';
  /** Whether a second factor was verified (or enrolled and confirmed) in this interaction: the only source of the MFA acr. */
  mfa?: boolean;
  /** The browser that passed the password step (signin-browser.ts). Absent in a state written before: refused, as any other browser. */
  browser?: BrowserBinding;
}

/** Steps that need no binding: the ones that bind (login, a passkey alone) and consent's, which oidc-provider ties to its session. */
const UNBOUND_STEPS: ReadonlySet<string> = new Set(['login', 'consent', 'abort', 'passkey/options', 'passkey/verify']);

/** What a handler answers: a page, JSON (WebAuthn), or nothing (oidc-provider already redirected). */
export type Outcome = { page: Page } | { json: unknown; status?: number; retryAfter?: string } | { done: true };

const STATE_TTL_MS = 10 * 60_000;
const FACTOR_LABEL: Record<string, string> = { totp: 'Authenticator app (TOTP)', email: 'Code by e-mail', sms: 'Code by text message', 'recovery-code': 'Recovery code' };

function messageOf(e: unknown): string {
  if (!(e instanceof PortcullisError)) throw e;
  switch (e.code) {
    case 'auth.invalid-credentials':
      return 'The e-mail address or password is wrong.';
    case 'auth.throttled':
    case 'auth.locked': {
      const s = Math.ceil(Number(e.details?.['retryAfterMs'] ?? 0) / 1000);
      // Not a failed attempt but the resend interval of texted or e-mailed codes.
      if (e.details?.['subject'] === undefined) return `${e.message[0]!.toUpperCase()}${e.message.slice(1)} (${s} s).`;
      return e.code === 'auth.locked' ? `Too many failed attempts: locked, try again in ${s} s or ask an administrator.` : `Too many failed attempts: wait ${s} s before trying again.`;
    }
    case 'mfa.factor-unavailable':
    case 'mfa.unknown-factor':
      return `${e.message[0]!.toUpperCase()}${e.message.slice(1)}.`;
    case 'mfa.delivery-failed':
      // the error names the provider (host, URL) for the operator's log, not for the user
      return 'The code could not be sent. Try again in a moment, or use another way to sign in.';
    default:
      if (e.expose) return e.message;
      throw e;
  }
}

/**
 * Says which of the user's keys were suspended (a suspected clone), so the user knows why
 * they are not offered; shown only after the password step, so it tells no one else.
 */
function suspendedNotice(inv: FactorInventory): string {
  const names = inv.passkeys.filter((k) => k.suspendedAt !== null).map((k) => `“${escapeHtml(k.name)}”`);
  if (names.length === 0) return '';
  const which = names.length === 1 ? `Your security key ${names[0]} was` : `Your security keys ${names.join(', ')} were`;
  return `<p id="webauthn-suspended" role="status">${which} suspended: its signature counter went back, so it may have been copied, and it can no longer be used to sign in. Use another way below, then remove it on your account page and register a new key.</p>`;
}

export class SignInPages {
  constructor(private readonly d: SignInDeps) {}

  private stateKey(uid: string): string {
    return `signin:${uid}`;
  }
  private async state(uid: string): Promise<SignInState | undefined> {
    const s = await this.d.ephemeral.get(this.stateKey(uid));
    return s ? (JSON.parse(s) as SignInState) : undefined;
  }
  private async setState(uid: string, s: SignInState): Promise<void> {
    await this.d.ephemeral.set(this.stateKey(uid), JSON.stringify(s), STATE_TTL_MS);
  }

  /** Whether cookies get `__Host-` and `Secure` (an https issuer). */
  private get secure(): boolean {
    return this.d.oidc.provider.issuer.startsWith('https:');
  }

  /**
   * Throws `auth.signin-other-browser` (audited as `signin.other-browser`) unless the
   * request comes from the browser that passed this sign-in's password step.
   */
  private sameBrowser(req: IncomingMessage, st: SignInState, step: string, ip?: string): void {
    if (holdsBinding(req, st.browser, this.secure)) return;
    this.refuseOtherBrowser(st.userId, step, ip);
  }

  private refuseOtherBrowser(userId: string, step: string, ip: string | undefined): never {
    const e = new PortcullisError('auth.signin-other-browser', 'this sign-in was continued in a browser other than the one it was signed in with: start again from the app', { expose: true });
    this.d.audit.record({ time: this.d.clock.now(), type: 'signin.other-browser', actor: `user:${userId}`, reason: e.code, data: { step, ip: ip ?? null } });
    throw e;
  }

  /**
   * Called before oidc-provider resumes an authorization request (`GET /oauth2/authorize/:uid`):
   * a sign-in finished in one browser does not resume in another that holds the request's
   * resume cookie (the one that started it), else throws `auth.signin-other-browser`. The
   * interaction is the one oidc-provider will resume: named by that cookie, not by the path.
   * A result whose account already is the interaction's session's (the consent step after a
   * sign-in) is tied to that session's browser by oidc-provider itself.
   */
  async resumeAllowed(req: IncomingMessage, res: ServerResponse, ip?: string): Promise<void> {
    const provider = this.d.oidc.provider;
    const id: unknown = provider.createContext(req, res).cookies.get(provider.cookieName('resume'), { signed: true });
    if (typeof id !== 'string' || !id) return;
    const interaction = (await provider.Interaction.find(id)) as { session?: { accountId?: string }; result?: { login?: { accountId?: string }; browser?: BrowserBinding } } | undefined;
    const login = interaction?.result?.login;
    if (!login || (login.accountId !== undefined && interaction?.session?.accountId === login.accountId)) return;
    if (holdsBinding(req, interaction?.result?.browser, this.secure)) return;
    this.refuseOtherBrowser(String(login.accountId), 'resume', ip);
  }

  /**
   * The interaction oidc-provider reads from the browser's `_interaction` cookie, which must
   * be the one the URL names (`urlUid`): else throws `auth.interaction-mismatch`, audited as
   * `signin.interaction-mismatch`, before anything acts on either interaction.
   */
  private async interaction(req: IncomingMessage, res: ServerResponse, urlUid: string, step: string, ip: string | undefined): Promise<InteractionDetails> {
    const details = await this.d.oidc.provider.interactionDetails(req, res);
    if (details.uid === urlUid) return details;
    const e = new PortcullisError('auth.interaction-mismatch', 'this page belongs to another sign-in than the one this browser is in: start again from the app', { expose: true });
    this.d.audit.record({ time: this.d.clock.now(), type: 'signin.interaction-mismatch', actor: 'anonymous', reason: e.code, data: { step, ip: ip ?? null } });
    throw e;
  }

  private base(uid: string): string {
    return `/interaction/${encodeURIComponent(uid)}`;
  }

  /** GET /interaction/:uid (`uid` from the URL) */
  async show(req: IncomingMessage, res: ServerResponse, uid: string, ip?: string): Promise<Outcome> {
    const details = await this.interaction(req, res, uid, 'show', ip);
    const csrf = await this.d.csrf.tokenFor(details.uid);
    if (details.prompt.name === 'consent') return { page: this.consentPage(details, csrf) };
    const st = await this.state(details.uid);
    if (st) this.sameBrowser(req, st, 'show');
    if (st?.stage === 'mfa') return { page: await this.mfaPage(details.uid, st, csrf) };
    if (st?.stage === 'enroll') return { page: this.enrollPage(details.uid, csrf) };
    return { page: this.loginPage(details.uid, csrf) };
  }

  loginPage(uid: string, csrf: string, error?: string, status?: number): Page {
    const b = this.base(uid);
    return page(
      'Sign in',
      form(`${b}/login`, csrf, `${field('email', 'E-mail address', 'email', 'autocomplete="username webauthn" required')}${field('password', 'Password', 'password', 'autocomplete="current-password" required')}<p><button type="submit">Sign in</button></p>`) +
        `<p><button type="button" hidden data-mode="authenticate" data-csrf="${escapeHtml(csrf)}" data-options="${b}/passkey/options" data-verify="${b}/passkey/verify">Sign in with a passkey</button></p><p id="webauthn-status" role="status"></p>`,
      { script: true, ...(error ? { error } : {}), ...(status ? { status } : {}) },
    );
  }

  private async mfaPage(uid: string, st: SignInState, csrf: string, error?: string, status?: number, known?: FactorInventory): Promise<Page> {
    const b = this.base(uid);
    const inv = known ?? (await this.inventory(st.userId));
    const factors = inv.enrolled;
    const keys = usablePasskeys(inv);
    let body = suspendedNotice(inv);
    for (const f of factors) {
      const send = f.id === 'email' || f.id === 'sms' ? form(`${b}/send-code`, csrf, `<input type="hidden" name="factor" value="${f.id}"><button type="submit">Send a code</button>`) : '';
      body += `<section><h2>${escapeHtml(FACTOR_LABEL[f.id] ?? f.id)}</h2>${send}${form(`${b}/mfa`, csrf, `<input type="hidden" name="factor" value="${f.id}">${field(`code-${f.id}`, 'Code', 'text', `name="code" inputmode="${f.id === 'recovery-code' ? 'text' : 'numeric'}" autocomplete="one-time-code" required`).replace(`name="code-${f.id}" `, '')}<p><button type="submit">Verify</button></p>`)}</section>`;
    }
    if (keys.length) body += `<section><h2>Security key or passkey</h2><p><button type="button" hidden data-mode="authenticate" data-csrf="${escapeHtml(csrf)}" data-options="${b}/webauthn/options" data-verify="${b}/webauthn/verify">Use a security key</button></p><p id="webauthn-status" role="status"></p></section>`;
    return page('Second step', body, { script: keys.length > 0, ...(error ? { error } : {}), ...(status ? { status } : {}) });
  }

  private enrollPage(uid: string, csrf: string, error?: string, status?: number, extra = ''): Page {
    const b = this.base(uid);
    return page(
      'Set up a second factor',
      `<p>Your account needs a second factor before you can continue.</p>${extra}` +
        `<section><h2>Authenticator app</h2>${form(`${b}/enroll`, csrf, '<input type="hidden" name="factor" value="totp"><button type="submit">Set up an authenticator app</button>')}</section>` +
        this.enrollCodeSection(b, csrf) +
        `<section><h2>Passkey or security key</h2>${field('passkey-name', 'Name for this key', 'text', 'value="My passkey"')}<p><button type="button" hidden data-mode="register" data-csrf="${escapeHtml(csrf)}" data-options="${b}/webauthn/register-options" data-verify="${b}/webauthn/register">Register a passkey</button></p><p id="webauthn-status" role="status"></p></section>`,
      { script: true, ...(error ? { error } : {}), ...(status ? { status } : {}) },
    );
  }

  /** The one-time-code factor the deployment has (`identity.otp.channel`): e-mail or text message. */
  private enrollCodeSection(b: string, csrf: string): string {
    const f = this.d.factors.find((x) => x.id === 'email' || x.id === 'sms');
    if (!f) return '';
    const address = f.id === 'sms' ? field('address', 'Phone number (international form, +15551234567)', 'tel', 'autocomplete="tel" required') : field('address', 'E-mail address', 'email', 'required');
    return `<section><h2>${escapeHtml(FACTOR_LABEL[f.id]!)}</h2>${form(`${b}/enroll`, csrf, `<input type="hidden" name="factor" value="${f.id}">${address}<button type="submit">Send a code</button>`)}</section>`;
  }

  private consentPage(details: InteractionDetails, csrf: string): Page {
    const b = this.base(details.uid);
    const scopes = String(details.params['scope'] ?? '').split(' ').filter(Boolean);
    const app = this.d.oidc.appName(String(details.params['client_id']));
    return page(
      'Allow access?',
      `<p>${escapeHtml(app)} asks for: ${scopes.map((s) => `<code>${escapeHtml(s)}</code>`).join(', ') || 'your identity'}.</p>` +
        form(`${b}/consent`, csrf, '<button type="submit">Allow</button>') +
        form(`${b}/abort`, csrf, '<button type="submit">Deny</button>'),
    );
  }

  /** POST /interaction/:uid/:action (`urlUid` from the URL) with a parsed form body. */
  async post(req: IncomingMessage, res: ServerResponse, urlUid: string, action: string, body: Record<string, string>, ip: string | undefined): Promise<Outcome> {
    const provider = this.d.oidc.provider;
    const details = await this.interaction(req, res, urlUid, action, ip);
    const uid = details.uid;
    // Every form and every WebAuthn call carries the interaction's CSRF token.
    await this.d.csrf.check(uid, body['csrf']);
    const csrf = await this.d.csrf.tokenFor(uid);
    const st = await this.state(uid);
    if (st && !UNBOUND_STEPS.has(action)) this.sameBrowser(req, st, action, ip);

    switch (action) {
      case 'login':
        return this.login(req, res, details, body, ip, csrf);
      case 'consent': {
        if (details.prompt.name !== 'consent') throw new PortcullisError('request.invalid', 'nothing to consent to');
        const grantId = await this.d.oidc.grantConsent(details);
        await provider.interactionFinished(req, res, { consent: { grantId } }, { mergeWithLastSubmission: true });
        return { done: true };
      }
      case 'abort':
        await provider.interactionFinished(req, res, { error: 'access_denied', error_description: 'the user denied the request' }, { mergeWithLastSubmission: false });
        return { done: true };
      case 'send-code': {
        if (st?.stage !== 'mfa') return { page: this.loginPage(uid, csrf, 'Sign in first.', 400) };
        let f: Factor | undefined;
        try {
          f = this.factor(body['factor']);
          const out = await f.challenge({ userId: st.userId, attempt: uid, ...(ip ? { ip } : {}) });
          return { page: await this.mfaPage(uid, st, csrf, out.sentTo ? `A code was sent to ${out.sentTo}.` : undefined) };
        } catch (e) {
          if (f) this.auditDeliveryFailure(e, st.userId, f.id, 'sign-in');
          return { page: refusal(await this.mfaPage(uid, st, csrf, messageOf(e), e instanceof PortcullisError ? e.status : 500), e) };
        }
      }
      case 'mfa': {
        if (st?.stage !== 'mfa') return { page: this.loginPage(uid, csrf, 'Sign in first.', 400) };
        let f: Factor;
        try {
          f = this.factor(body['factor']);
        } catch (e) {
          // a factor this deployment does not offer: no code was tried, so nothing is counted or audited as a failed one
          return { page: refusal(await this.mfaPage(uid, st, csrf, messageOf(e), e instanceof PortcullisError ? e.status : 500), e) };
        }
        try {
          await f.verify({ userId: st.userId, attempt: uid, ...(ip ? { ip } : {}) }, String(body['code'] ?? '').trim());
        } catch (e) {
          this.d.audit.record({ time: this.d.clock.now(), type: 'signin.mfa-failed', actor: `user:${st.userId}`, reason: e instanceof PortcullisError ? e.code : 'internal', data: { factor: f.id } });
          return { page: refusal(await this.mfaPage(uid, st, csrf, messageOf(e), e instanceof PortcullisError ? e.status : 500), e) };
        }
        if (f.id === 'recovery-code') await this.recoveryCodeUsed(st.userId, f);
        return this.finish(req, res, uid, st, [...st.amr, ...f.amr], true, f.id);
      }
      case 'enroll':
        return this.enroll(uid, st, body, ip, csrf);
      case 'enroll-confirm': {
        if (st?.stage !== 'enroll') return { page: this.loginPage(uid, csrf, 'Sign in first.', 400) };
        try {
          await this.stillWithoutFactor(st);
          const f = this.enrollable(body['factor']);
          await f.confirm({ userId: st.userId, ...(ip ? { ip } : {}) }, String(body['code'] ?? '').trim());
          await this.factorAdded(st.userId, { factor: f.id });
          return this.showRecoveryCodes(uid, { ...st, mfa: true }, csrf, [...st.amr, ...f.amr]);
        } catch (e) {
          return { page: refusal(this.enrollPage(uid, csrf, messageOf(e), e instanceof PortcullisError ? e.status : 500), e) };
        }
      }
      case 'continue':
        if (st?.stage !== 'recovery') return { page: this.loginPage(uid, csrf, 'Sign in first.', 400) };
        return this.finish(req, res, uid, st, st.amr, st.mfa === true);
      case 'passkey/options':
        return { json: await this.d.webauthn.authenticationOptions(uid, undefined) };
      case 'passkey/verify': {
        let r;
        try {
          r = await this.d.webauthn.verifyAuthentication(uid, undefined, body['response'] ?? '');
        } catch (e) {
          this.d.audit.record({ time: this.d.clock.now(), type: 'signin.failed', actor: 'anonymous', reason: e instanceof PortcullisError ? e.code : 'internal', data: { ip: ip ?? null, method: 'passkey' } });
          throw e;
        }
        if (!r.userVerified) return { json: { error: 'this passkey did not verify you (PIN or biometric)' }, status: 401 };
        // A user-verifying passkey is two factors in one (possession and PIN or biometric).
        return this.finishJson(req, res, { userId: r.userId, at: this.d.clock.now() }, [r.method, 'user'], true, 'passkey');
      }
      case 'webauthn/options':
        if (st?.stage !== 'mfa') return { json: { error: 'sign in first' }, status: 400 };
        return { json: await this.d.webauthn.authenticationOptions(uid, st.userId) };
      case 'webauthn/verify': {
        if (st?.stage !== 'mfa') return { json: { error: 'sign in first' }, status: 400 };
        let r;
        try {
          r = await this.d.webauthn.verifyAuthentication(uid, st.userId, body['response'] ?? '');
        } catch (e) {
          // A refused key (a cloned one: webauthn.counter-regressed) is a failed second step like a wrong code.
          this.d.audit.record({ time: this.d.clock.now(), type: 'signin.mfa-failed', actor: `user:${st.userId}`, reason: e instanceof PortcullisError ? e.code : 'internal', data: { factor: 'webauthn' } });
          throw e;
        }
        return this.finishJson(req, res, st, [...st.amr, r.method, ...(r.userVerified ? ['user'] : [])], true, 'webauthn');
      }
      case 'webauthn/register-options': {
        if (st?.stage !== 'enroll') return { json: { error: 'sign in first' }, status: 400 };
        const user = await this.stillWithoutFactor(st);
        return { json: await this.d.webauthn.registrationOptions(uid, user) };
      }
      case 'webauthn/register': {
        if (st?.stage !== 'enroll') return { json: { error: 'sign in first' }, status: 400 };
        await this.stillWithoutFactor(st);
        const r = await this.d.webauthn.verifyRegistration(uid, st.userId, body['response'] ?? '', body['name'] ?? '');
        await this.factorAdded(st.userId, { factor: 'webauthn', credential: r.id });
        await this.setState(uid, { ...st, stage: 'recovery', mfa: true, amr: [...st.amr, r.method, ...(r.userVerified ? ['user'] : [])] });
        return { json: { redirect: this.base(uid) + '/recovery' } };
      }
      default:
        throw new PortcullisError('not-found', 'no such sign-in step');
    }
  }

  /** GET /interaction/:uid/recovery (after a passkey enrolment, where JS navigates). */
  async recovery(req: IncomingMessage, res: ServerResponse, uid: string, ip?: string): Promise<Outcome> {
    const details = await this.interaction(req, res, uid, 'recovery', ip);
    const st = await this.state(details.uid);
    if (st) this.sameBrowser(req, st, 'recovery');
    const csrf = await this.d.csrf.tokenFor(details.uid);
    if (st?.stage !== 'recovery') return { page: this.loginPage(details.uid, csrf, 'Sign in first.', 400) };
    return this.showRecoveryCodes(details.uid, st, csrf, st.amr);
  }

  private factor(id: string | undefined): Factor {
    const f = this.d.factors.find((x) => x.id === id);
    // e-mail or SMS codes with no sender configured (or the other channel): said so, as for a user enrolled in them
    if (!f) throw unavailableCodeFactor(id) ?? new PortcullisError('mfa.unknown-factor', 'no such second factor');
    return f;
  }

  /** A factor the enrolment step may set up: never recovery codes, which are a fallback shown after one. */
  private enrollable(id: string | undefined): Factor {
    const f = this.factor(id);
    if (f.id === 'recovery-code') throw new PortcullisError('mfa.not-enrollable', 'recovery codes are not a second factor of their own');
    return f;
  }

  private async login(req: IncomingMessage, res: ServerResponse, details: InteractionDetails, body: Record<string, string>, ip: string | undefined, csrf: string): Promise<Outcome> {
    const uid = details.uid;
    const at = this.d.clock.now();
    const email = normalizeEmail(String(body['email'] ?? ''));
    const user = email ? await this.d.identity.getUserByEmail(email) : undefined;
    try {
      // Unknown users cost one hash too and count against the typed name (no enumeration).
      await verifyPassword(
        { hashers: this.d.hashers, store: this.d.passwords, lockout: this.d.lockout },
        { userId: user?.id, account: user?.id ?? `email:${email}`, ...(ip ? { ip } : {}), password: String(body['password'] ?? ''), inactive: user !== undefined && user.status !== 'active' },
      );
      if (!user || user.status !== 'active') throw new PortcullisError('auth.invalid-credentials', 'invalid user name or password');
    } catch (e) {
      // The account aimed at, so a per-account attack can be traced before any lock; for a
      // name matching no user only that fact (the typed text may be a misplaced password).
      // `inactive`: the right password of an account that may not sign in (its holder is
      // answered as for a wrong one): someone holds it.
      this.d.audit.record({ time: this.d.clock.now(), type: 'signin.failed', actor: 'anonymous', reason: e instanceof PortcullisError ? e.code : 'internal', data: { ip: ip ?? null, ...(user ? { userId: user.id } : { unknownAccount: true }), ...(matchedInactiveAccount(e) ? { inactive: true } : {}) } });
      const status = e instanceof PortcullisError ? e.status : 500;
      return { page: refusal(this.loginPage(uid, csrf, messageOf(e), status), e) };
    }
    const amr = ['pwd'];
    const browser = bindBrowser(res, uid, this.secure);
    const inv = await this.inventory(user.id);
    const { enrolled, stranded } = inv;
    const keys = usablePasskeys(inv);
    const suspended = inv.passkeys.length - keys.length;
    // a suspended key still counts: the password alone never stands in for it (factor-inventory.ts)
    const hasFactor = hasSecondFactor(inv);
    if (stranded.length > 0) this.d.audit.record({ time: this.d.clock.now(), type: 'signin.mfa-unavailable', actor: `user:${user.id}`, reason: 'mfa.factor-unavailable', data: { factors: stranded, usable: enrolled.length + keys.length > 0 } });
    if (suspended > 0) this.d.audit.record({ time: this.d.clock.now(), type: 'signin.mfa-unavailable', actor: `user:${user.id}`, reason: 'webauthn.credential-suspended', data: { suspendedKeys: suspended, usable: enrolled.length + keys.length > 0 } });
    if (hasFactor && enrolled.length === 0 && keys.length === 0) {
      const e =
        stranded.length === 0
          ? new PortcullisError('webauthn.credential-suspended', 'your security key was suspended, as it may have been copied, and your account has no other second factor or recovery code: ask an administrator to reset your second factors', { expose: true })
          : new PortcullisError('mfa.factor-unavailable', 'your second factor is not available on this service now: ask an administrator', { expose: true });
      return { page: this.loginPage(uid, csrf, `${e.message[0]!.toUpperCase()}${e.message.slice(1)}.`, e.status) };
    }
    if (hasFactor) {
      const st: SignInState = { userId: user.id, at, amr, stage: 'mfa', browser };
      await this.setState(uid, st);
      return { page: await this.mfaPage(uid, st, csrf, undefined, undefined, inv) };
    }
    if (this.mfaRequired(details, user)) {
      await this.setState(uid, { userId: user.id, at, amr, stage: 'enroll', browser });
      return { page: this.enrollPage(uid, csrf) };
    }
    return this.finish(req, res, uid, { userId: user.id, at, browser }, amr, false);
  }

  /**
   * The user's factors and passkeys; a confirmed enrolment of a factor no longer
   * configured counts as a second factor too (factor-inventory.ts).
   */
  private inventory(userId: string): Promise<FactorInventory> {
    return factorInventory({ factors: this.d.factors, passkeys: this.d.identity, enrollments: this.d.enrollments }, userId);
  }

  /**
   * A code the provider did not take (`mfa.delivery-failed`) is shown to the user as a
   * plain sentence, so the operator's record is this event: the factor and purpose, never
   * the address, the provider's URL or the error text (a webhook URL may carry a token).
   */
  private auditDeliveryFailure(e: unknown, userId: string, factor: string, purpose: 'sign-in' | 'enroll'): void {
    if (!(e instanceof PortcullisError) || e.code !== 'mfa.delivery-failed') return;
    this.d.audit.record({ time: this.d.clock.now(), type: 'mfa.delivery-failed', actor: `user:${userId}`, reason: e.code, data: { factor, purpose } });
  }

  /**
   * A recovery code stands in for the lost second factor, so its use is told to the user
   * (NIST SP 800-63B-4 on account recovery: notify the subscriber): `user.recovery-code-used`, raising the webhook of that name,
   * with the codes left (never the code). Recorded once the code is spent, whatever the rest
   * of the sign-in does.
   */
  private async recoveryCodeUsed(userId: string, rc: Factor): Promise<void> {
    const remaining = rc.remaining ? await rc.remaining(userId).catch(() => undefined) : undefined;
    this.d.audit.record({ time: this.d.clock.now(), type: 'user.recovery-code-used', actor: `user:${userId}`, data: { userId, ...(remaining === undefined ? {} : { remaining }) } });
  }

  /**
   * The enrolment step stands on the password alone, which is enough only while the user
   * has no second factor: one set up since (another sign-in, the account page) must be
   * proven instead (each enrolment call checks). Returns the user; throws
   * `auth.invalid-credentials` for one disabled or deleted meanwhile, `mfa.already-enrolled`.
   */
  private async stillWithoutFactor(st: SignInState): Promise<UserRecord> {
    // disabled, deleted or its sessions ended since the password step: as at the end of a sign-in, it cannot go on
    const user = await this.stillAllowed(st);
    if (!hasSecondFactor(await this.inventory(st.userId))) return user;
    throw new PortcullisError('mfa.already-enrolled', 'a second factor was set up for this account meanwhile: sign in again and use it', { expose: true });
  }

  /**
   * A second factor set up at the enrolment step is a security change like one made on the
   * account page: audited as `user.factor-added`, stored before the sign-in goes on. When
   * it cannot be stored: `audit.unavailable` (the factor is set up all the same).
   */
  private async factorAdded(userId: string, data: Record<string, string>): Promise<void> {
    this.d.audit.record({ time: this.d.clock.now(), type: 'user.factor-added', actor: `user:${userId}`, data: { userId, ...data, during: 'sign-in' } });
    await storedOrTell(this.d.audit, 'Your second factor was set up but could not be recorded yet: sign in again in a moment, using it');
  }

  /** MFA for everyone, for this app, for this user, or asked for by the app (acr_values). */
  private mfaRequired(details: InteractionDetails, user: UserRecord): boolean {
    const asked = String(details.params['acr_values'] ?? '').split(' ').includes(ACR_MFA);
    return this.d.oidc.mfaForEveryone || user.mfaRequired || this.d.oidc.appRequiresMfa(String(details.params['client_id'])) || asked;
  }

  private async enroll(uid: string, st: SignInState | undefined, body: Record<string, string>, ip: string | undefined, csrf: string): Promise<Outcome> {
    if (st?.stage !== 'enroll') return { page: this.loginPage(uid, csrf, 'Sign in first.', 400) };
    let f: Factor;
    let user: UserRecord;
    try {
      user = await this.stillWithoutFactor(st);
      f = this.enrollable(body['factor']);
    } catch (e) {
      return { page: refusal(this.enrollPage(uid, csrf, messageOf(e), e instanceof PortcullisError ? e.status : 500), e) };
    }
    let out;
    try {
      out = await f.enroll({ userId: st.userId, ...(ip ? { ip } : {}), address: f.id === 'totp' ? user.email : String(body['address'] ?? '') });
    } catch (e) {
      this.auditDeliveryFailure(e, st.userId, f.id, 'enroll');
      return { page: refusal(this.enrollPage(uid, csrf, messageOf(e), e instanceof PortcullisError ? e.status : 500), e) };
    }
    const b = this.base(uid);
    const confirm = form(`${b}/enroll-confirm`, csrf, `<input type="hidden" name="factor" value="${f.id}">${field('code', 'Code', 'text', 'inputmode="numeric" autocomplete="one-time-code" required')}<p><button type="submit">Confirm</button></p>`);
    if (f.id === 'totp') {
      return {
        page: page(
          'Set up an authenticator app',
          `<p>Scan this code with your authenticator app, or enter the key by hand, then type the code it shows.</p><figure role="img" aria-label="QR code of the key">${out.qrSvg ?? ''}</figure>` +
            `<p>Key: <code id="totp-secret">${escapeHtml(out.secretBase32 ?? '')}</code></p><p><a id="otpauth-uri" href="${escapeHtml(out.otpauthUri ?? '')}">Open in an authenticator app</a></p>${confirm}`,
        ),
      };
    }
    return { page: page(f.id === 'sms' ? 'Confirm your phone number' : 'Confirm your address', `<p>A code was sent to ${escapeHtml(out.sentTo ?? '')}.</p>${confirm}`) };
  }

  /**
   * The recovery codes that come with the first factor, made once per sign-in: a reload
   * (GET) or a second tab changes nothing, the set shown first stays the valid one. The
   * set is audited first, as the account page's renewal (renewRecoveryCodes): when its
   * event cannot be stored the page answers 503 `audit.unavailable`, no set is made, and
   * the user may try again or go on (the factor is set up) and make one later.
   */
  private async showRecoveryCodes(uid: string, st: SignInState, csrf: string, amr: string[]): Promise<Outcome> {
    const b = this.base(uid);
    const rc = this.d.factors.find((f) => f.id === 'recovery-code');
    const goOn = (label: string) => form(`${b}/continue`, csrf, `<button type="submit">${label}</button>`);
    await this.setState(uid, { ...st, stage: 'recovery', amr });
    const once = `signin:recovery-codes:${uid}`;
    if (!(await this.d.ephemeral.consumeOnce(once, STATE_TTL_MS))) {
      return {
        page: page(
          'Save your recovery codes',
          `<p id="notice">Your recovery codes were shown when you set up your second factor and are not shown again. If you did not save them, generate a new set on your account page.</p>${goOn('Continue')}`,
        ),
      };
    }
    let codes: string[] = [];
    try {
      if (rc) codes = await renewRecoveryCodes(this.d, rc, st.userId, { actor: `user:${st.userId}`, during: 'sign-in', unrecorded: 'Your second factor is set up, but your recovery codes could not be made, as this could not be recorded. Try again in a moment, or continue and make them later on your account page' });
    } catch (e) {
      await this.d.ephemeral.delete(once);
      if (!(e instanceof PortcullisError) || e.code !== 'audit.unavailable') throw e;
      return { page: page('Save your recovery codes', `<p><a href="${b}/recovery">Try again</a></p>${goOn('Continue without recovery codes')}`, { error: `${e.message}.`, status: e.status }) };
    }
    return {
      page: page(
        'Save your recovery codes',
        `<p>Each code signs you in once if you lose your second factor. They are shown only now.</p><ul id="recovery-codes">${codes.map((c) => `<li><code>${escapeHtml(c)}</code></li>`).join('')}</ul>${goOn('I saved them, continue')}`,
      ),
    };
  }

  /**
   * The user, when still active and the sign-in began after the user's sessions were last
   * ended (end every session, an MFA reset, disabling: `tokensRevokedBefore`), else throws
   * `auth.invalid-credentials` for one disabled or deleted since the password step, or
   * `auth.signin-outdated`; either is audited as `signin.failed` (no session, no
   * "succeeded" event).
   */
  private async stillAllowed(st: Pick<SignInState, 'userId' | 'at'>): Promise<UserRecord> {
    const user = await this.d.identity.getUser(st.userId);
    let e: PortcullisError | undefined;
    if (!user || user.status !== 'active') e = new PortcullisError('auth.invalid-credentials', 'invalid user name or password');
    else if ((st.at ?? 0) <= user.tokensRevokedBefore) e = new PortcullisError('auth.signin-outdated', 'this sign-in began before every session of this account was ended: start again from the app', { expose: true });
    if (!e) return user!;
    this.d.audit.record({ time: this.d.clock.now(), type: 'signin.failed', actor: `user:${st.userId}`, reason: e.code, data: { userId: st.userId, ...(e.code === 'auth.invalid-credentials' ? { inactive: true } : {}) } });
    throw e;
  }

  /**
   * Ends the sign-in as `user` with these `amr`. `factor` names the second step used
   * (`totp`, `email`, `sms`, `recovery-code`, `webauthn`, or `passkey` when it was the only
   * step), recorded in `signin.succeeded`: `amr` alone does not tell a recovery code from a
   * TOTP code (both `otp`).
   */
  private async finish(req: IncomingMessage, res: ServerResponse, uid: string, st: Pick<SignInState, 'userId' | 'at' | 'browser'>, amr: string[], mfa: boolean, factor?: string): Promise<Outcome> {
    let user: UserRecord;
    try {
      user = await this.stillAllowed(st);
    } catch (e) {
      await this.d.ephemeral.delete(this.stateKey(uid));
      return { page: refusal(this.loginPage(uid, await this.d.csrf.tokenFor(uid), messageOf(e), e instanceof PortcullisError ? e.status : 500), e) };
    }
    await this.d.ephemeral.delete(this.stateKey(uid));
    this.d.audit.record({ time: this.d.clock.now(), type: 'signin.succeeded', actor: `user:${user.id}`, data: { amr, ...(factor ? { factor } : {}) } });
    await this.d.oidc.provider.interactionFinished(req, res, { ...this.d.oidc.loginResult(user, [...new Set(amr)], mfa), browser: st.browser }, { mergeWithLastSubmission: false });
    return { done: true };
  }

  /** As finish, for WebAuthn (JSON); a passkey alone proves the user here, so binds this browser. */
  private async finishJson(req: IncomingMessage, res: ServerResponse, st: Pick<SignInState, 'userId' | 'at' | 'browser'>, amr: string[], mfa: boolean, factor: string): Promise<Outcome> {
    let user: UserRecord;
    try {
      user = await this.stillAllowed(st);
    } catch (e) {
      if (!(e instanceof PortcullisError)) throw e;
      const message = e.code === 'auth.invalid-credentials' ? 'this account cannot sign in' : e.message;
      return refusal({ json: { error: message, code: e.code }, status: e.status }, e);
    }
    const details = await this.d.oidc.provider.interactionDetails(req, res);
    await this.d.ephemeral.delete(this.stateKey(details.uid));
    this.d.audit.record({ time: this.d.clock.now(), type: 'signin.succeeded', actor: `user:${user.id}`, data: { amr, ...(factor ? { factor } : {}) } });
    const browser = st.browser ?? bindBrowser(res, details.uid, this.secure);
    const redirect = await this.d.oidc.provider.interactionResult(req, res, { ...this.d.oidc.loginResult(user, [...new Set(amr)], mfa), browser }, { mergeWithLastSubmission: false });
    return { json: { redirect } };
  }
}
