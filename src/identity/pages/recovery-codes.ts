/**
 * A new set of recovery codes for a page to show, audited first: the account page's
 * renewal and the sign-in's enrolment step both go through `renewRecoveryCodes`, so
 * neither can show a set whose `user.recovery-codes-generated` event was not stored.
 */
import { storedOrTell, type DurableAuditSink } from '../../audit/sink.js';
import type { Clock } from '../../core/clock.js';
import { PortcullisError } from '../../core/errors.js';
import type { Factor } from '../../mfa/factor.js';

export interface RenewRecoveryCodesOptions {
  /** Who asked (`user:<id>`). */
  actor: string;
  /** The user-facing sentence of the 503 `audit.unavailable` when the event cannot be stored. */
  unrecorded: string;
  /** Where the set was made, when not on the account page. */
  during?: 'sign-in';
}

/**
 * Records `user.recovery-codes-generated`, waits for it to be stored, and only then
 * replaces the user's set. When the event cannot be stored (503 `audit.unavailable`, the
 * message `unrecorded`) or the store fails, the set the user holds stays valid, never a
 * set nobody saw, and `user.recovery-codes-not-generated` follows the held event. Once the
 * new set is stored, `user.recovery-codes-replaced` is recorded: it, not the request, raises
 * the `user.recovery-codes-generated` webhook, so a failed renewal announces no set.
 *
 * @example
 * const codes = await renewRecoveryCodes({ audit, clock }, recoveryCodes, user.id, { actor: `user:${user.id}`, unrecorded: 'Your recovery codes were not renewed.' });
 */
export async function renewRecoveryCodes(d: { audit: DurableAuditSink; clock: Clock }, rc: Factor, userId: string, opts: RenewRecoveryCodesOptions): Promise<string[]> {
  const data = { userId, ...(opts.during ? { during: opts.during } : {}) };
  let codes: string[];
  d.audit.record({ time: d.clock.now(), type: 'user.recovery-codes-generated', actor: opts.actor, data });
  try {
    await storedOrTell(d.audit, opts.unrecorded);
    codes = (await rc.enroll({ userId })).codes ?? [];
  } catch (e) {
    const reason = e instanceof PortcullisError ? e.code : 'internal';
    d.audit.record({ time: d.clock.now(), type: 'user.recovery-codes-not-generated', actor: opts.actor, reason, data });
    throw e;
  }
  d.audit.record({ time: d.clock.now(), type: 'user.recovery-codes-replaced', actor: opts.actor, data });
  // The new set is the user's now and is shown whatever happens: an event the trail cannot
  // write yet is held and written when it can (the renewal itself is already on record).
  await d.audit.flush().catch(() => undefined);
  return codes;
}
