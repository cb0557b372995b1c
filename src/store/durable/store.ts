/**
 * The durable store over Kysely: one query layer for SQLite and PostgreSQL. The
 * dialect supplies the connection and how to serialise audit appends; every other
 * method is the same SQL on both. Failures other than PortcullisErrors surface as
 * `store.unavailable` (fail closed; the cause is kept for the log).
 */
import { sql, type Kysely } from 'kysely';
import { PortcullisError } from '../../core/errors.js';
import type { AuditEventInput, AuditRow } from '../../audit/store.js';
import type { KeyPatch, StoredKey } from '../../crypto/store.js';
import type { AppPatch, AppRecord, RevokedToken } from '../../tokens/store.js';
import type { DurableStore } from '../types.js';
import type { Database } from './schema.js';
import * as apps from './apps.js';
import * as audit from './audit-log.js';
import * as keys from './key-ring.js';
import * as revoked from './revoked-tokens.js';
import * as settings from './settings.js';
import { migrateToLatest } from '../migrations/index.js';

export interface Dialect {
  kind: DurableStore['kind'];
  db: Kysely<Database>;
  /** Runs `fn` in a transaction that excludes every other `serialized` caller, on any node. */
  serialized<T>(fn: (db: Kysely<Database>) => Promise<T>): Promise<T>;
  /** Releases this instance's hold on the connection(s). */
  close(): Promise<void>;
}

export class KyselyDurableStore implements DurableStore {
  readonly kind: DurableStore['kind'];
  private readonly db: Kysely<Database>;
  private closed = false;

  constructor(private readonly dialect: Dialect) {
    this.kind = dialect.kind;
    this.db = dialect.db;
  }

  private async run<T>(op: string, fn: (db: Kysely<Database>) => Promise<T>): Promise<T> {
    if (this.closed) throw new PortcullisError('store.unavailable', `durable store is closed (${op})`);
    try {
      return await fn(this.db);
    } catch (e) {
      if (e instanceof PortcullisError) throw e;
      throw new PortcullisError('store.unavailable', `durable store ${op} failed`, { cause: e });
    }
  }

  createApp(app: AppRecord): Promise<void> {
    return this.run('createApp', (db) => apps.createApp(db, app));
  }
  getApp(clientId: string): Promise<AppRecord | undefined> {
    return this.run('getApp', (db) => apps.getApp(db, clientId));
  }
  listApps(): Promise<AppRecord[]> {
    return this.run('listApps', (db) => apps.listApps(db));
  }
  updateApp(clientId: string, patch: AppPatch, now: number): Promise<AppRecord | undefined> {
    return this.run('updateApp', (db) => apps.updateApp(db, clientId, patch, now));
  }

  revokeToken(token: RevokedToken): Promise<void> {
    return this.run('revokeToken', (db) => revoked.revokeToken(db, token));
  }
  listRevokedTokens(now: number): Promise<RevokedToken[]> {
    return this.run('listRevokedTokens', (db) => revoked.listRevokedTokens(db, now));
  }
  purgeRevokedTokens(now: number): Promise<number> {
    return this.run('purgeRevokedTokens', (db) => revoked.purgeRevokedTokens(db, now));
  }

  insertKey(key: StoredKey): Promise<void> {
    return this.run('insertKey', (db) => keys.insertKey(db, key));
  }
  listKeys(): Promise<StoredKey[]> {
    return this.run('listKeys', (db) => keys.listKeys(db));
  }
  updateKey(kid: string, patch: KeyPatch): Promise<void> {
    return this.run('updateKey', (db) => keys.updateKey(db, kid, patch));
  }
  deleteKey(kid: string): Promise<void> {
    return this.run('deleteKey', (db) => keys.deleteKey(db, kid));
  }

  getSetting(name: string): Promise<string | undefined> {
    return this.run('getSetting', (db) => settings.getSetting(db, name));
  }
  setSettingIfAbsent(name: string, value: string): Promise<string> {
    return this.run('setSettingIfAbsent', (db) => settings.setSettingIfAbsent(db, name, value));
  }
  putSetting(name: string, value: string): Promise<void> {
    return this.run('putSetting', (db) => settings.putSetting(db, name, value));
  }

  appendAudit(events: AuditEventInput[], chainHash: (prevHash: string, seq: number, e: AuditEventInput) => string): Promise<void> {
    if (events.length === 0) return Promise.resolve();
    return this.run('appendAudit', () => this.dialect.serialized((db) => audit.appendAuditLocked(db, events, chainHash)));
  }
  listAudit(afterSeq: number, limit: number): Promise<AuditRow[]> {
    return this.run('listAudit', (db) => audit.listAudit(db, afterSeq, limit));
  }
  tailAudit(limit: number): Promise<AuditRow[]> {
    return this.run('tailAudit', (db) => audit.tailAudit(db, limit));
  }

  /** Applies pending schema migrations; returns their names. Called by openDurableStore. */
  migrate(): Promise<string[]> {
    return this.run('migrate', (db) => migrateToLatest(db));
  }

  async ping(): Promise<void> {
    await this.run('ping', (db) => sql`select 1`.execute(db));
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.dialect.close();
  }
}
