/** Queries on `webauthn_credentials` (WebAuthnStore). The counter update is a compare-and-set that a suspended credential fails. */
import type { Kysely, Selectable } from 'kysely';
import { PortcullisError } from '../../core/errors.js';
import type { WebAuthnCredentialRecord } from '../../identity/store.js';

export interface WebAuthnCredentialsTable {
  id: string;
  user_id: string;
  name: string;
  public_key: string;
  counter: number;
  /** JSON array. */
  transports: string;
  backed_up: number;
  device_type: string;
  created_at: number;
  last_used_at: number | null;
  suspended_at: number | null;
}

export interface WebAuthnDatabase {
  webauthn_credentials: WebAuthnCredentialsTable;
}

type Db = Kysely<WebAuthnDatabase>;

function fromRow(r: Selectable<WebAuthnCredentialsTable>): WebAuthnCredentialRecord {
  return {
    id: r.id,
    userId: r.user_id,
    name: r.name,
    publicKey: r.public_key,
    counter: Number(r.counter),
    transports: JSON.parse(r.transports) as string[],
    backedUp: Number(r.backed_up) === 1,
    deviceType: r.device_type,
    createdAt: Number(r.created_at),
    lastUsedAt: r.last_used_at === null ? null : Number(r.last_used_at),
    suspendedAt: r.suspended_at === null ? null : Number(r.suspended_at),
  };
}

export async function addWebAuthnCredential(db: Db, c: WebAuthnCredentialRecord): Promise<void> {
  const r = await db
    .insertInto('webauthn_credentials')
    .values({
      id: c.id,
      user_id: c.userId,
      name: c.name,
      public_key: c.publicKey,
      counter: c.counter,
      transports: JSON.stringify(c.transports),
      backed_up: c.backedUp ? 1 : 0,
      device_type: c.deviceType,
      created_at: c.createdAt,
      last_used_at: c.lastUsedAt,
      suspended_at: c.suspendedAt,
    })
    .onConflict((oc) => oc.column('id').doNothing())
    .executeTakeFirst();
  if (Number(r.numInsertedOrUpdatedRows ?? 0) === 0) throw new PortcullisError('conflict', 'this credential is already registered');
}

export async function getWebAuthnCredential(db: Db, id: string): Promise<WebAuthnCredentialRecord | undefined> {
  const r = await db.selectFrom('webauthn_credentials').selectAll().where('id', '=', id).executeTakeFirst();
  return r && fromRow(r);
}

export async function listWebAuthnCredentials(db: Db, userId: string): Promise<WebAuthnCredentialRecord[]> {
  return (await db.selectFrom('webauthn_credentials').selectAll().where('user_id', '=', userId).orderBy('created_at').execute()).map(fromRow);
}

export async function renameWebAuthnCredential(db: Db, userId: string, id: string, name: string): Promise<boolean> {
  const r = await db.updateTable('webauthn_credentials').set({ name }).where('id', '=', id).where('user_id', '=', userId).executeTakeFirst();
  return Number(r.numUpdatedRows) === 1;
}

export async function deleteWebAuthnCredential(db: Db, userId: string, id: string): Promise<boolean> {
  const r = await db.deleteFrom('webauthn_credentials').where('id', '=', id).where('user_id', '=', userId).executeTakeFirst();
  return Number(r.numDeletedRows) === 1;
}

export async function updateWebAuthnCounter(db: Db, id: string, expected: number, next: number, now: number): Promise<boolean> {
  const r = await db
    .updateTable('webauthn_credentials')
    .set({ counter: next, last_used_at: now })
    .where('id', '=', id)
    .where('counter', '=', expected)
    .where('suspended_at', 'is', null)
    .executeTakeFirst();
  return Number(r.numUpdatedRows) === 1;
}

export async function suspendWebAuthnCredential(db: Db, id: string, now: number): Promise<boolean> {
  const r = await db.updateTable('webauthn_credentials').set({ suspended_at: now }).where('id', '=', id).where('suspended_at', 'is', null).executeTakeFirst();
  return Number(r.numUpdatedRows) === 1;
}
