/** Queries on the `apps` table (AppStore). */
import type { Kysely, Selectable, Updateable } from 'kysely';
import { PortcullisError } from '../../core/errors.js';
import type { PageRequest } from '../../core/page.js';
import type { AppPatch, AppRecord, ClientAuthMethod } from '../../tokens/store.js';
import { after } from './keyset.js';
import type { AppsTable, Database } from './schema.js';

function toRow(a: AppRecord): AppsTable {
  return {
    client_id: a.clientId,
    name: a.name,
    audiences: JSON.stringify(a.audiences),
    scopes: JSON.stringify(a.scopes),
    token_endpoint_auth_method: a.tokenEndpointAuthMethod,
    secret_verifier: a.secretVerifier,
    jwks: a.jwks === null ? null : JSON.stringify(a.jwks),
    status: a.status,
    tokens_revoked_before: a.tokensRevokedBefore,
    created_at: a.createdAt,
    updated_at: a.updatedAt,
    redirect_uris: JSON.stringify(a.redirectUris ?? []),
    post_logout_redirect_uris: JSON.stringify(a.postLogoutRedirectUris ?? []),
    app_type: a.appType ?? 'confidential',
    grant_types: JSON.stringify(a.grantTypes ?? ['client_credentials']),
    mfa_required: a.mfaRequired ? 1 : 0,
    served_audiences: JSON.stringify(a.servedAudiences ?? []),
  };
}

/** Migration 0004 columns; absent means the default (a client-credentials-only confidential app), so older records round-trip unchanged. */
function oidcFields(r: Selectable<AppsTable>): Partial<AppRecord> {
  const out: Partial<AppRecord> = {};
  const redirectUris = JSON.parse(r.redirect_uris ?? '[]') as string[];
  const postLogout = JSON.parse(r.post_logout_redirect_uris ?? '[]') as string[];
  const grantTypes = JSON.parse(r.grant_types ?? '["client_credentials"]') as NonNullable<AppRecord['grantTypes']>;
  if (redirectUris.length) out.redirectUris = redirectUris;
  if (postLogout.length) out.postLogoutRedirectUris = postLogout;
  if ((r.app_type ?? 'confidential') !== 'confidential') out.appType = r.app_type as NonNullable<AppRecord['appType']>;
  if (!(grantTypes.length === 1 && grantTypes[0] === 'client_credentials')) out.grantTypes = grantTypes;
  if (Number(r.mfa_required ?? 0) === 1) out.mfaRequired = true;
  return out;
}

/** Migration 0017 column; absent (or null, in a row from before it) means the app serves no audience. */
function servedFields(r: Selectable<AppsTable>): Partial<AppRecord> {
  const served = JSON.parse(r.served_audiences ?? '[]') as string[];
  return served.length ? { servedAudiences: served } : {};
}

function fromRow(r: Selectable<AppsTable>): AppRecord {
  return {
    clientId: r.client_id,
    name: r.name,
    audiences: JSON.parse(r.audiences) as string[],
    scopes: JSON.parse(r.scopes) as string[],
    tokenEndpointAuthMethod: r.token_endpoint_auth_method as ClientAuthMethod,
    secretVerifier: r.secret_verifier,
    jwks: r.jwks === null ? null : (JSON.parse(r.jwks) as AppRecord['jwks']),
    status: r.status as AppRecord['status'],
    tokensRevokedBefore: r.tokens_revoked_before,
    createdAt: r.created_at,
    updatedAt: r.updated_at,
    ...oidcFields(r),
    ...servedFields(r),
  };
}

function patchToRow(p: AppPatch): Updateable<AppsTable> {
  const u: Updateable<AppsTable> = {};
  if (p.name !== undefined) u.name = p.name;
  if (p.audiences !== undefined) u.audiences = JSON.stringify(p.audiences);
  if (p.scopes !== undefined) u.scopes = JSON.stringify(p.scopes);
  if (p.tokenEndpointAuthMethod !== undefined) u.token_endpoint_auth_method = p.tokenEndpointAuthMethod;
  if (p.secretVerifier !== undefined) u.secret_verifier = p.secretVerifier;
  if (p.jwks !== undefined) u.jwks = p.jwks === null ? null : JSON.stringify(p.jwks);
  if (p.status !== undefined) u.status = p.status;
  if (p.tokensRevokedBefore !== undefined) u.tokens_revoked_before = p.tokensRevokedBefore;
  if (p.redirectUris !== undefined) u.redirect_uris = JSON.stringify(p.redirectUris);
  if (p.postLogoutRedirectUris !== undefined) u.post_logout_redirect_uris = JSON.stringify(p.postLogoutRedirectUris);
  if (p.appType !== undefined) u.app_type = p.appType;
  if (p.grantTypes !== undefined) u.grant_types = JSON.stringify(p.grantTypes);
  if (p.mfaRequired !== undefined) u.mfa_required = p.mfaRequired ? 1 : 0;
  if (p.servedAudiences !== undefined) u.served_audiences = JSON.stringify(p.servedAudiences);
  return u;
}

export async function createApp(db: Kysely<Database>, app: AppRecord): Promise<void> {
  const r = await db
    .insertInto('apps')
    .values(toRow(app))
    .onConflict((oc) => oc.column('client_id').doNothing())
    .executeTakeFirst();
  if (Number(r.numInsertedOrUpdatedRows ?? 0) === 0) throw new PortcullisError('conflict', `an app with client id ${app.clientId} exists`);
}

export async function getApp(db: Kysely<Database>, clientId: string): Promise<AppRecord | undefined> {
  const r = await db.selectFrom('apps').selectAll().where('client_id', '=', clientId).executeTakeFirst();
  return r && fromRow(r);
}

export async function listApps(db: Kysely<Database>, page?: PageRequest): Promise<AppRecord[]> {
  let q = db.selectFrom('apps').selectAll();
  if (page?.after !== undefined) q = q.where(after('created_at', 'client_id', page.after.createdAt, page.after.id));
  q = q.orderBy('created_at').orderBy('client_id');
  if (page !== undefined) q = q.limit(page.limit);
  return (await q.execute()).map(fromRow);
}

export async function updateApp(db: Kysely<Database>, clientId: string, patch: AppPatch, now: number): Promise<AppRecord | undefined> {
  const r = await db
    .updateTable('apps')
    .set({ ...patchToRow(patch), updated_at: now })
    .where('client_id', '=', clientId)
    .returningAll()
    .executeTakeFirst();
  return r && fromRow(r);
}

export async function replaceAppSecret(db: Kysely<Database>, clientId: string, expected: string | null, next: string, now: number): Promise<AppRecord | 'changed' | undefined> {
  const r = await db
    .updateTable('apps')
    .set({ secret_verifier: next, updated_at: now })
    .where('client_id', '=', clientId)
    .where('secret_verifier', expected === null ? 'is' : '=', expected)
    .returningAll()
    .executeTakeFirst();
  if (r) return fromRow(r);
  return (await getApp(db, clientId)) ? 'changed' : undefined;
}
