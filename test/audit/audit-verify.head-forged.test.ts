/**
 * `audit verify` against someone who can write to the database but does not hold the
 * master key. The chain hash has no key (`chainHash` is public), so such a writer could
 * rewrite an event, recompute every later row's hash and the recorded head, and verify
 * passed. The head now carries an HMAC under the audit key, which is sealed at rest
 * (audit/head-key.ts): the rewritten head's MAC does not verify (`audit.head-forged`),
 * nulling the MAC does not pass it for a legacy head, later appends of the node do not
 * vouch for it, deleting the sealed key does not either, and rows added past the head are
 * reported. A head recorded before migration 0015 is accepted (once, as the legacy head
 * sealed with the key) and gets its MAC with the next append.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import BetterSqlite3 from 'better-sqlite3';
import { Kysely, SqliteDialect, sql } from 'kysely';
import { AuditHeadKey, HEAD_KEY_SETTING } from '../../src/audit/head-key.js';
import type { AuditEventInput, AuditRow } from '../../src/audit/store.js';
import { AuditTrail, chainHash, GENESIS, verifyAuditChain } from '../../src/audit/trail.js';
import { silentLogger } from '../../src/core/logger.js';
import { openDurableStore } from '../../src/store/index.js';
import { portcullisMigrator } from '../../src/store/migrations/index.js';
import { serviceDescribe } from '../support/services.js';
import { keyedLikeANode, postgresStoreFixture, sqliteStoreFixture, storeTests, type StoreFixture } from '../support/store-fixtures.js';

const ev = (i: number): AuditEventInput => ({ time: 1_764_000_000_000 + i, type: `e${i}`, actor: 'admin', data: { n: i } });
const quoted = (v: string) => `'${v.replace(/'/g, "''")}'`;

/**
 * The attack: row `seq`'s data replaced, every row's hash recomputed with the public
 * chainHash from there on, and the recorded head moved to the new last hash, from another
 * connection (the database alone).
 */
async function rewriteChain(f: StoreFixture, seq: number, data: Record<string, unknown>, opts: { nullMac?: boolean } = {}): Promise<string> {
  const rows = await f.store.listAudit(0, 1000);
  let prev = GENESIS;
  for (const r of rows) {
    const row: AuditRow = r.seq === seq ? { ...r, data } : r;
    const hash = chainHash(prev, row.seq, row);
    await f.exec(`update audit_log set data = ${quoted(JSON.stringify(row.data))}, prev_hash = '${prev}', hash = '${hash}' where seq = ${row.seq}`);
    prev = hash;
  }
  await f.exec(`update audit_head set hash = '${prev}'${opts.nullMac ? ', mac = null' : ''}`);
  return prev;
}

/** Rows appended past the recorded head, chained with the public chainHash, head left as it is. */
async function addPastHead(f: StoreFixture, n: number): Promise<void> {
  const last = (await f.store.tailAudit(1))[0]!;
  let prev = last.hash;
  for (let seq = last.seq + 1; seq <= last.seq + n; seq++) {
    const e = { ...ev(seq), clientId: null, route: null, reason: null };
    const hash = chainHash(prev, seq, e);
    await f.exec(`insert into audit_log (seq, time, type, actor, client_id, route, reason, data, prev_hash, hash) values (${seq}, ${e.time}, '${e.type}', 'admin', null, null, null, ${quoted(JSON.stringify(e.data))}, '${prev}', '${hash}')`);
    prev = hash;
  }
}

function suite(name: string, make: () => Promise<StoreFixture>): void {
  const withStore = storeTests(name, make);

  withStore('appends record an authenticated head, and the trail verifies', async (f) => {
    const trail = new AuditTrail(f.store, silentLogger);
    for (let i = 1; i <= 5; i++) trail.record(ev(i));
    await trail.flush();
    await f.store.appendAudit([ev(6), ev(7)], chainHash);
    const head = (await f.store.auditHead())!;
    assert.equal(head.seq, 7);
    assert.equal(head.mac, f.headKey.mac(7, head.hash));
    assert.deepEqual(await verifyAuditChain(f.store, f.headKey), { ok: true, rows: 7, head: { seq: 7, hash: head.hash } });
  });

  withStore('attack: an event rewritten, every later hash and the head recomputed with chainHash → audit.head-forged naming the head', async (f) => {
    await f.store.appendAudit([1, 2, 3, 4].map(ev), chainHash);
    await rewriteChain(f, 2, { n: 'forged' });
    assert.deepEqual((await f.store.listAudit(1, 1))[0]!.data, { n: 'forged' }, 'the rewrite took');
    const r = await verifyAuditChain(f.store, f.headKey);
    assert.deepEqual({ ok: r.ok, code: r.code, brokenAt: r.brokenAt, rows: r.rows }, { ok: false, code: 'audit.head-forged', brokenAt: 4, rows: 4 });
    assert.match(r.reason!, /recorded head of the chain \(audit_head, row 4\) carries a MAC that does not verify/);
  });

  withStore('attack: the same rewrite with the head MAC set to NULL → audit.head-forged (not taken for a legacy head)', async (f) => {
    await f.store.appendAudit([1, 2, 3].map(ev), chainHash);
    await rewriteChain(f, 1, { n: 'forged' }, { nullMac: true });
    const r = await verifyAuditChain(f.store, f.headKey);
    assert.deepEqual({ ok: r.ok, code: r.code, brokenAt: r.brokenAt }, { ok: false, code: 'audit.head-forged', brokenAt: 3 });
    assert.match(r.reason!, /row 3\) has no MAC/);
  });

  withStore('attack: after the rewrite the node appends again → still audit.head-forged (an append never vouches for a head it cannot authenticate)', async (f) => {
    await f.store.appendAudit([1, 2, 3].map(ev), chainHash);
    await rewriteChain(f, 2, { n: 'forged' });
    await f.store.appendAudit([ev(4)], chainHash);
    await f.store.appendAudit([ev(5)], chainHash);
    const head = (await f.store.auditHead())!;
    assert.deepEqual({ seq: head.seq, mac: head.mac }, { seq: 5, mac: null });
    const r = await verifyAuditChain(f.store, f.headKey);
    assert.deepEqual({ ok: r.ok, code: r.code, brokenAt: r.brokenAt }, { ok: false, code: 'audit.head-forged', brokenAt: 5 });
  });

  withStore('attack: the sealed audit key deleted as well, so that a node makes a new one → audit.head-forged (the new key adopts no head that had a MAC)', async (f) => {
    await f.store.appendAudit([1, 2, 3].map(ev), chainHash);
    await rewriteChain(f, 2, { n: 'forged' });
    await f.exec(`delete from settings where name = '${HEAD_KEY_SETTING}'`);
    const fresh = await keyedLikeANode(f.store);
    assert.equal(fresh.legacy, null);
    const r = await verifyAuditChain(f.store, fresh);
    assert.deepEqual({ ok: r.ok, code: r.code }, { ok: false, code: 'audit.head-forged' });
  });

  withStore('attack: rows added past the recorded head with chainHash → audit.chain-broken naming the first added row', async (f) => {
    await f.store.appendAudit([1, 2, 3].map(ev), chainHash);
    await addPastHead(f, 2);
    const r = await verifyAuditChain(f.store, f.headKey);
    assert.deepEqual({ ok: r.ok, code: r.code, brokenAt: r.brokenAt }, { ok: false, code: 'audit.chain-broken', brokenAt: 4 });
    assert.match(r.reason!, /rows 4 to 5 lie past the recorded head \(row 3\)/);
  });

  withStore('a verify with the wrong key reports the head forged', async (f) => {
    await f.store.appendAudit([1, 2].map(ev), chainHash);
    const r = await verifyAuditChain(f.store, AuditHeadKey.generate());
    assert.equal(r.code, 'audit.head-forged');
  });
}

suite('sqlite', () => sqliteStoreFixture('portcullis-forge-'));
suite('sqlite, appends on the writer thread', () => sqliteStoreFixture('portcullis-forge-', { auditThread: true }));

test('upgrade: a head recorded before migration 0015 is accepted as the legacy head, gets its MAC with the next append, and nulling a MAC later does not bring the legacy rule back', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'portcullis-forge-upgrade-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const file = join(dir, 'a.db');
  const older = new Kysely<any>({ dialect: new SqliteDialect({ database: new BetterSqlite3(file) }) });
  assert.equal((await portcullisMigrator(older).migrateTo('0014-mfa-last-step')).error, undefined);
  let prev = GENESIS;
  for (let seq = 1; seq <= 3; seq++) {
    const e = { ...ev(seq), clientId: null, route: null, reason: null };
    const hash = chainHash(prev, seq, e);
    await sql`insert into audit_log (seq, time, type, actor, client_id, route, reason, data, prev_hash, hash) values (${seq}, ${e.time}, ${e.type}, 'admin', null, null, null, ${JSON.stringify(e.data)}, ${prev}, ${hash})`.execute(older);
    prev = hash;
  }
  await sql`update audit_head set seq = 3, hash = ${prev}`.execute(older);
  await older.destroy();

  const store = await openDurableStore(`sqlite:${file}`, { auditThread: true });
  t.after(() => store.close());
  assert.deepEqual(await store.auditHead(), { seq: 3, hash: prev, mac: null });
  const key = await keyedLikeANode(store);
  assert.deepEqual(key.legacy, { seq: 3, hash: prev });
  assert.deepEqual(await verifyAuditChain(store, key), { ok: true, rows: 3, head: { seq: 3, hash: prev } });

  await store.appendAudit([ev(4)], chainHash);
  const head = (await store.auditHead())!;
  assert.equal(head.mac, key.mac(4, head.hash));
  assert.equal((await verifyAuditChain(store, key)).ok, true);

  const other = new BetterSqlite3(file);
  t.after(() => other.close());
  // the head set back to the legacy one (no MAC) while row 4 stays: row 4 is reported as added past it
  other.prepare('update audit_head set seq = 3, hash = ?, mac = null').run(prev);
  const back = await verifyAuditChain(store, key);
  assert.deepEqual({ ok: back.ok, code: back.code, brokenAt: back.brokenAt }, { ok: false, code: 'audit.chain-broken', brokenAt: 4 });
  // the newest head with its MAC removed is no legacy head
  other.prepare('update audit_head set seq = 4, hash = ?, mac = null').run(head.hash);
  const nulled = await verifyAuditChain(store, key);
  assert.deepEqual({ ok: nulled.ok, code: nulled.code, brokenAt: nulled.brokenAt }, { ok: false, code: 'audit.head-forged', brokenAt: 4 });
});

await serviceDescribe('postgres', 'audit verify against a recomputed chain on PostgreSQL', () => {
  describe('postgres', () => {
    suite('postgres', postgresStoreFixture);
  });
});
