/** Queries on the `revoked_tokens` table (TokenRevocationStore). */
import type { Kysely } from 'kysely';
import type { RevokedToken } from '../../tokens/store.js';
import type { Database } from './schema.js';

/** Idempotent: a second revocation of the same jti keeps the first record. */
export async function revokeToken(db: Kysely<Database>, t: RevokedToken): Promise<void> {
  await db
    .insertInto('revoked_tokens')
    .values({ jti: t.jti, client_id: t.clientId, expires_at: t.expiresAt, revoked_at: t.revokedAt })
    .onConflict((oc) => oc.column('jti').doNothing())
    .execute();
}

export async function listRevokedTokens(db: Kysely<Database>, now: number): Promise<RevokedToken[]> {
  const rows = await db.selectFrom('revoked_tokens').selectAll().where('expires_at', '>', now).orderBy('revoked_at').orderBy('jti').execute();
  return rows.map((r) => ({ jti: r.jti, clientId: r.client_id, expiresAt: r.expires_at, revokedAt: r.revoked_at }));
}

export async function purgeRevokedTokens(db: Kysely<Database>, now: number): Promise<number> {
  const r = await db.deleteFrom('revoked_tokens').where('expires_at', '<', now).executeTakeFirst();
  return Number(r.numDeletedRows);
}
