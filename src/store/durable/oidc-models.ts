/**
 * Queries on `oidc_models`: oidc-provider's adapter storage. `consume` is a
 * compare-and-set (`where consumed_at is null`), so of two concurrent uses of one
 * authorization code or refresh token exactly one wins.
 */
import type { Kysely, Selectable } from 'kysely';
import type { OidcModelRecord } from '../../identity/store.js';

export interface OidcModelsTable {
  model: string;
  id: string;
  /** JSON. */
  payload: string;
  expires_at: number | null;
  grant_id: string | null;
  user_code: string | null;
  uid: string | null;
  account_id: string | null;
  consumed_at: number | null;
}

export interface OidcModelsDatabase {
  oidc_models: OidcModelsTable;
}

type Db = Kysely<OidcModelsDatabase>;

function fromRow(r: Selectable<OidcModelsTable>): OidcModelRecord {
  return {
    model: r.model,
    id: r.id,
    payload: JSON.parse(r.payload) as Record<string, unknown>,
    expiresAt: r.expires_at === null ? null : Number(r.expires_at),
    grantId: r.grant_id,
    userCode: r.user_code,
    uid: r.uid,
    accountId: r.account_id,
    consumedAt: r.consumed_at === null ? null : Number(r.consumed_at),
  };
}

export async function upsertOidcModel(db: Db, m: OidcModelRecord): Promise<void> {
  const row: OidcModelsTable = {
    model: m.model,
    id: m.id,
    payload: JSON.stringify(m.payload),
    expires_at: m.expiresAt,
    grant_id: m.grantId,
    user_code: m.userCode,
    uid: m.uid,
    account_id: m.accountId,
    consumed_at: m.consumedAt,
  };
  const { model: _m, id: _i, consumed_at: _c, ...update } = row;
  await db
    .insertInto('oidc_models')
    .values(row)
    .onConflict((oc) => oc.columns(['model', 'id']).doUpdateSet(update))
    .execute();
}

export async function findOidcModel(db: Db, model: string, id: string): Promise<OidcModelRecord | undefined> {
  const r = await db.selectFrom('oidc_models').selectAll().where('model', '=', model).where('id', '=', id).executeTakeFirst();
  return r && fromRow(r);
}

export async function findOidcModelBy(db: Db, model: string, column: 'uid' | 'userCode', value: string): Promise<OidcModelRecord | undefined> {
  const r = await db
    .selectFrom('oidc_models')
    .selectAll()
    .where('model', '=', model)
    .where(column === 'uid' ? 'uid' : 'user_code', '=', value)
    .executeTakeFirst();
  return r && fromRow(r);
}

export async function destroyOidcModel(db: Db, model: string, id: string): Promise<void> {
  await db.deleteFrom('oidc_models').where('model', '=', model).where('id', '=', id).execute();
}

export async function revokeOidcGrant(db: Db, grantId: string): Promise<OidcModelRecord[]> {
  const rows = await db.deleteFrom('oidc_models').where('grant_id', '=', grantId).returningAll().execute();
  return rows.map(fromRow);
}

export async function consumeOidcModel(db: Db, model: string, id: string, now: number): Promise<boolean> {
  const r = await db
    .updateTable('oidc_models')
    .set({ consumed_at: now })
    .where('model', '=', model)
    .where('id', '=', id)
    .where('consumed_at', 'is', null)
    .executeTakeFirst();
  return Number(r.numUpdatedRows) === 1;
}

export async function listOidcModelsByAccount(db: Db, model: string, accountId: string): Promise<OidcModelRecord[]> {
  return (await db.selectFrom('oidc_models').selectAll().where('model', '=', model).where('account_id', '=', accountId).execute()).map(fromRow);
}

export async function purgeOidcModels(db: Db, now: number): Promise<number> {
  const r = await db.deleteFrom('oidc_models').where('expires_at', 'is not', null).where('expires_at', '<', now).executeTakeFirst();
  return Number(r.numDeletedRows);
}
