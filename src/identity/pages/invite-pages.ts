/**
 * The invite page, where a user added without a password (`portcullis user add --invite`,
 * `POST /v1/users` with `invite: true`) chooses one through the link they were sent:
 * `GET /account/invite/:token` shows the form, `POST` sets the password and uses the link up.
 * A link of a user disabled or deleted since is `user.invite-invalid`, as an unknown one is.
 */
import { storedOrTell, type DurableAuditSink } from '../../audit/sink.js';
import { PortcullisError } from '../../core/errors.js';
import type { Invites } from '../invites.js';
import { escapeHtml } from '../oidc/provider.js';
import type { IdentityStore, UserRecord } from '../store.js';
import type { UserService } from '../users.js';
import { ACCOUNT_PATH } from './account.js';
import type { CsrfTokens } from './csrf.js';
import { field, form, page, type Page } from './html.js';

export interface InvitePagesDeps {
  users: UserService;
  identity: IdentityStore;
  invites: Invites;
  csrf: CsrfTokens;
  /** The password set waits for its event to be stored. */
  audit: DurableAuditSink;
}

/** Where an invite link leads: `${INVITE_PATH}/:token`. */
export const INVITE_PATH = `${ACCOUNT_PATH}/invite`;

export class InvitePages {
  constructor(private readonly d: InvitePagesDeps) {}

  private csrfKey(token: string): string {
    return `invite:${token.slice(0, 16)}`;
  }

  /**
   * The active user an invite is for; `user.invite-invalid` also for a user disabled or
   * deleted since (the link holder learns nothing of the account's state).
   */
  private async invitedUser(token: string): Promise<UserRecord> {
    const user = await this.d.identity.getUser(await this.d.invites.peek(token));
    if (!user || user.status !== 'active') throw new PortcullisError('user.invite-invalid', 'this invite link is unknown, expired or already used');
    return user;
  }

  /** GET /account/invite/:token */
  async show(token: string, error?: string, status?: number): Promise<Page> {
    const user = await this.invitedUser(token);
    const csrf = await this.d.csrf.tokenFor(this.csrfKey(token));
    return page(
      'Choose your password',
      `<p>Welcome, <strong>${escapeHtml(user.email)}</strong>. Choose a password of at least 8 characters; a phrase of several unrelated words works well.</p>` +
        form(
          `${INVITE_PATH}/${encodeURIComponent(token)}`,
          csrf,
          `${field('password', 'New password', 'password', 'autocomplete="new-password" minlength="8" required')}<p><button type="submit">Set password</button></p>`,
        ),
      { ...(error ? { error } : {}), ...(status ? { status } : {}) },
    );
  }

  /** POST /account/invite/:token */
  async redeem(token: string, body: Record<string, string>): Promise<Page> {
    const userId = (await this.invitedUser(token)).id;
    await this.d.csrf.check(this.csrfKey(token), body['csrf']);
    const password = String(body['password'] ?? '');
    try {
      await this.d.users.checkPassword(userId, password);
    } catch (e) {
      if (e instanceof PortcullisError && e.code.startsWith('password.')) return this.show(token, e.message, e.status);
      throw e;
    }
    await this.d.invites.redeem(token);
    await this.d.users.setPassword(userId, password, `user:${userId}`);
    // acknowledged only once its audit event is stored, as the account page's changes are
    await storedOrTell(this.d.audit, 'Your change was made but could not be recorded yet; do not repeat it, and reload this page later.');
    return page('Password set', '<p id="notice">Your password is set. Go back to the app and sign in.</p>');
  }
}
