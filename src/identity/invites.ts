/**
 * Invite links: a user added without a password gets a random token (kept only as its
 * SHA-256, in the ephemeral store so every node sees it) that lets them choose a
 * password once, within the invite's lifetime; only the user's newest invite works.
 * Redeeming consumes the token with `consumeOnce`: two concurrent redemptions cannot
 * both set a password. Disabling or deleting the user voids every invite of theirs (`revoke`).
 */
import { createHash } from 'node:crypto';
import type { Clock } from '../core/clock.js';
import type { EphemeralStore } from '../core/ephemeral.js';
import { PortcullisError } from '../core/errors.js';
import { randomId } from '../core/ids.js';

export const INVITE_TTL_MS = 7 * 86_400_000;
export const INVITE_PATH = '/account/invite';

const keyOf = (token: string): string => `invite:${createHash('sha256').update(token).digest('base64url')}`;
/** The user's newest invite (its key): a new invite voids the ones before it. */
const currentOf = (userId: string): string => `invite-current:${userId}`;

export class Invites {
  constructor(
    private readonly ephemeral: EphemeralStore,
    private readonly clock: Clock,
    private readonly ttlMs = INVITE_TTL_MS,
  ) {}

  /**
   * A new invite for `userId`; the link is `<issuer>/account/invite/<token>`.
   *
   * @example
   * const { token, expiresAt } = await invites.create(user.id);
   */
  async create(userId: string): Promise<{ token: string; expiresAt: number }> {
    const token = randomId(32);
    await this.ephemeral.set(keyOf(token), userId, this.ttlMs);
    await this.ephemeral.set(currentOf(userId), keyOf(token), this.ttlMs);
    return { token, expiresAt: this.clock.now() + this.ttlMs };
  }

  /**
   * Voids every invite of the user (disabled or deleted): none sets a password, also after
   * the user is enabled again; a later `create` makes one that works.
   */
  async revoke(userId: string): Promise<void> {
    await this.ephemeral.set(currentOf(userId), 'revoked', this.ttlMs);
  }

  /** The user the invite is for; throws `user.invite-invalid` (also for an invite replaced by a newer one). Does not consume it. */
  async peek(token: string): Promise<string> {
    const userId = typeof token === 'string' && token.length <= 100 ? await this.ephemeral.get(keyOf(token)) : undefined;
    // A link re-sent to the right address, or left over after the user chose a password,
    // must not stay a way to set it. (No pointer: an invite made before pointers existed.)
    const current = userId ? await this.ephemeral.get(currentOf(userId)) : undefined;
    if (!userId || (current !== undefined && current !== keyOf(token))) throw new PortcullisError('user.invite-invalid', 'this invite link is unknown, expired or already used');
    return userId;
  }

  /** Consumes the invite (exactly once under concurrency) and returns its user. */
  async redeem(token: string): Promise<string> {
    const userId = await this.peek(token);
    if (!(await this.ephemeral.consumeOnce(`${keyOf(token)}:used`, this.ttlMs))) throw new PortcullisError('user.invite-invalid', 'this invite link is unknown, expired or already used');
    await this.ephemeral.delete(keyOf(token));
    // An invite made before pointers existed: the user's other such invites end with it.
    if ((await this.ephemeral.get(currentOf(userId))) === undefined) await this.ephemeral.set(currentOf(userId), 'redeemed', this.ttlMs);
    return userId;
  }
}
