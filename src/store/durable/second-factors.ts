/**
 * Removing one second factor of a user (an `mfa_enrollments` row or a `webauthn_credentials`
 * row) when the user must keep a usable one: the count and the delete run in one transaction
 * that first writes the user's row, so concurrent removals for one user (on any node) run one
 * after the other: PostgreSQL holds the row lock to commit; SQLite begins IMMEDIATE.
 */
import { sql, type Kysely } from 'kysely';
import type { SecondFactorRef, SecondFactorRemoval } from '../../identity/store.js';

// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Db = Kysely<any>;

async function usableCount(db: Db, userId: string, usableFactorIds: readonly string[]): Promise<number> {
  const enrolments = usableFactorIds.length
    ? await db.selectFrom('mfa_enrollments').select(sql<number>`count(*)`.as('n')).where('user_id', '=', userId).where('status', '=', 'confirmed').where('factor_id', 'in', [...usableFactorIds]).executeTakeFirst()
    : { n: 0 };
  const passkeys = await db.selectFrom('webauthn_credentials').select(sql<number>`count(*)`.as('n')).where('user_id', '=', userId).where('suspended_at', 'is', null).executeTakeFirst();
  return Number(enrolments?.n ?? 0) + Number(passkeys?.n ?? 0);
}

async function isUsable(db: Db, userId: string, which: SecondFactorRef, usableFactorIds: readonly string[]): Promise<boolean | undefined> {
  if ('passkey' in which) {
    const r = await db.selectFrom('webauthn_credentials').select('suspended_at').where('id', '=', which.passkey).where('user_id', '=', userId).executeTakeFirst();
    return r && r.suspended_at === null;
  }
  const r = await db.selectFrom('mfa_enrollments').select('status').where('user_id', '=', userId).where('factor_id', '=', which.enrollment).executeTakeFirst();
  return r && r.status === 'confirmed' && usableFactorIds.includes(which.enrollment);
}

export async function removeSecondFactor(db: Db, userId: string, which: SecondFactorRef, keepOneOf?: readonly string[]): Promise<SecondFactorRemoval> {
  return db.transaction().execute(async (trx) => {
    if (keepOneOf) {
      // the lock: every removal of this user's factors that keeps one waits here for the one before to commit
      const locked = await trx.updateTable('users').set({ id: sql`id` }).where('id', '=', userId).executeTakeFirst();
      if (Number(locked.numUpdatedRows) === 0) return 'absent';
      const usable = await isUsable(trx, userId, which, keepOneOf);
      if (usable === undefined) return 'absent';
      if (usable && (await usableCount(trx, userId, keepOneOf)) <= 1) return 'last';
    }
    const r =
      'passkey' in which
        ? await trx.deleteFrom('webauthn_credentials').where('id', '=', which.passkey).where('user_id', '=', userId).executeTakeFirst()
        : await trx.deleteFrom('mfa_enrollments').where('user_id', '=', userId).where('factor_id', '=', which.enrollment).executeTakeFirst();
    return Number(r.numDeletedRows) > 0 ? 'removed' : 'absent';
  });
}
