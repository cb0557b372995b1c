/** Queries on the `users` table (UserStore); deleting a user removes everything keyed by the user id. */
import type { Kysely, Selectable } from 'kysely';
import { PortcullisError } from '../../core/errors.js';
import type { PageRequest } from '../../core/page.js';
import type { UserPatch, UserRecord } from '../../identity/store.js';
import { after } from './keyset.js';

export interface UsersTable {
  id: string;
  email: string;
  email_normalized: string;
  status: string;
  /** 0 or 1. */
  mfa_required: number;
  tokens_revoked_before: number;
  created_at: number;
  updated_at: number;
}

export interface UsersDatabase {
  users: UsersTable;
}

function toRow(u: UserRecord): UsersTable {
  return {
    id: u.id,
    email: u.email,
    email_normalized: u.emailNormalized,
    status: u.status,
    mfa_required: u.mfaRequired ? 1 : 0,
    tokens_revoked_before: u.tokensRevokedBefore,
    created_at: u.createdAt,
    updated_at: u.updatedAt,
  };
}

function fromRow(r: Selectable<UsersTable>): UserRecord {
  return {
    id: r.id,
    email: r.email,
    emailNormalized: r.email_normalized,
    status: r.status as UserRecord['status'],
    mfaRequired: Number(r.mfa_required) === 1,
    tokensRevokedBefore: Number(r.tokens_revoked_before),
    createdAt: Number(r.created_at),
    updatedAt: Number(r.updated_at),
  };
}

export async function createUser(db: Kysely<UsersDatabase>, user: UserRecord): Promise<void> {
  const r = await db.insertInto('users').values(toRow(user)).onConflict((oc) => oc.doNothing()).executeTakeFirst();
  if (Number(r.numInsertedOrUpdatedRows ?? 0) === 0) throw new PortcullisError('conflict', 'a user with this e-mail address exists');
}

export async function getUser(db: Kysely<UsersDatabase>, id: string): Promise<UserRecord | undefined> {
  const r = await db.selectFrom('users').selectAll().where('id', '=', id).executeTakeFirst();
  return r && fromRow(r);
}

export async function getUserByEmail(db: Kysely<UsersDatabase>, emailNormalized: string): Promise<UserRecord | undefined> {
  const r = await db.selectFrom('users').selectAll().where('email_normalized', '=', emailNormalized).executeTakeFirst();
  return r && fromRow(r);
}

export async function listUsers(db: Kysely<UsersDatabase>, page?: PageRequest): Promise<UserRecord[]> {
  let q = db.selectFrom('users').selectAll();
  if (page?.after !== undefined) q = q.where(after('created_at', 'id', page.after.createdAt, page.after.id));
  q = q.orderBy('created_at').orderBy('id');
  if (page !== undefined) q = q.limit(page.limit);
  return (await q.execute()).map(fromRow);
}

export async function listUserTokenWatermarks(db: Kysely<UsersDatabase>): Promise<Array<{ userId: string; tokensRevokedBefore: number }>> {
  const rows = await db.selectFrom('users').select(['id', 'tokens_revoked_before']).where('tokens_revoked_before', '>', 0).execute();
  return rows.map((r) => ({ userId: r.id, tokensRevokedBefore: Number(r.tokens_revoked_before) }));
}

export async function updateUser(db: Kysely<UsersDatabase>, id: string, p: UserPatch, now: number): Promise<UserRecord | undefined> {
  const u: Partial<UsersTable> = { updated_at: now };
  if (p.email !== undefined) u.email = p.email;
  if (p.emailNormalized !== undefined) u.email_normalized = p.emailNormalized;
  if (p.status !== undefined) u.status = p.status;
  if (p.mfaRequired !== undefined) u.mfa_required = p.mfaRequired ? 1 : 0;
  if (p.tokensRevokedBefore !== undefined) u.tokens_revoked_before = p.tokensRevokedBefore;
  const r = await db.updateTable('users').set(u).where('id', '=', id).returningAll().executeTakeFirst();
  return r && fromRow(r);
}

/** Deletes the user and every row keyed by the user id, in one transaction. */
export async function deleteUser(db: Kysely<any>, id: string): Promise<boolean> {
  return db.transaction().execute(async (tx) => {
    for (const t of ['password_hashes', 'mfa_enrollments', 'mfa_recovery_codes', 'webauthn_credentials']) {
      await tx.deleteFrom(t).where('user_id', '=', id).execute();
    }
    await tx.deleteFrom('oidc_models').where('account_id', '=', id).execute();
    const r = await tx.deleteFrom('users').where('id', '=', id).executeTakeFirst();
    return Number(r.numDeletedRows) > 0;
  });
}
