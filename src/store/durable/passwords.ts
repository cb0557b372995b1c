/**
 * Queries on the `password_hashes` table (PasswordStore). Replacing a hash is a
 * compare-and-set: an UPDATE that matches the expected hash, or an insert that only
 * succeeds when the user has no row.
 */
import type { Kysely } from 'kysely';
import type { Database } from './schema.js';

export async function getPasswordHash(db: Kysely<Database>, userId: string): Promise<string | undefined> {
  const r = await db.selectFrom('password_hashes').select('hash').where('user_id', '=', userId).executeTakeFirst();
  return r?.hash;
}

export async function replacePasswordHash(db: Kysely<Database>, userId: string, expected: string | null, next: string): Promise<boolean> {
  if (expected === null) {
    const r = await db
      .insertInto('password_hashes')
      .values({ user_id: userId, hash: next })
      .onConflict((oc) => oc.column('user_id').doNothing())
      .executeTakeFirst();
    return Number(r.numInsertedOrUpdatedRows ?? 0) > 0;
  }
  const r = await db.updateTable('password_hashes').set({ hash: next }).where('user_id', '=', userId).where('hash', '=', expected).executeTakeFirst();
  return Number(r.numUpdatedRows) > 0;
}
