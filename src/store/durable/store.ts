/**
 * The durable store over Kysely: one query layer for SQLite and PostgreSQL. The
 * dialect supplies the connection and how to serialise audit appends; every other
 * method is the same SQL on both. Failures other than PortcullisErrors surface as
 * `store.unavailable` (fail closed; the cause is kept for the log). A failure of the
 * storage itself (disk full, read-only, I/O error) also makes `ping`, the readiness
 * check, fail `store.not-writable` until a probe write succeeds (write-faults.ts).
 */
import { sql, type Kysely } from 'kysely';
import { PortcullisError } from '../../core/errors.js';
import type { CreatedCursor, PageRequest } from '../../core/page.js';
import type { AuditEventInput, AuditRow } from '../../audit/store.js';
import type { AuditHeadKey, RecordedHead } from '../../audit/head-key.js';
import type { KeyPatch, StoredKey } from '../../crypto/store.js';
import type { AppPatch, AppRecord, RevokedToken } from '../../tokens/store.js';
import type { CaRecord, CertificateFilter, CertificateRecord, CrlPublication, PublishedCrl, RevocationReason } from '../../pki/store.js';
import type { FactorEnrollment, RecoveryCodeRecord } from '../../mfa/store.js';
import type { AppSigningKeyRecord } from '../../tokens/app-keys-store.js';
import type { AbandonedCount, AttemptResult, DeliveryCap, DeliveryRecord, NewWebhook, WebhookEvents, WebhookRecord } from '../../webhooks/store.js';
import type { DurableStore } from '../types.js';
import type { Database } from './schema.js';
import * as apps from './apps.js';
import * as audit from './audit-log.js';
import { chainHash as trailChainHash } from '../../audit/trail.js';
import type { SqliteAuditWriter } from './audit-writer.js';
import * as cas from './certificate-authorities.js';
import * as certs from './certificates.js';
import * as keys from './key-ring.js';
import * as mfa from './mfa.js';
import * as passwords from './passwords.js';
import * as revoked from './revoked-tokens.js';
import * as settings from './settings.js';
import { KyselyIdentityStore } from './identity-store.js';
import { sqliteCommitStats } from './sqlite.js';
import type { SqliteCommitStats } from './sqlite-driver.js';
import { storeError } from './store-error.js';
import { WriteFaults } from './write-faults.js';
import type { Logger } from '../../core/logger.js';
import type { LockoutRecord, OidcModelRecord, SecondFactorRef, UserPatch, UserRecord, WebAuthnCredentialRecord } from '../../identity/store.js';
import * as appKeys from './app-signing-keys.js';
import * as webhooks from './webhooks.js';
import * as appEncKeys from './app-encryption-keys.js';
import * as transit from './transit.js';
import * as sealed from './sealed-values.js';
import * as keyUsage from './key-usage.js';
import * as lockoutState from './lockout-state.js';
import type { AppEncryptionKeyRecord } from '../../tokens/app-encryption-keys-store.js';
import type { TransitKeyConfigPatch, TransitKeyRecord, TransitKeyVersion } from '../../crypto/transit/store.js';
import type { SealedValueRef } from '../../crypto/store.js';
import { migrateToLatest } from '../migrations/index.js';

export interface Dialect {
  kind: DurableStore['kind'];
  db: Kysely<Database>;
  /** Runs `fn` in a transaction that excludes every other `serialized` caller, on any node. */
  serialized<T>(fn: (db: Kysely<Database>) => Promise<T>): Promise<T>;
  /** Runs `fn` without the runtime statement timeout (schema migrations), on a connection of its own where there is one. */
  unbounded<T>(fn: (db: Kysely<Database>) => Promise<T>): Promise<T>;
  /** Releases this instance's hold on the connection(s). */
  close(): Promise<void>;
  /** SQLite: throws when the path no longer names the database file open (deleted or replaced; sqlite.ts). */
  checkFile?(): void;
  /** Calls `fn` with when each write acknowledged on `db` was issued (acknowledged-writes.ts), until the returned function is called. */
  onWrite?(fn: (issuedAt: number) => void): () => void;
  /** PostgreSQL: calls `fn` when the store is reached again after it was taken for down (breaker.ts). */
  onReachable?(fn: () => void): void;
  /** PostgreSQL: while the store is taken for down, why, as an error `/readyz` may show (`details.reason`; breaker.ts). */
  downReason?(): PortcullisError | undefined;
  /** PostgreSQL: `synchronous_commit` of a runtime session (server, database, role or connection options decide it). */
  synchronousCommit?(): Promise<string>;
}

/**
 * What a node logs at start when PostgreSQL acknowledges commits before flushing them
 * (`synchronous_commit = off`): every other value, `local` included, flushes the commit's
 * WAL on the server before it is acknowledged.
 */
export const SYNCHRONOUS_COMMIT_OFF_WARNING =
  "PostgreSQL synchronous_commit is off for the store's sessions (set on the server, the database, the role or in the connection's options): commits are acknowledged before they are flushed, so a crash of the PostgreSQL server loses writes Portcullis already acknowledged (revocations, audit events, key rotations, sign-in state); set synchronous_commit to on (or local) for Portcullis's role or database";

/** The row the write probe updates while the store is not writable (a setting no code reads). */
export const WRITE_PROBE_SETTING = 'store.write-probe';

/** The number the next CRL of a CA takes: above its counter and its published CRL. */
function nextCrl(last: bigint, published: bigint | undefined): bigint {
  return (published !== undefined && published > last ? published : last) + 1n;
}

export class KyselyDurableStore implements DurableStore {
  readonly kind: DurableStore['kind'];
  private readonly db: Kysely<Database>;
  private closed = false;
  private readonly writeFaults: WriteFaults;
  private headKey: AuditHeadKey | undefined;
  private readonly offWrite: (() => void) | undefined;

  /**
   * `auditWriter`: audit appends go to a thread of their own (SQLite files; see
   * audit-writer.ts) instead of this connection, when they use the trail's chain hash.
   */
  constructor(
    private readonly dialect: Dialect,
    private readonly opts: { auditWriter?: SqliteAuditWriter; logger?: Logger } = {},
  ) {
    this.kind = dialect.kind;
    this.db = dialect.db;
    // a committed write (an fsync on SQLite): a rolled-back one would not reach the disk, and a full disk would pass it
    this.writeFaults = new WriteFaults({ probe: () => this.run('writeProbe', (db) => settings.putSetting(db, WRITE_PROBE_SETTING, String(Date.now()))), logger: opts.logger });
    // a write that succeeded proves writability at once (no wait for the probe): /readyz turns ready as soon as writes work
    this.offWrite = dialect.onWrite?.((at) => this.writeFaults.written(at));
    dialect.onReachable?.(() => this.writeFaults.reachable());
    const note = (e: unknown): void => this.writeFaults.note(e);
    this.identity = new KyselyIdentityStore(dialect.db, note);
    if (opts.auditWriter) opts.auditWriter.onFailure = note;
  }

  /** Calls `fn` when the store stops or starts again taking writes (`store.not-writable`, then undefined). */
  onWriteFault(fn: (fault: PortcullisError | undefined) => void): void {
    this.writeFaults.onChange(fn);
  }

  private synchronousCommitSetting: string | undefined;

  /**
   * PostgreSQL: reads `synchronous_commit` (kept for {@link synchronousCommit}) and warns
   * when it is `off`, as writes are then acknowledged before they are durable. Nothing on SQLite.
   */
  async checkCommitDurability(): Promise<void> {
    const read = this.dialect.synchronousCommit;
    if (read === undefined) return;
    const setting = await this.run('synchronousCommit', () => read.call(this.dialect));
    this.synchronousCommitSetting = setting;
    if (setting === 'off') this.opts.logger?.warn({ synchronousCommit: setting }, SYNCHRONOUS_COMMIT_OFF_WARNING);
  }

  /** PostgreSQL only: `synchronous_commit` as read at start (for metrics); undefined on SQLite or before it was read. */
  synchronousCommit(): string | undefined {
    return this.synchronousCommitSetting;
  }

  /** SQLite only: the connection's group commits so far (for metrics); undefined on PostgreSQL. */
  commitStats(): SqliteCommitStats | undefined {
    return sqliteCommitStats(this.db);
  }

  private async run<T>(op: string, fn: (db: Kysely<Database>) => Promise<T>): Promise<T> {
    if (this.closed) throw new PortcullisError('store.unavailable', `durable store is closed (${op})`);
    try {
      return await fn(this.db);
    } catch (e) {
      this.writeFaults.note(e);
      throw storeError(op, e);
    }
  }

  // users, oidc-provider models, WebAuthn credentials (identity/store.ts): identity-store.ts
  private readonly identity: KyselyIdentityStore;
  private ident<T>(op: string, fn: (i: KyselyIdentityStore) => Promise<T>): Promise<T> {
    if (this.closed) return Promise.reject(new PortcullisError('store.unavailable', `durable store is closed (${op})`));
    return fn(this.identity);
  }
  createUser(u: UserRecord) { return this.ident('createUser', (i) => i.createUser(u)); }
  getUser(id: string) { return this.ident('getUser', (i) => i.getUser(id)); }
  getUserByEmail(e: string) { return this.ident('getUserByEmail', (i) => i.getUserByEmail(e)); }
  listUsers(page?: PageRequest) { return this.ident('listUsers', (i) => i.listUsers(page)); }
  listUserTokenWatermarks() { return this.ident('listUserTokenWatermarks', (i) => i.listUserTokenWatermarks()); }
  updateUser(id: string, p: UserPatch, now: number) { return this.ident('updateUser', (i) => i.updateUser(id, p, now)); }
  deleteUser(id: string) { return this.ident('deleteUser', (i) => i.deleteUser(id)); }
  upsertOidcModel(r: OidcModelRecord) { return this.ident('upsertOidcModel', (i) => i.upsertOidcModel(r)); }
  findOidcModel(m: string, id: string) { return this.ident('findOidcModel', (i) => i.findOidcModel(m, id)); }
  findOidcModelBy(m: string, c: 'uid' | 'userCode', v: string) { return this.ident('findOidcModelBy', (i) => i.findOidcModelBy(m, c, v)); }
  destroyOidcModel(m: string, id: string) { return this.ident('destroyOidcModel', (i) => i.destroyOidcModel(m, id)); }
  revokeOidcGrant(g: string) { return this.ident('revokeOidcGrant', (i) => i.revokeOidcGrant(g)); }
  consumeOidcModel(m: string, id: string, now: number) { return this.ident('consumeOidcModel', (i) => i.consumeOidcModel(m, id, now)); }
  listOidcModelsByAccount(m: string, a: string) { return this.ident('listOidcModelsByAccount', (i) => i.listOidcModelsByAccount(m, a)); }
  purgeOidcModels(now: number) { return this.ident('purgeOidcModels', (i) => i.purgeOidcModels(now)); }
  addWebAuthnCredential(c: WebAuthnCredentialRecord) { return this.ident('addWebAuthnCredential', (i) => i.addWebAuthnCredential(c)); }
  getWebAuthnCredential(id: string) { return this.ident('getWebAuthnCredential', (i) => i.getWebAuthnCredential(id)); }
  listWebAuthnCredentials(u: string) { return this.ident('listWebAuthnCredentials', (i) => i.listWebAuthnCredentials(u)); }
  renameWebAuthnCredential(u: string, id: string, n: string) { return this.ident('renameWebAuthnCredential', (i) => i.renameWebAuthnCredential(u, id, n)); }
  deleteWebAuthnCredential(u: string, id: string) { return this.ident('deleteWebAuthnCredential', (i) => i.deleteWebAuthnCredential(u, id)); }
  removeSecondFactor(u: string, w: SecondFactorRef, keep?: readonly string[]) { return this.ident('removeSecondFactor', (i) => i.removeSecondFactor(u, w, keep)); }
  updateWebAuthnCounter(id: string, e: number, n: number, now: number) { return this.ident('updateWebAuthnCounter', (i) => i.updateWebAuthnCounter(id, e, n, now)); }
  suspendWebAuthnCredential(id: string, now: number) { return this.ident('suspendWebAuthnCredential', (i) => i.suspendWebAuthnCredential(id, now)); }

  createApp(app: AppRecord): Promise<void> {
    return this.run('createApp', (db) => apps.createApp(db, app));
  }
  getApp(clientId: string): Promise<AppRecord | undefined> {
    return this.run('getApp', (db) => apps.getApp(db, clientId));
  }
  listApps(page?: PageRequest): Promise<AppRecord[]> {
    return this.run('listApps', (db) => apps.listApps(db, page));
  }
  updateApp(clientId: string, patch: AppPatch, now: number): Promise<AppRecord | undefined> {
    return this.run('updateApp', (db) => apps.updateApp(db, clientId, patch, now));
  }
  replaceAppSecret(clientId: string, expected: string | null, next: string, now: number): Promise<AppRecord | 'changed' | undefined> {
    return this.run('replaceAppSecret', (db) => apps.replaceAppSecret(db, clientId, expected, next, now));
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
  setSettingIfAbsentAudited(name: string, value: string, event: AuditEventInput, chainHash: (prevHash: string, seq: number, e: AuditEventInput) => string): Promise<string> {
    // in the audit's serialised transaction, on this connection (not the SQLite audit thread): the setting and its row commit together
    return this.run('setSettingIfAbsentAudited', () =>
      this.dialect.serialized(async (db) => {
        const stored = await settings.setSettingIfAbsent(db, name, value);
        if (stored === value) await audit.appendAuditLocked(db, [event], chainHash, this.headKey);
        return stored;
      }),
    );
  }

  appendAudit(events: AuditEventInput[], chainHash: (prevHash: string, seq: number, e: AuditEventInput) => string): Promise<void> {
    if (events.length === 0) return Promise.resolve();
    // the thread hashes with the trail's chainHash (a function cannot be posted to it): another one is applied here
    const writer = this.opts.auditWriter;
    if (writer !== undefined && chainHash === trailChainHash) {
      if (this.closed) return Promise.reject(new PortcullisError('store.unavailable', 'durable store is closed (appendAudit)'));
      const issuedAt = performance.now();
      return writer.append(events).then(() => this.writeFaults.written(issuedAt));
    }
    return this.run('appendAudit', () => this.dialect.serialized((db) => audit.appendAuditLocked(db, events, chainHash, this.headKey)));
  }
  listAudit(afterSeq: number, limit: number): Promise<AuditRow[]> {
    return this.run('listAudit', (db) => audit.listAudit(db, afterSeq, limit));
  }
  tailAudit(limit: number): Promise<AuditRow[]> {
    return this.run('tailAudit', (db) => audit.tailAudit(db, limit));
  }
  auditHead(): Promise<RecordedHead | null> {
    return this.run('auditHead', (db) => audit.auditHead(db));
  }
  useAuditHeadKey(key: AuditHeadKey): void {
    this.headKey = key;
    this.opts.auditWriter?.useHeadKey(key);
  }
  auditedObjects(): Promise<string[]> {
    return this.run('auditedObjects', (db) => audit.auditedObjects(db));
  }
  auditRowsBeforeChain(): Promise<number> {
    return this.run('auditRowsBeforeChain', (db) => audit.auditRowsBeforeChain(db));
  }

  insertCertificate(rec: CertificateRecord): Promise<void> {
    return this.run('insertCertificate', (db) => certs.insertCertificate(db, rec));
  }
  getCertificate(serial: string): Promise<CertificateRecord | undefined> {
    return this.run('getCertificate', (db) => certs.getCertificate(db, serial));
  }
  listCertificates(filter?: CertificateFilter): Promise<CertificateRecord[]> {
    return this.run('listCertificates', (db) => certs.listCertificates(db, filter));
  }
  revokeCertificate(serial: string, at: number, reason: RevocationReason): Promise<CertificateRecord | undefined> {
    return this.run('revokeCertificate', (db) => certs.revokeCertificate(db, serial, at, reason));
  }
  listRevoked(issuerId: string): Promise<CertificateRecord[]> {
    return this.run('listRevoked', (db) => certs.listRevoked(db, issuerId));
  }
  nextCrlNumber(issuerId: string): Promise<bigint> {
    return this.run('nextCrlNumber', (db) => cas.nextCrlNumber(db, issuerId));
  }
  crlSnapshot(issuerId: string): Promise<{ number: bigint; revoked: CertificateRecord[] }> {
    // The counter row stays locked until commit (PostgreSQL's row lock; SQLite's
    // transactions begin IMMEDIATE): a concurrent snapshot draws the next number only
    // after this one committed, and its read (READ COMMITTED) then sees everything this one saw.
    return this.run('crlSnapshot', (db) =>
      db.transaction().execute(async (trx) => {
        const number = await cas.nextCrlNumber(trx, issuerId);
        return { number, revoked: await certs.listRevoked(trx, issuerId) };
      }),
    );
  }
  readCrlPublication(issuerId: string): Promise<CrlPublication> {
    // No transaction: on SQLite one would hold the node's connection and the write lock.
    return this.run('readCrlPublication', async (db) => {
      const last = await cas.readCrlNumber(db, issuerId);
      const published = await cas.getPublishedCrl(db, issuerId);
      const revoked = await certs.listRevoked(db, issuerId);
      return { published, next: nextCrl(last, published?.number), revoked };
    });
  }
  publishCrlIfUnchanged(issuerId: string, read: CrlPublication, crl: PublishedCrl): Promise<boolean> {
    if (crl.number !== read.next) return Promise.reject(new PortcullisError('internal', `a CRL must be published with number ${read.next}, not ${crl.number}`));
    // The counter row stays locked until commit (see crlSnapshot): of concurrent calls on
    // all nodes, each checks what the one before committed.
    return this.run('publishCrlIfUnchanged', (db) =>
      db.transaction().execute(async (trx) => {
        const last = await cas.lockCrlNumber(trx, issuerId);
        if (nextCrl(last, await cas.publishedCrlNumber(trx, issuerId)) !== read.next) return false;
        if ((await certs.countRevoked(trx, issuerId)) !== read.revoked.length) return false;
        await cas.putPublishedCrl(trx, issuerId, crl);
        return true;
      }),
    );
  }
  insertCa(rec: CaRecord): Promise<void> {
    return this.run('insertCa', (db) => cas.insertCa(db, rec));
  }
  getCa(id: string): Promise<CaRecord | undefined> {
    return this.run('getCa', (db) => cas.getCa(db, id));
  }
  listCas(): Promise<CaRecord[]> {
    return this.run('listCas', (db) => cas.listCas(db));
  }
  activateCa(id: string): Promise<void> {
    return this.run('activateCa', (db) => cas.activateCa(db, id));
  }
  setCaKeyRef(id: string, keyRef: string | null): Promise<void> {
    return this.run('setCaKeyRef', (db) => cas.setCaKeyRef(db, id, keyRef));
  }

  getEnrollment(userId: string, factorId: string): Promise<FactorEnrollment | undefined> {
    return this.run('getEnrollment', (db) => mfa.getEnrollment(db, userId, factorId));
  }
  putEnrollment(enrollment: FactorEnrollment): Promise<void> {
    return this.run('putEnrollment', (db) => mfa.putEnrollment(db, enrollment));
  }
  putPendingEnrollment(pending: FactorEnrollment): Promise<boolean> {
    return this.run('putPendingEnrollment', (db) => mfa.putPendingEnrollment(db, pending));
  }
  advanceLastStep(userId: string, factorId: string, next: number, to: number): Promise<boolean> {
    return this.run('advanceLastStep', (db) => mfa.advanceLastStep(db, userId, factorId, next, to));
  }
  confirmEnrollment(pending: FactorEnrollment, confirmedAt: number): Promise<boolean> {
    return this.run('confirmEnrollment', (db) => mfa.confirmEnrollment(db, pending, confirmedAt));
  }
  deleteEnrollment(userId: string, factorId: string): Promise<void> {
    return this.run('deleteEnrollment', (db) => mfa.deleteEnrollment(db, userId, factorId));
  }
  listEnrollments(userId: string): Promise<FactorEnrollment[]> {
    return this.run('listEnrollments', (db) => mfa.listEnrollments(db, userId));
  }
  replaceRecoveryCodes(userId: string, hashes: string[], now: number): Promise<void> {
    return this.run('replaceRecoveryCodes', (db) => mfa.replaceRecoveryCodes(db, userId, hashes, now));
  }
  listRecoveryCodes(userId: string): Promise<RecoveryCodeRecord[]> {
    return this.run('listRecoveryCodes', (db) => mfa.listRecoveryCodes(db, userId));
  }
  markRecoveryCodeUsed(userId: string, index: number, hash: string, now: number): Promise<boolean> {
    return this.run('markRecoveryCodeUsed', (db) => mfa.markRecoveryCodeUsed(db, userId, index, hash, now));
  }
  deleteRecoveryCodes(userId: string): Promise<void> {
    return this.run('deleteRecoveryCodes', (db) => mfa.deleteRecoveryCodes(db, userId));
  }

  getPasswordHash(userId: string): Promise<string | undefined> {
    return this.run('getPasswordHash', (db) => passwords.getPasswordHash(db, userId));
  }
  replacePasswordHash(userId: string, expected: string | null, next: string): Promise<boolean> {
    return this.run('replacePasswordHash', (db) => passwords.replacePasswordHash(db, userId, expected, next));
  }

  insertAppSigningKey(key: AppSigningKeyRecord): Promise<void> {
    return this.run('insertAppSigningKey', (db) => appKeys.insertAppSigningKey(db, key));
  }
  getAppSigningKey(keyid: string): Promise<AppSigningKeyRecord | undefined> {
    return this.run('getAppSigningKey', (db) => appKeys.getAppSigningKey(db, keyid));
  }
  listAppSigningKeys(clientId?: string, page?: PageRequest): Promise<AppSigningKeyRecord[]> {
    return this.run('listAppSigningKeys', (db) => appKeys.listAppSigningKeys(db, clientId, page));
  }
  revokeAppSigningKey(keyid: string, at: number): Promise<{ key: AppSigningKeyRecord; revoked: boolean } | undefined> {
    return this.run('revokeAppSigningKey', (db) => appKeys.revokeAppSigningKey(db, keyid, at));
  }

  insertWebhook(w: NewWebhook): Promise<void> {
    return this.run('insertWebhook', (db) => webhooks.insertWebhook(db, w));
  }
  getWebhook(id: string): Promise<WebhookRecord | undefined> {
    return this.run('getWebhook', (db) => webhooks.getWebhook(db, id));
  }
  setWebhookUrl(id: string, url: string): Promise<void> {
    return this.run('setWebhookUrl', (db) => webhooks.setWebhookUrl(db, id, url));
  }
  listWebhooks(page?: PageRequest): Promise<WebhookRecord[]> {
    return this.run('listWebhooks', (db) => webhooks.listWebhooks(db, page));
  }
  listWebhookEvents(): Promise<WebhookEvents[]> {
    return this.run('listWebhookEvents', (db) => webhooks.listWebhookEvents(db));
  }
  deleteWebhook(id: string): Promise<boolean> {
    return this.run('deleteWebhook', (db) => webhooks.deleteWebhook(db, id));
  }
  recordAbandoned(id: string, limit: number, at: number, reason: string): Promise<AbandonedCount> {
    return this.run('recordAbandoned', (db) => webhooks.recordAbandoned(db, id, limit, at, reason));
  }
  recordDelivered(id: string): Promise<void> {
    return this.run('recordDelivered', (db) => webhooks.recordDelivered(db, id));
  }
  enableWebhook(id: string): Promise<boolean> {
    return this.run('enableWebhook', (db) => webhooks.enableWebhook(db, id));
  }
  insertDeliveries(deliveries: DeliveryRecord[]): Promise<void> {
    return this.run('insertDeliveries', (db) => webhooks.insertDeliveries(db, deliveries));
  }
  claimDueDeliveries(now: number, limit: number, owner: string, leaseMs: number, cap?: DeliveryCap): Promise<DeliveryRecord[]> {
    return this.run('claimDueDeliveries', (db) => webhooks.claimDueDeliveries(db, now, limit, owner, leaseMs, cap));
  }
  recordAttempt(id: string, owner: string, leaseUntil: number, result: AttemptResult): Promise<boolean> {
    return this.run('recordAttempt', (db) => webhooks.recordAttempt(db, id, owner, leaseUntil, result));
  }
  getDelivery(id: string): Promise<DeliveryRecord | undefined> {
    return this.run('getDelivery', (db) => webhooks.getDelivery(db, id));
  }
  listDeliveries(webhookId: string, limit: number, older?: CreatedCursor): Promise<DeliveryRecord[]> {
    return this.run('listDeliveries', (db) => webhooks.listDeliveries(db, webhookId, limit, older));
  }
  purgeDeliveries(before: number): Promise<number> {
    return this.run('purgeDeliveries', (db) => webhooks.purgeDeliveries(db, before));
  }

  // per-app encryption keys, transit keys, sealed-value scan (issue 5): app-encryption-keys.ts, transit.ts, sealed-values.ts
  insertAppEncryptionKey(key: AppEncryptionKeyRecord): Promise<void> {
    return this.run('insertAppEncryptionKey', (db) => appEncKeys.insertAppEncryptionKey(db, key));
  }
  getAppEncryptionKey(kid: string): Promise<AppEncryptionKeyRecord | undefined> {
    return this.run('getAppEncryptionKey', (db) => appEncKeys.getAppEncryptionKey(db, kid));
  }
  listAppEncryptionKeys(clientId?: string, page?: PageRequest): Promise<AppEncryptionKeyRecord[]> {
    return this.run('listAppEncryptionKeys', (db) => appEncKeys.listAppEncryptionKeys(db, clientId, page));
  }
  revokeAppEncryptionKey(kid: string, at: number): Promise<{ key: AppEncryptionKeyRecord; revoked: boolean } | undefined> {
    return this.run('revokeAppEncryptionKey', (db) => appEncKeys.revokeAppEncryptionKey(db, kid, at));
  }
  createTransitKey(key: TransitKeyRecord): Promise<void> {
    return this.run('createTransitKey', (db) => transit.createTransitKey(db, key));
  }
  getTransitKey(name: string): Promise<TransitKeyRecord | undefined> {
    return this.run('getTransitKey', (db) => transit.getTransitKey(db, name));
  }
  listTransitKeys(page?: PageRequest<string>): Promise<string[]> {
    return this.run('listTransitKeys', (db) => transit.listTransitKeys(db, page));
  }
  addTransitKeyVersion(name: string, v: TransitKeyVersion): Promise<boolean> {
    return this.run('addTransitKeyVersion', (db) => transit.addTransitKeyVersion(db, name, v));
  }
  updateTransitKeyConfig(name: string, patch: TransitKeyConfigPatch): Promise<void> {
    return this.run('updateTransitKeyConfig', (db) => transit.updateTransitKeyConfig(db, name, patch));
  }
  listSettings(prefix: string): Promise<Array<{ name: string; value: string }>> {
    return this.run('listSettings', (db) => sealed.listSettings(db, prefix));
  }
  scanSealedValues(): Promise<SealedValueRef[]> {
    return this.run('scanSealedValues', (db) => sealed.scanSealedValues(db));
  }

  // AES-GCM invocation counts (crypto/gcm-usage.ts): key-usage.ts
  reserveKeyUsage(keyId: string, block: number, limit: number): Promise<number | undefined> {
    return this.run('reserveKeyUsage', (db) => keyUsage.reserveKeyUsage(db, keyId, block, limit));
  }
  readKeyUsage(keyIds: readonly string[]): Promise<Map<string, number>> {
    return this.run('readKeyUsage', (db) => keyUsage.readKeyUsage(db, keyIds));
  }

  putLockoutState(r: LockoutRecord, now: number): Promise<void> {
    return this.run('putLockoutState', (db) => lockoutState.putLockoutState(db, r, now));
  }
  clearLockoutState(counter: string, subject: string, includingLock: boolean, now: number): Promise<void> {
    return this.run('clearLockoutState', (db) => lockoutState.clearLockoutState(db, counter, subject, includingLock, now));
  }
  listLockoutStates(now: number): Promise<LockoutRecord[]> {
    return this.run('listLockoutStates', (db) => lockoutState.listLockoutStates(db, now));
  }
  purgeLockoutStates(now: number): Promise<number> {
    return this.run('purgeLockoutStates', (db) => lockoutState.purgeLockoutStates(db, now));
  }
  deleteAllLockoutStates(): Promise<number> {
    return this.run('deleteAllLockoutStates', (db) => lockoutState.deleteAllLockoutStates(db));
  }

  /** Applies pending schema migrations; returns their names. Called by openDurableStore. */
  migrate(): Promise<string[]> {
    // a migration may rewrite a large table or wait for another node's migration: the runtime statement timeout does not apply
    return this.run('migrate', () => this.dialect.unbounded((db) => migrateToLatest(db)));
  }

  async ping(): Promise<void> {
    // a file deleted or replaced is seen here even while no write comes
    try {
      this.dialect.checkFile?.();
    } catch (e) {
      this.writeFaults.note(e);
    }
    // a store that cannot be reached at all is store.unavailable, whatever writes failed
    // before (a cut link fails them with a reset or a bare "connection terminated", one or
    // the other): only a store that answers can be told apart as not writable
    try {
      await this.run('ping', (db) => sql`select 1`.execute(db));
    } catch (e) {
      // a store taken for down says why (a refused password is not a partition), this ping's failure included
      throw this.dialect.downReason?.() ?? e;
    }
    this.writeFaults.check();
  }

  downReason(): PortcullisError | undefined {
    return this.dialect.downReason?.();
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.writeFaults.stop();
    this.offWrite?.();
    // the writer's batches first: what was posted before close is committed
    await this.opts.auditWriter?.close();
    await this.dialect.close();
  }
}
