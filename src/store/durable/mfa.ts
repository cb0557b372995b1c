/**
 * Queries on the `mfa_enrollments` and `mfa_recovery_codes` tables (MfaStore).
 * Using a recovery code, moving a TOTP enrolment's last accepted step, and confirming a
 * pending enrolment are each one conditional UPDATE (compare-and-set), so under
 * concurrent calls on any node exactly one succeeds; starting an enrolment is one
 * conditional upsert that never replaces a confirmed row.
 */
import { sql, type Kysely, type Selectable } from 'kysely';
import type { EnrollmentStatus, FactorEnrollment, RecoveryCodeRecord } from '../../mfa/store.js';
import type { Database, MfaEnrollmentsTable } from './schema.js';

function fromRow(r: Selectable<MfaEnrollmentsTable>): FactorEnrollment {
  return {
    userId: r.user_id,
    factorId: r.factor_id,
    status: r.status as EnrollmentStatus,
    data: JSON.parse(r.data) as FactorEnrollment['data'],
    createdAt: r.created_at,
    confirmedAt: r.confirmed_at,
  };
}

export async function getEnrollment(db: Kysely<Database>, userId: string, factorId: string): Promise<FactorEnrollment | undefined> {
  const r = await db.selectFrom('mfa_enrollments').selectAll().where('user_id', '=', userId).where('factor_id', '=', factorId).executeTakeFirst();
  return r && fromRow(r);
}

/** Inserts or replaces the (user, factor) row; the last step stays only while `data` (the seed) does. */
export async function putEnrollment(db: Kysely<Database>, e: FactorEnrollment): Promise<void> {
  const row = { status: e.status, data: JSON.stringify(e.data), created_at: e.createdAt, confirmed_at: e.confirmedAt };
  await db
    .insertInto('mfa_enrollments')
    .values({ user_id: e.userId, factor_id: e.factorId, ...row })
    .onConflict((oc) =>
      oc.columns(['user_id', 'factor_id']).doUpdateSet({
        ...row,
        last_step: sql<number | null>`case when mfa_enrollments.data = excluded.data then mfa_enrollments.last_step end`,
      }),
    )
    .execute();
}

/** As putEnrollment for a pending enrolment, except that a confirmed row is left as it is (false): one conditional upsert. */
export async function putPendingEnrollment(db: Kysely<Database>, e: FactorEnrollment): Promise<boolean> {
  const row = { status: 'pending', data: JSON.stringify(e.data), created_at: e.createdAt, confirmed_at: null };
  const r = await db
    .insertInto('mfa_enrollments')
    .values({ user_id: e.userId, factor_id: e.factorId, ...row })
    .onConflict((oc) =>
      oc
        .columns(['user_id', 'factor_id'])
        .doUpdateSet({
          ...row,
          last_step: sql<number | null>`case when mfa_enrollments.data = excluded.data then mfa_enrollments.last_step end`,
        })
        .where('mfa_enrollments.status', '<>', 'confirmed'),
    )
    .executeTakeFirst();
  return Number(r.numInsertedOrUpdatedRows ?? 0) > 0;
}

/** One conditional UPDATE: a compare-and-set on last_step, so of concurrent calls on any node one wins. */
export async function advanceLastStep(db: Kysely<Database>, userId: string, factorId: string, next: number, to: number): Promise<boolean> {
  const r = await db
    .updateTable('mfa_enrollments')
    .set({ last_step: to })
    .where('user_id', '=', userId)
    .where('factor_id', '=', factorId)
    .where((eb) => eb.or([eb('last_step', 'is', null), eb('last_step', '<', next)]))
    .executeTakeFirst();
  return Number(r.numUpdatedRows) > 0;
}

/** One conditional UPDATE: the row is confirmed only while it is the pending one read (same data and creation time). */
export async function confirmEnrollment(db: Kysely<Database>, e: FactorEnrollment, confirmedAt: number): Promise<boolean> {
  const r = await db
    .updateTable('mfa_enrollments')
    .set({ status: 'confirmed', confirmed_at: confirmedAt })
    .where('user_id', '=', e.userId)
    .where('factor_id', '=', e.factorId)
    .where('status', '=', 'pending')
    .where('data', '=', JSON.stringify(e.data))
    .where('created_at', '=', e.createdAt)
    .executeTakeFirst();
  return Number(r.numUpdatedRows) > 0;
}

export async function deleteEnrollment(db: Kysely<Database>, userId: string, factorId: string): Promise<void> {
  await db.deleteFrom('mfa_enrollments').where('user_id', '=', userId).where('factor_id', '=', factorId).execute();
}

/** Ordered by factor id. */
export async function listEnrollments(db: Kysely<Database>, userId: string): Promise<FactorEnrollment[]> {
  const rows = await db.selectFrom('mfa_enrollments').selectAll().where('user_id', '=', userId).orderBy('factor_id').execute();
  return rows.map(fromRow);
}

/**
 * Overwrites the set in one transaction: upsert every index (unused again), then drop
 * the indexes beyond the new set. Concurrent replacements for one user lock the same
 * rows in the same order, so the last to commit leaves its whole set, never a mix and
 * never a duplicate-key failure (a delete-then-insert would collide on PostgreSQL).
 */
export async function replaceRecoveryCodes(db: Kysely<Database>, userId: string, hashes: string[], now: number): Promise<void> {
  await db.transaction().execute(async (trx) => {
    if (hashes.length > 0) {
      await trx
        .insertInto('mfa_recovery_codes')
        .values(hashes.map((hash, idx) => ({ user_id: userId, idx, hash, used_at: null, created_at: now })))
        .onConflict((oc) =>
          oc.columns(['user_id', 'idx']).doUpdateSet((eb) => ({ hash: eb.ref('excluded.hash'), used_at: null, created_at: eb.ref('excluded.created_at') })),
        )
        .execute();
    }
    await trx.deleteFrom('mfa_recovery_codes').where('user_id', '=', userId).where('idx', '>=', hashes.length).execute();
  });
}

/** Ordered by index. */
export async function listRecoveryCodes(db: Kysely<Database>, userId: string): Promise<RecoveryCodeRecord[]> {
  const rows = await db.selectFrom('mfa_recovery_codes').select(['idx', 'hash', 'used_at']).where('user_id', '=', userId).orderBy('idx').execute();
  return rows.map((r) => ({ index: r.idx, hash: r.hash, usedAt: r.used_at }));
}

export async function markRecoveryCodeUsed(db: Kysely<Database>, userId: string, index: number, hash: string, now: number): Promise<boolean> {
  const r = await db
    .updateTable('mfa_recovery_codes')
    .set({ used_at: now })
    .where('user_id', '=', userId)
    .where('idx', '=', index)
    .where('hash', '=', hash)
    .where('used_at', 'is', null)
    .executeTakeFirst();
  return Number(r.numUpdatedRows) > 0;
}

export async function deleteRecoveryCodes(db: Kysely<Database>, userId: string): Promise<void> {
  await db.deleteFrom('mfa_recovery_codes').where('user_id', '=', userId).execute();
}
