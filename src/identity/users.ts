/**
 * Users: add, list, show, disable/enable, delete, reset their second factors, set a
 * password, end every session. E-mail addresses are unique after normalisation
 * (trimmed, NFKC, lower-cased). Passwords pass the NIST SP 800-63B checks
 * (`checkNewPassword`) and are hashed by the preferred hasher (Argon2id).
 * Ending every session moves the user's "revoked before" watermark, published as a
 * `user.tokens-revoked` event, so every token of the user fails at every gateway.
 */
import { pastSecondOf, type Clock } from '../core/clock.js';
import { PortcullisError } from '../core/errors.js';
import type { EventBus } from '../core/events.js';
import type { PageRequest } from '../core/page.js';
import { randomId } from '../core/ids.js';
import type { AuditSink } from '../audit/sink.js';
import type { Factor } from '../mfa/factor.js';
import type { EnrollmentStore } from '../mfa/store.js';
import type { PasswordBlocklist } from './passwords/common-passwords.js';
import type { PasswordHashers } from './passwords/hasher.js';
import { factorInventory, usablePasskeys } from './factor-inventory.js';
import type { Invites } from './invites.js';
import type { Lockout } from './lockout.js';
import { checkNewPassword } from './passwords/password-policy.js';
import type { PasswordStore } from './passwords/store.js';
import type { UserRecord, UserStore, WebAuthnStore } from './store.js';

export interface UserServiceDeps {
  store: UserStore & WebAuthnStore;
  passwords: PasswordStore;
  hashers: PasswordHashers;
  blocklist: PasswordBlocklist;
  /** Every configured second factor (for reset-mfa and the factor list). */
  factors: readonly Factor[];
  /** Every enrolment of a user, also of a factor the deployment no longer offers (reset-mfa removes those too). */
  enrollments: Pick<EnrollmentStore, 'listEnrollments' | 'deleteEnrollment'>;
  events: EventBus;
  audit: AuditSink;
  clock: Clock;
  /** Named in the context-word check of new passwords. */
  serviceName?: string;
  /** Called when every session of a user ends (oidc-provider sessions and grants). */
  endSessions?: (userId: string) => Promise<void>;
  /** The invite links, voided when the user is disabled or deleted. */
  invites?: Pick<Invites, 'revoke'>;
  /** The sign-in counters, forgotten when the user is deleted. */
  lockout?: Pick<Lockout, 'forgetAccount'>;
}

/** What the API shows of a user: never a hash or a secret. */
export interface UserView {
  id: string;
  email: string;
  status: 'active' | 'disabled';
  mfa_required: boolean;
  /** The second factors the user can sign in with (recovery codes included); `webauthn` only with a key that is not suspended. */
  factors: string[];
  /**
   * What the user holds and cannot use: confirmed enrolments of factors this node does not offer
   * (an `identity.otp.channel` switch; they block the sign-in until reset-mfa), and
   * `webauthn_suspended` when a key is suspended (a suspected clone).
   */
  unusable_factors: string[];
  passkeys: number;
  /** The security keys and passkeys (never a public key or counter); `suspended_at` when one was suspended as a suspected clone. */
  webauthn_credentials: WebAuthnCredentialView[];
  tokens_revoked_before: string | null;
  created_at: string;
  updated_at: string;
}

export interface WebAuthnCredentialView {
  id: string;
  name: string;
  created_at: string;
  last_used_at: string | null;
  /** When its signature counter went back (a suspected clone): it no longer signs in. */
  suspended_at: string | null;
}

const iso = (ms: number | null): string | null => (ms === null ? null : new Date(ms).toISOString());

const EMAIL = /^[^\s@]{1,64}@[^\s@]{1,255}\.[^\s@]{1,63}$/;

/** Trimmed, NFKC, lower-cased: the form that must be unique. */
export function normalizeEmail(email: string): string {
  return email.trim().normalize('NFKC').toLowerCase();
}

export class UserService {
  constructor(private readonly d: UserServiceDeps) {}

  async view(u: UserRecord): Promise<UserView> {
    const inv = await factorInventory({ factors: this.d.factors, passkeys: this.d.store, enrollments: this.d.enrollments }, u.id);
    const factors = inv.enrolled.map((f) => f.id);
    const passkeys = inv.passkeys.length;
    // a suspended key (a suspected clone) signs in no more: webauthn is usable only with a key that is not
    if (usablePasskeys(inv).length > 0) factors.push('webauthn');
    // stranded: what the sign-in refuses with mfa.factor-unavailable
    const unusable = [...inv.stranded, ...(inv.passkeys.some((k) => k.suspendedAt !== null) ? ['webauthn_suspended'] : [])];
    return {
      id: u.id,
      email: u.email,
      status: u.status,
      mfa_required: u.mfaRequired,
      factors,
      unusable_factors: unusable,
      passkeys,
      webauthn_credentials: inv.passkeys.map((k) => ({ id: k.id, name: k.name, created_at: new Date(k.createdAt).toISOString(), last_used_at: iso(k.lastUsedAt), suspended_at: iso(k.suspendedAt) })),
      tokens_revoked_before: u.tokensRevokedBefore ? new Date(u.tokensRevokedBefore).toISOString() : null,
      created_at: new Date(u.createdAt).toISOString(),
      updated_at: new Date(u.updatedAt).toISOString(),
    };
  }

  /**
   * Adds a user; with a password it is checked and hashed now, without one the user
   * cannot sign in until one is set.
   *
   * @example
   * const user = await users.add({ email: 'alice@example.com', password: 'correct horse battery staple' }, 'admin');
   */
  async add(input: { email: string; password?: string; mfaRequired?: boolean }, actor: string): Promise<UserRecord> {
    const email = input.email.trim();
    if (!EMAIL.test(email)) throw new PortcullisError('request.invalid', 'email: expected an e-mail address');
    const emailNormalized = normalizeEmail(email);
    if (await this.d.store.getUserByEmail(emailNormalized)) throw new PortcullisError('conflict', 'a user with this e-mail address exists');
    const hash = input.password === undefined ? undefined : await this.hashNew(input.password, email);
    const now = this.d.clock.now();
    const user: UserRecord = {
      id: `usr_${randomId(12)}`,
      email,
      emailNormalized,
      status: 'active',
      mfaRequired: input.mfaRequired ?? false,
      tokensRevokedBefore: 0,
      createdAt: now,
      updatedAt: now,
    };
    await this.d.store.createUser(user);
    if (hash !== undefined) await this.d.passwords.replacePasswordHash(user.id, null, hash);
    this.d.audit.record({ time: now, type: 'user.created', actor, data: { userId: user.id } });
    return user;
  }

  private async hashNew(password: string, email: string): Promise<string> {
    const normalized = checkNewPassword(password, this.d.blocklist, { contextWords: [email, ...(this.d.serviceName ? [this.d.serviceName] : [])] });
    return this.d.hashers.hash(normalized);
  }

  /** Throws the `password.*` error a new password would get, without storing anything. */
  async checkPassword(id: string, password: string): Promise<void> {
    const user = await this.get(id);
    checkNewPassword(password, this.d.blocklist, { contextWords: [user.email, ...(this.d.serviceName ? [this.d.serviceName] : [])] });
  }

  /**
   * Sets the password (an invite: the first one, or an administrator's reset). Replacing a
   * password ends every session and token of the user, as `resetMfa` does: a reset follows
   * a forgotten or leaked password, and whoever signed in with the old one must not stay in.
   */
  async setPassword(id: string, password: string, actor: string): Promise<void> {
    const user = await this.get(id);
    const hash = await this.hashNew(password, user.email);
    for (let i = 0; i < 3; i++) {
      const current = (await this.d.passwords.getPasswordHash(id)) ?? null;
      if (await this.d.passwords.replacePasswordHash(id, current, hash)) {
        this.d.audit.record({ time: this.d.clock.now(), type: 'user.password-set', actor, data: { userId: id } });
        // No password before, no sign-in: a password is every sign-in's first factor.
        if (current !== null) await this.endAllSessions(id, actor);
        return;
      }
    }
    throw new PortcullisError('conflict', 'the password changed meanwhile; try again');
  }

  /**
   * Replaces a password its user just proved (the account page's change), only if the stored
   * hash is still `verifiedHash`, the one the current password was proven against: one
   * compare-and-set in the store. Of two changes sent together, or a change racing a reset
   * or an invite, the first write stands and a later one throws `password.changed-meanwhile`,
   * changing nothing and ending no session. The one that writes ends every session, as
   * `setPassword` does.
   *
   * @example
   * const { verifiedHash } = await verifyPassword(deps, { userId, account: userId, password: current });
   * await users.changePassword(userId, next, verifiedHash, `user:${userId}`);
   */
  async changePassword(id: string, password: string, verifiedHash: string, actor: string): Promise<void> {
    const user = await this.get(id);
    const hash = await this.hashNew(password, user.email);
    if (!(await this.d.passwords.replacePasswordHash(id, verifiedHash, hash))) {
      throw new PortcullisError('password.changed-meanwhile', 'your password was replaced while this change was made, so it was not changed: reload the page and try again', { expose: true });
    }
    this.d.audit.record({ time: this.d.clock.now(), type: 'user.password-set', actor, data: { userId: id } });
    await this.endAllSessions(id, actor);
  }

  /** Oldest first; one page of them when `page` is given. */
  list(page?: PageRequest): Promise<UserRecord[]> {
    return this.d.store.listUsers(page);
  }

  async get(id: string): Promise<UserRecord> {
    const u = await this.d.store.getUser(id);
    if (!u) throw new PortcullisError('not-found', 'no such user');
    return u;
  }

  /** By id, or by e-mail address when `idOrEmail` contains `@`. */
  async find(idOrEmail: string): Promise<UserRecord> {
    const u = idOrEmail.includes('@') ? await this.d.store.getUserByEmail(normalizeEmail(idOrEmail)) : await this.d.store.getUser(idOrEmail);
    if (!u) throw new PortcullisError('not-found', 'no such user');
    return u;
  }

  findByEmail(email: string): Promise<UserRecord | undefined> {
    return this.d.store.getUserByEmail(normalizeEmail(email));
  }

  /**
   * Disables the user: sign-in is refused, every token and session ends, and every invite
   * link (a password reset) of the user is void, also once the user is enabled again.
   */
  async disable(id: string, actor: string): Promise<UserRecord> {
    const now = this.d.clock.now();
    const u = await this.d.store.updateUser(id, { status: 'disabled', tokensRevokedBefore: now }, now);
    if (!u) throw new PortcullisError('not-found', 'no such user');
    await this.d.invites?.revoke(id);
    await this.d.endSessions?.(id);
    this.d.audit.record({ time: now, type: 'user.disabled', actor, data: { userId: id } });
    await this.d.events.emit({ type: 'user.tokens-revoked', userId: id, before: now });
    // answered once the cutoff's second has passed: a sign-in after `enable` carries a later iat
    await pastSecondOf(this.d.clock, now);
    return u;
  }

  async enable(id: string, actor: string): Promise<UserRecord> {
    const now = this.d.clock.now();
    const u = await this.d.store.updateUser(id, { status: 'active' }, now);
    if (!u) throw new PortcullisError('not-found', 'no such user');
    this.d.audit.record({ time: now, type: 'user.enabled', actor, data: { userId: id } });
    return u;
  }

  async setMfaRequired(id: string, required: boolean, actor: string): Promise<UserRecord> {
    const now = this.d.clock.now();
    const u = await this.d.store.updateUser(id, { mfaRequired: required }, now);
    if (!u) throw new PortcullisError('not-found', 'no such user');
    this.d.audit.record({ time: now, type: 'user.mfa-required', actor, data: { userId: id, required } });
    return u;
  }

  /**
   * Ends every session of the user; every token issued to the user so far stops working.
   * Answers once the cutoff's second has passed (under a second): the cutoff compares whole
   * seconds, so a sign-in that completes after the answer carries a later `iat` and works,
   * while one completed during the wait is concurrent with the change and stays refused.
   */
  async endAllSessions(id: string, actor: string): Promise<UserRecord> {
    const now = this.d.clock.now();
    const u = await this.d.store.updateUser(id, { tokensRevokedBefore: now }, now);
    if (!u) throw new PortcullisError('not-found', 'no such user');
    await this.d.endSessions?.(id);
    this.d.audit.record({ time: now, type: 'user.sessions-ended', actor, data: { userId: id } });
    await this.d.events.emit({ type: 'user.tokens-revoked', userId: id, before: now });
    await pastSecondOf(this.d.clock, now);
    return u;
  }

  /**
   * Removes every second factor (TOTP, codes, recovery codes, passkeys): the user enrols
   * again at next sign-in. A reset follows a lost or compromised factor, so it also ends
   * every session and token of the user: a session signed in with the old factor could
   * otherwise enrol a new one at once. The sessions end after the factors are gone, so no
   * sign-in with the old factor can finish in between. A reset that fails part-way (some
   * factors removed) ends them all the same, records `user.mfa-reset-incomplete` with the
   * error's code, and throws: the administrator repeats it.
   */
  async resetMfa(id: string, actor: string): Promise<void> {
    await this.get(id);
    try {
      for (const f of this.d.factors) await f.remove(id);
      // An enrolment of a factor no longer configured (an identity.otp.channel switch) still
      // blocks the sign-in (mfa.factor-unavailable): the reset is what lifts that.
      for (const e of await this.d.enrollments.listEnrollments(id)) await this.d.enrollments.deleteEnrollment(id, e.factorId);
      for (const c of await this.d.store.listWebAuthnCredentials(id)) await this.d.store.deleteWebAuthnCredential(id, c.id);
    } catch (e) {
      this.d.audit.record({ time: this.d.clock.now(), type: 'user.mfa-reset-incomplete', actor, reason: e instanceof PortcullisError ? e.code : 'internal', data: { userId: id } });
      // the error that stopped the reset is the answer, not one of ending the sessions
      await this.endAllSessions(id, actor).catch(() => undefined);
      throw e;
    }
    this.d.audit.record({ time: this.d.clock.now(), type: 'user.mfa-reset', actor, data: { userId: id } });
    await this.endAllSessions(id, actor);
  }

  async delete(id: string, actor: string): Promise<void> {
    const now = this.d.clock.now();
    await this.d.invites?.revoke(id);
    await this.d.endSessions?.(id);
    if (!(await this.d.store.deleteUser(id))) throw new PortcullisError('not-found', 'no such user');
    // The deletion stands if the counters cannot be cleared now (they expire with their
    // window and lock, the durable rows are purged then): the event says they are left.
    const lockoutCleared = await (this.d.lockout?.forgetAccount(id) ?? Promise.resolve()).then(
      () => true,
      () => false,
    );
    this.d.audit.record({ time: now, type: 'user.deleted', actor, data: { userId: id, ...(lockoutCleared ? {} : { lockoutLeft: true }) } });
    await this.d.events.emit({ type: 'user.tokens-revoked', userId: id, before: now });
  }
}
