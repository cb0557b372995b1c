/**
 * `audit verify` against silent truncation: the chain's head (seq and hash of the newest
 * row) is kept in `audit_head`, written in the append's transaction, and verify checks
 * the walked chain ends exactly there. Deleting the newest rows, or all of them, no
 * longer verifies as ok, and appends made after such a deletion do not hide it. A store
 * starts with a recorded head (seq 0), so deleting every row and the head does not pass for
 * a new trail either (`audit.trail-missing`), nor does an empty trail beside apps, users or
 * other objects whose creation is audited.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import BetterSqlite3 from 'better-sqlite3';
import { Kysely, SqliteDialect, sql } from 'kysely';
import { chainHash, verifyAuditChain } from '../../src/audit/trail.js';
import type { AuditEventInput } from '../../src/audit/store.js';
import { portcullisMigrator } from '../../src/store/migrations/index.js';
import { openDurableStore } from '../../src/store/index.js';
import type { AppRecord } from '../../src/tokens/store.js';
import { serviceDescribe } from '../support/services.js';
import { keyedLikeANode, postgresStoreFixture, sqliteStoreFixture, storeTests, type StoreFixture } from '../support/store-fixtures.js';

type Fixture = StoreFixture;

const ev = (i: number): AuditEventInput => ({ time: 1_764_000_000_000 + i, type: `e${i}`, actor: 'admin' });

const T = 1_764_000_000_000;
const app: AppRecord = { clientId: 'app_billing', name: 'billing', audiences: ['api'], scopes: [], tokenEndpointAuthMethod: 'client_secret_basic', secretVerifier: 'hmac-sha256$k$x', jwks: null, status: 'active', tokensRevokedBefore: 0, createdAt: T, updatedAt: T };

/** An app and a user, each audited as the services do. */
async function appAndUser(f: Fixture): Promise<void> {
  await f.store.createApp(app);
  await f.store.appendAudit([{ time: T, type: 'app.created', actor: 'admin', clientId: app.clientId }], chainHash);
  await f.store.createUser({ id: 'usr_1', email: 'a@example.test', emailNormalized: 'a@example.test', status: 'active', mfaRequired: false, tokensRevokedBefore: 0, createdAt: T, updatedAt: T });
  await f.store.appendAudit([{ time: T, type: 'user.created', actor: 'admin', data: { userId: 'usr_1' } }], chainHash);
}

function suite(name: string, make: () => Promise<Fixture>): void {
  const withStore = storeTests(name, make);

  withStore('an empty trail verifies; a whole chain verifies and reports its head', async (f) => {
    assert.deepEqual(await verifyAuditChain(f.store, f.headKey), { ok: true, rows: 0 });
    await f.store.appendAudit([ev(1), ev(2)], chainHash);
    await f.store.appendAudit([ev(3), ev(4)], chainHash);
    const tail = (await f.store.tailAudit(1))[0]!;
    assert.deepEqual(await verifyAuditChain(f.store, f.headKey), { ok: true, rows: 4, head: { seq: 4, hash: tail.hash } });
  });

  withStore('the newest rows deleted → verify fails at the first removed row', async (f) => {
    await f.store.appendAudit([1, 2, 3, 4].map(ev), chainHash);
    await f.exec('delete from audit_log where seq > 2');
    const r = await verifyAuditChain(f.store, f.headKey);
    assert.equal(r.ok, false);
    assert.equal(r.brokenAt, 3);
    assert.equal(r.rows, 2);
    assert.match(r.reason!, /rows 3 to 4 were removed/);
  });

  withStore('every row deleted → verify fails at row 1', async (f) => {
    await f.store.appendAudit([1, 2, 3].map(ev), chainHash);
    await f.exec('delete from audit_log');
    const r = await verifyAuditChain(f.store, f.headKey);
    assert.deepEqual({ ok: r.ok, rows: r.rows, brokenAt: r.brokenAt }, { ok: false, rows: 0, brokenAt: 1 });
  });

  withStore('appends after a truncation do not hide it: they continue from the recorded head', async (f) => {
    await f.store.appendAudit([1, 2, 3, 4].map(ev), chainHash);
    await f.exec('delete from audit_log where seq > 2');
    await f.store.appendAudit([ev(5)], chainHash);
    const r = await verifyAuditChain(f.store, f.headKey);
    assert.deepEqual({ ok: r.ok, brokenAt: r.brokenAt }, { ok: false, brokenAt: 3 });
  });

  withStore('attack: newest rows and the head deleted together, then an append → verify still fails (the append does not re-anchor the cut chain)', async (f) => {
    await f.store.appendAudit([1, 2, 3, 4].map(ev), chainHash);
    await f.exec('delete from audit_log where seq > 2');
    await f.exec('delete from audit_head');
    await f.store.appendAudit([ev(5)], chainHash);
    const r = await verifyAuditChain(f.store, f.headKey);
    assert.equal(r.ok, false);
    assert.match(r.reason!, /head/);
    await f.store.appendAudit([ev(6)], chainHash);
    assert.equal((await verifyAuditChain(f.store, f.headKey)).ok, false);
  });

  withStore('attack: every row and the head deleted in a store that holds an app and a user → audit.trail-missing, not a new empty trail', async (f) => {
    await appAndUser(f);
    await f.exec('delete from audit_log');
    await f.exec('delete from audit_head');
    const r = await verifyAuditChain(f.store, f.headKey);
    assert.deepEqual({ ok: r.ok, rows: r.rows, brokenAt: r.brokenAt, code: r.code }, { ok: false, rows: 0, brokenAt: 1, code: 'audit.trail-missing' });
    assert.match(r.reason!, /apps, users/);
  });

  withStore('attack: every row and the head deleted, then the node appends again → verify still fails (the append starts no new chain)', async (f) => {
    await appAndUser(f);
    await f.exec('delete from audit_log');
    await f.exec('delete from audit_head');
    await f.store.appendAudit([ev(5), ev(6)], chainHash);
    const r = await verifyAuditChain(f.store, f.headKey);
    assert.deepEqual({ ok: r.ok, code: r.code }, { ok: false, code: 'audit.chain-broken' });
    assert.match(r.reason!, /head/);
    assert.equal(await f.store.auditHead(), null);
  });

  withStore('attack: every row and the head deleted in a store with nothing audited in it yet → audit.trail-missing (a store starts with a recorded head)', async (f) => {
    await f.store.appendAudit([ev(1)], chainHash);
    await f.exec('delete from audit_log');
    await f.exec('delete from audit_head');
    const r = await verifyAuditChain(f.store, f.headKey);
    assert.deepEqual({ ok: r.ok, rows: r.rows, brokenAt: r.brokenAt, code: r.code }, { ok: false, rows: 0, brokenAt: 1, code: 'audit.trail-missing' });
  });

  withStore('attack: every row deleted and the head set back to the start (seq 0) in a store that holds an app → audit.trail-missing', async (f) => {
    await appAndUser(f);
    await f.exec('delete from audit_log');
    await f.exec(`update audit_head set seq = 0, hash = '${'0'.repeat(64)}'`);
    await f.exec('delete from users');
    const r = await verifyAuditChain(f.store, f.headKey);
    assert.deepEqual({ ok: r.ok, rows: r.rows, brokenAt: r.brokenAt, code: r.code }, { ok: false, rows: 0, brokenAt: 1, code: 'audit.trail-missing' });
    assert.match(r.reason!, /holds apps\b/);
  });

  withStore('a new store: its head is recorded from the start, and its empty trail verifies', async (f) => {
    assert.deepEqual(await f.store.auditHead(), { seq: 0, hash: '0'.repeat(64), mac: null });
    assert.deepEqual(await verifyAuditChain(f.store, f.headKey), { ok: true, rows: 0 });
  });

  withStore('the head row deleted while rows remain → verify fails', async (f) => {
    await f.store.appendAudit([1, 2].map(ev), chainHash);
    await f.exec('delete from audit_head');
    const r = await verifyAuditChain(f.store, f.headKey);
    assert.equal(r.ok, false);
    assert.equal(r.code, 'audit.chain-broken');
    assert.match(r.reason!, /head/);
  });
}

suite('sqlite', () => sqliteStoreFixture('portcullis-verify-'));

test('upgrade: migration 0012 records the head of an empty trail; a trail with rows keeps its head', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'portcullis-verify-upgrade-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  /** A database of the version before 0012. */
  const olderStore = async (file: string) => {
    const older = new Kysely<any>({ dialect: new SqliteDialect({ database: new BetterSqlite3(file) }) });
    assert.equal((await portcullisMigrator(older).migrateTo('0011-gcm-key-usage')).error, undefined);
    return older;
  };
  await (await olderStore(join(dir, 'empty.db'))).destroy();
  const empty = await openDurableStore(`sqlite:${join(dir, 'empty.db')}`);
  t.after(() => empty.close());
  assert.deepEqual(await empty.auditHead(), { seq: 0, hash: '0'.repeat(64), mac: null });
  const emptyKey = await keyedLikeANode(empty);
  await empty.appendAudit([ev(1)], chainHash);
  assert.equal((await verifyAuditChain(empty, emptyKey)).ok, true);

  // a trail with rows before 0012 (its head from 0009 and its appends) is left as it is
  const file = join(dir, 'rows.db');
  const older = await olderStore(file);
  await sql`insert into audit_log (seq, time, type, actor, client_id, route, reason, data, prev_hash, hash) values (1, ${T}, 'e1', 'admin', null, null, null, null, ${'0'.repeat(64)}, ${chainHash('0'.repeat(64), 1, { time: T, type: 'e1', actor: 'admin', clientId: null, route: null, reason: null, data: null })})`.execute(older);
  await sql`insert into audit_head (id, seq, hash) select 1, seq, hash from audit_log`.execute(older);
  await older.destroy();
  const withRows = await openDurableStore(`sqlite:${file}`);
  t.after(() => withRows.close());
  assert.equal((await withRows.auditHead())?.seq, 1);
  const r = await verifyAuditChain(withRows, await keyedLikeANode(withRows));
  assert.deepEqual({ ok: r.ok, rows: r.rows }, { ok: true, rows: 1 });
});

await serviceDescribe('postgres', 'audit verify on PostgreSQL', () => {
  describe('postgres', () => {
    suite('postgres', postgresStoreFixture);
  });
});
