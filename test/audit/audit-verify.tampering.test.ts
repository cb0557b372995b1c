/**
 * `audit verify` against rows edited in place so that they no longer read back: a `data`
 * column that is not JSON any more, a `time` or `seq` beyond 2^53 (which the PostgreSQL
 * driver refuses to turn into a JS number). Verify must name the row as altered (ok: false),
 * not fail as a whole with `store.unavailable` (503, "the database is down"), which
 * hides the tampering and the row; reading such a row answers `audit.chain-broken`. The
 * same for the recorded head (`audit_head`).
 */
import assert from 'node:assert/strict';
import { describe } from 'node:test';
import { chainHash, verifyAuditChain } from '../../src/audit/trail.js';
import type { AuditEventInput } from '../../src/audit/store.js';
import { isPortcullisError } from '../../src/core/errors.js';
import { serviceDescribe } from '../support/services.js';
import { postgresStoreFixture, sqliteStoreFixture, storeTests, type StoreFixture } from '../support/store-fixtures.js';

type Fixture = StoreFixture;

const ev = (i: number): AuditEventInput => ({ time: 1_764_000_000_000 + i, type: `e${i}`, actor: 'admin', data: { n: i } });

function suite(name: string, make: () => Promise<Fixture>): void {
  const withStore = storeTests(name, make);

  withStore('a row whose data was edited to text that is not JSON → verify names that row as altered', async (f) => {
    await f.store.appendAudit([1, 2, 3, 4].map(ev), chainHash);
    await f.exec(`update audit_log set data = '{"n":3' where seq = 3`);
    const r = await verifyAuditChain(f.store, f.headKey);
    assert.deepEqual({ ok: r.ok, rows: r.rows, brokenAt: r.brokenAt }, { ok: false, rows: 2, brokenAt: 3 });
    assert.match(r.reason!, /row 3 was altered/);
  });

  withStore('an earlier altered row in the same page is the one named', async (f) => {
    await f.store.appendAudit([1, 2, 3, 4].map(ev), chainHash);
    await f.exec(`update audit_log set data = '{"n":20}' where seq = 2`);
    await f.exec(`update audit_log set data = 'not json' where seq = 4`);
    const r = await verifyAuditChain(f.store, f.headKey);
    assert.deepEqual({ ok: r.ok, rows: r.rows, brokenAt: r.brokenAt }, { ok: false, rows: 1, brokenAt: 2 });
  });

  withStore('a row whose time was edited beyond 2^53 → verify names that row as altered', async (f) => {
    await f.store.appendAudit([1, 2, 3].map(ev), chainHash);
    await f.exec('update audit_log set time = 9007199254740993 where seq = 2');
    const r = await verifyAuditChain(f.store, f.headKey);
    assert.deepEqual({ ok: r.ok, rows: r.rows, brokenAt: r.brokenAt }, { ok: false, rows: 1, brokenAt: 2 });
    assert.match(r.reason!, /row 2 was altered/);
  });

  withStore('the newest row renumbered beyond 2^53 → verify reports it missing from its place', async (f) => {
    await f.store.appendAudit([1, 2, 3].map(ev), chainHash);
    await f.exec('update audit_log set seq = 1152921504606846976 where seq = 3');
    const r = await verifyAuditChain(f.store, f.headKey);
    assert.deepEqual({ ok: r.ok, rows: r.rows, brokenAt: r.brokenAt }, { ok: false, rows: 2, brokenAt: 3 });
    assert.match(r.reason!, /row 3 is missing/);
  });

  withStore('listing past such a row answers audit.chain-broken, not store.unavailable', async (f) => {
    await f.store.appendAudit([1, 2].map(ev), chainHash);
    await f.exec(`update audit_log set data = 'not json' where seq = 2`);
    await assert.rejects(f.store.listAudit(0, 10), (e) => isPortcullisError(e) && e.code === 'audit.chain-broken' && e.details?.seq === 2);
    await assert.rejects(f.store.tailAudit(10), (e) => isPortcullisError(e) && e.code === 'audit.chain-broken');
    assert.equal((await f.store.listAudit(0, 1)).length, 1);
  });

  withStore('attack: a forged row inserted before row 1 (seq 0 or negative), where listings show it and the walk from row 1 never looks → verify reports it', async (f) => {
    await f.store.appendAudit([1, 2, 3].map(ev), chainHash);
    await f.exec(`insert into audit_log (seq, time, type, actor, prev_hash, hash) values (0, 1764000000000, 'user.deleted', 'admin', '${'0'.repeat(64)}', '${'1'.repeat(64)}')`);
    await f.exec(`insert into audit_log (seq, time, type, actor, prev_hash, hash) values (-5, 1764000000000, 'app.deleted', 'admin', '${'0'.repeat(64)}', '${'2'.repeat(64)}')`);
    assert.deepEqual((await f.store.tailAudit(20)).map((row) => row.seq), [-5, 0, 1, 2, 3]);
    const r = await verifyAuditChain(f.store, f.headKey);
    assert.deepEqual({ ok: r.ok, rows: r.rows, brokenAt: r.brokenAt, code: r.code }, { ok: false, rows: 3, brokenAt: 0, code: 'audit.chain-broken' });
    assert.equal(r.reason, '2 rows lie outside the chain (their seq is not 1 or more): they were inserted');
  });

  withStore('attack: a forged row inserted before row 1 of an empty trail → verify reports it', async (f) => {
    await f.exec(`insert into audit_log (seq, time, type, actor, prev_hash, hash) values (0, 1764000000000, 'user.deleted', 'admin', '${'0'.repeat(64)}', '${'1'.repeat(64)}')`);
    const r = await verifyAuditChain(f.store, f.headKey);
    assert.deepEqual({ ok: r.ok, rows: r.rows, brokenAt: r.brokenAt, code: r.code }, { ok: false, rows: 0, brokenAt: 0, code: 'audit.chain-broken' });
    assert.equal(r.reason, '1 row lies outside the chain (its seq is not 1 or more): it was inserted');
  });

  withStore('the recorded head (audit_head) edited to a seq beyond 2^53 → verify reports the head altered, and appends go on without moving it', async (f) => {
    await f.store.appendAudit([1, 2, 3].map(ev), chainHash);
    await f.exec('update audit_head set seq = 9007199254740993');
    const r = await verifyAuditChain(f.store, f.headKey);
    assert.deepEqual({ ok: r.ok, rows: r.rows, brokenAt: r.brokenAt, code: r.code }, { ok: false, rows: 3, brokenAt: 3, code: 'audit.chain-broken' });
    assert.match(r.reason!, /recorded head of the chain \(audit_head\) was altered/);
    await assert.rejects(f.store.auditHead(), (e) => isPortcullisError(e) && e.code === 'audit.chain-broken');
    // the node's events are still stored, after the rows, and the edit stays reported
    await f.store.appendAudit([ev(4)], chainHash);
    assert.deepEqual((await f.store.listAudit(3, 10)).map((row) => row.seq), [4]);
    const again = await verifyAuditChain(f.store, f.headKey);
    assert.deepEqual({ ok: again.ok, rows: again.rows, code: again.code }, { ok: false, rows: 4, code: 'audit.chain-broken' });
  });
}

suite('sqlite', () => sqliteStoreFixture('portcullis-tamper-'));

// SQLite lets a non-INTEGER primary key hold NULL: such a row sorts before every other one and no `seq >` reaches it
storeTests('sqlite', () => sqliteStoreFixture('portcullis-tamper-'))('attack: a forged row with a NULL seq (SQLite) → verify reports it', async (f) => {
  await f.store.appendAudit([1, 2].map(ev), chainHash);
  await f.exec(`insert into audit_log (seq, time, type, actor, prev_hash, hash) values (null, 1764000000000, 'user.deleted', 'admin', '${'0'.repeat(64)}', '${'1'.repeat(64)}')`);
  const r = await verifyAuditChain(f.store, f.headKey);
  assert.deepEqual({ ok: r.ok, rows: r.rows, brokenAt: r.brokenAt, code: r.code }, { ok: false, rows: 2, brokenAt: 0, code: 'audit.chain-broken' });
  assert.equal(r.reason, '1 row lies outside the chain (its seq is not 1 or more): it was inserted');
});

await serviceDescribe('postgres', 'audit verify against tampering on PostgreSQL', () => {
  describe('postgres', () => {
    suite('postgres', postgresStoreFixture);
  });
});
