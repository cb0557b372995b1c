/**
 * `audit verify` against silent truncation: the chain's head (seq and hash of the newest
 * row) is kept in `audit_head`, written in the append's transaction, and verify checks
 * the walked chain ends exactly there. Deleting the newest rows, or all of them, no
 * longer verifies as ok, and appends made after such a deletion do not hide it.
 */
import assert from 'node:assert/strict';
import { describe } from 'node:test';
import { chainHash, verifyAuditChain } from '../../src/audit/trail.js';
import type { AuditEventInput } from '../../src/audit/store.js';
import { serviceDescribe } from '../support/services.js';
import { postgresStoreFixture, sqliteStoreFixture, storeTests, type StoreFixture } from '../support/store-fixtures.js';

type Fixture = StoreFixture;

const ev = (i: number): AuditEventInput => ({ time: 1_764_000_000_000 + i, type: `e${i}`, actor: 'admin' });

function suite(name: string, make: () => Promise<Fixture>): void {
  const withStore = storeTests(name, make);

  withStore('an empty trail verifies; a whole chain verifies and reports its head', async (f) => {
    assert.deepEqual(await verifyAuditChain(f.store), { ok: true, rows: 0 });
    await f.store.appendAudit([ev(1), ev(2)], chainHash);
    await f.store.appendAudit([ev(3), ev(4)], chainHash);
    const tail = (await f.store.tailAudit(1))[0]!;
    assert.deepEqual(await verifyAuditChain(f.store), { ok: true, rows: 4, head: { seq: 4, hash: tail.hash } });
  });

  withStore('the newest rows deleted → verify fails at the first removed row', async (f) => {
    await f.store.appendAudit([1, 2, 3, 4].map(ev), chainHash);
    await f.exec('delete from audit_log where seq > 2');
    const r = await verifyAuditChain(f.store);
    assert.equal(r.ok, false);
    assert.equal(r.brokenAt, 3);
    assert.equal(r.rows, 2);
    assert.match(r.reason!, /rows 3 to 4 were removed/);
  });

  withStore('every row deleted → verify fails at row 1', async (f) => {
    await f.store.appendAudit([1, 2, 3].map(ev), chainHash);
    await f.exec('delete from audit_log');
    const r = await verifyAuditChain(f.store);
    assert.deepEqual({ ok: r.ok, rows: r.rows, brokenAt: r.brokenAt }, { ok: false, rows: 0, brokenAt: 1 });
  });

  withStore('appends after a truncation do not hide it: they continue from the recorded head', async (f) => {
    await f.store.appendAudit([1, 2, 3, 4].map(ev), chainHash);
    await f.exec('delete from audit_log where seq > 2');
    await f.store.appendAudit([ev(5)], chainHash);
    const r = await verifyAuditChain(f.store);
    assert.deepEqual({ ok: r.ok, brokenAt: r.brokenAt }, { ok: false, brokenAt: 3 });
  });

  withStore('attack: newest rows and the head deleted together, then an append → verify still fails (the append does not re-anchor the cut chain)', async (f) => {
    await f.store.appendAudit([1, 2, 3, 4].map(ev), chainHash);
    await f.exec('delete from audit_log where seq > 2');
    await f.exec('delete from audit_head');
    await f.store.appendAudit([ev(5)], chainHash);
    const r = await verifyAuditChain(f.store);
    assert.equal(r.ok, false);
    assert.match(r.reason!, /head/);
    await f.store.appendAudit([ev(6)], chainHash);
    assert.equal((await verifyAuditChain(f.store)).ok, false);
  });

  withStore('the head row deleted while rows remain → verify fails', async (f) => {
    await f.store.appendAudit([1, 2].map(ev), chainHash);
    await f.exec('delete from audit_head');
    const r = await verifyAuditChain(f.store);
    assert.equal(r.ok, false);
    assert.match(r.reason!, /head/);
  });
}

suite('sqlite', () => sqliteStoreFixture('portcullis-verify-'));

await serviceDescribe('postgres', 'audit verify on PostgreSQL', () => {
  describe('postgres', () => {
    suite('postgres', postgresStoreFixture);
  });
});
