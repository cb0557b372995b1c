/**
 * Anti-CSRF tokens, one per sign-in interaction or account session, kept in the
 * ephemeral store (so every node knows them) and compared in constant time on every POST.
 */
import { timingSafeEqual } from 'node:crypto';
import type { EphemeralStore } from '../../core/ephemeral.js';
import { PortcullisError } from '../../core/errors.js';
import { randomId } from '../../core/ids.js';

export class CsrfTokens {
  constructor(
    private readonly ephemeral: EphemeralStore,
    private readonly ttlMs = 3_600_000,
  ) {}

  /** The token of `session`, created on first use. */
  async tokenFor(session: string): Promise<string> {
    const key = `csrf:${session}`;
    const existing = await this.ephemeral.get(key);
    if (existing) return existing;
    const t = randomId(24);
    await this.ephemeral.set(key, t, this.ttlMs);
    return t;
  }

  /** Throws `csrf.invalid` unless `presented` is the token of `session`. */
  async check(session: string, presented: unknown): Promise<void> {
    const expected = await this.ephemeral.get(`csrf:${session}`);
    const a = Buffer.from(typeof presented === 'string' ? presented : '');
    const b = Buffer.from(expected ?? '');
    if (!expected || a.length !== b.length || !timingSafeEqual(a, b)) throw new PortcullisError('csrf.invalid', 'the form is missing its anti-CSRF token or it is wrong; reload the page');
  }
}
