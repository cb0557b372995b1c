/** Queries on the `lockout_state` table (LockoutStore): sign-in failure counters and locks. */
import { sql, type Kysely } from 'kysely';
import type { LockoutRecord } from '../../identity/store.js';
import type { Database } from './schema.js';

/**
 * One statement, atomic on both dialects: a row whose window is still open keeps the
 * larger count, its window and the later delay and lock; a closed one takes the new values.
 */
export async function putLockoutState(db: Kysely<Database>, r: LockoutRecord, now: number): Promise<void> {
  const open = sql`lockout_state.window_ends_at > ${now}`;
  const later = (col: 'failures' | 'delayed_until' | 'locked_until') =>
    sql`case when excluded.${sql.ref(col)} > lockout_state.${sql.ref(col)} then excluded.${sql.ref(col)} else lockout_state.${sql.ref(col)} end`;
  await sql`
    insert into lockout_state (counter, subject, failures, window_ends_at, delayed_until, locked_until)
    values (${r.counter}, ${r.subject}, ${r.failures}, ${r.windowEndsAt}, ${r.delayedUntil}, ${r.lockedUntil})
    on conflict (counter, subject) do update set
      failures = case when ${open} then ${later('failures')} else excluded.failures end,
      window_ends_at = case when ${open} then lockout_state.window_ends_at else excluded.window_ends_at end,
      delayed_until = ${later('delayed_until')},
      locked_until = ${later('locked_until')}`.execute(db);
}

export async function clearLockoutState(db: Kysely<Database>, counter: string, subject: string, includingLock: boolean, now: number): Promise<void> {
  const row = db.deleteFrom('lockout_state').where('counter', '=', counter).where('subject', '=', subject);
  if (includingLock) {
    await row.execute();
    return;
  }
  await row.where('locked_until', '<=', now).execute();
  // a lock in force stays; a window of 0 lets the next failure open a new one
  await db.updateTable('lockout_state').set({ failures: 0, window_ends_at: 0, delayed_until: 0 }).where('counter', '=', counter).where('subject', '=', subject).execute();
}

export async function listLockoutStates(db: Kysely<Database>, now: number): Promise<LockoutRecord[]> {
  const rows = await db
    .selectFrom('lockout_state')
    .selectAll()
    .where((eb) => eb.or([eb('window_ends_at', '>', now), eb('delayed_until', '>', now), eb('locked_until', '>', now)]))
    .orderBy('counter')
    .orderBy('subject')
    .execute();
  return rows.map((x) => ({
    counter: x.counter,
    subject: x.subject,
    failures: Number(x.failures),
    windowEndsAt: Number(x.window_ends_at),
    delayedUntil: Number(x.delayed_until),
    lockedUntil: Number(x.locked_until),
  }));
}

export async function purgeLockoutStates(db: Kysely<Database>, now: number): Promise<number> {
  const r = await db.deleteFrom('lockout_state').where('window_ends_at', '<=', now).where('delayed_until', '<=', now).where('locked_until', '<=', now).executeTakeFirst();
  return Number(r.numDeletedRows);
}

export async function deleteAllLockoutStates(db: Kysely<Database>): Promise<number> {
  const r = await db.deleteFrom('lockout_state').executeTakeFirst();
  return Number(r.numDeletedRows);
}
