/**
 * Audit appends on their own thread (src/store/durable/audit-writer.ts), as a node opens
 * its SQLite store: the rows are committed while the node's event loop is busy (before,
 * the inserts and their fsync'd commit ran on that loop); a thread that dies refuses the
 * batch it had not committed, and the trail writes it through a new thread; close
 * commits what was posted; the chain verifies throughout.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import BetterSqlite3 from 'better-sqlite3';
import type { AuditEventInput } from '../../src/audit/store.js';
import { AuditTrail, chainHash, verifyAuditChain } from '../../src/audit/trail.js';
import { isPortcullisError } from '../../src/core/errors.js';
import { silentLogger } from '../../src/core/logger.js';
import { SqliteAuditWriter } from '../../src/store/durable/audit-writer.js';
import { KyselyDurableStore } from '../../src/store/durable/store.js';
import { openSqlite } from '../../src/store/durable/sqlite.js';
import { openDurableStore } from '../../src/store/index.js';
import { keyedLikeANode } from '../support/store-fixtures.js';

const ev = (type: string, over: Partial<AuditEventInput> = {}): AuditEventInput => ({ time: 1_764_000_000_000, type, actor: 'admin', ...over });

/** A migrated SQLite file, and a store on it whose audit appends go to `writer`. */
async function fixture(opts: { keyed?: boolean } = {}) {
  const dir = mkdtempSync(join(tmpdir(), 'portcullis-audit-writer-'));
  const file = join(dir, 'a.db');
  await (await openDurableStore(`sqlite:${file}`)).close();
  const writer = new SqliteAuditWriter(file);
  const store = new KyselyDurableStore(openSqlite(file), { auditWriter: writer });
  const headKey = opts.keyed === false ? undefined : await keyedLikeANode(store);
  const other = new BetterSqlite3(file);
  const count = () => (other.prepare('select count(*) as n from audit_log').get() as { n: number }).n;
  return {
    file,
    writer,
    store,
    headKey: headKey!,
    other,
    count,
    dispose: async () => {
      other.close();
      await store.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** Spins the event loop's own thread (no await) until `done()` or `ms` pass; returns whether it was done. */
function spinUntil(done: () => boolean, ms: number): boolean {
  const end = Date.now() + ms;
  while (Date.now() < end) if (done()) return true;
  return done();
}

test('audit rows are committed while the event loop is busy: the appends run on the writer thread, not the loop', async () => {
  const f = await fixture();
  try {
    const events = Array.from({ length: 300 }, (_, i) => ev(`e${i}`));
    const appended = f.store.appendAudit(events, chainHash);
    // no await from here: had the append run on this thread, nothing could be written until the spin ends
    const committed = spinUntil(() => f.count() === 300, 10_000);
    assert.equal(committed, true, 'the rows were committed while this thread never yielded');
    await appended;
    assert.equal(f.writer.starts, 1);
    assert.deepEqual(await verifyAuditChain(f.store, f.headKey), { ok: true, rows: 300, head: { seq: 300, hash: (await f.store.tailAudit(1))[0]!.hash } });
  } finally {
    await f.dispose();
  }
});

test('a writer thread that dies before it commits: the batch is refused (store.unavailable), kept by the trail, and written once by a new thread', async () => {
  const f = await fixture();
  try {
    const trail = new AuditTrail(f.store, silentLogger);
    trail.record(ev('first'));
    await trail.flush();
    // hold the write lock from another connection: the thread's next append waits for it and cannot commit
    f.other.exec('begin immediate');
    trail.record(ev('second'));
    trail.record(ev('third'));
    const flushing = trail.flush();
    await new Promise((r) => setTimeout(r, 100));
    await f.writer.thread!.terminate();
    await assert.rejects(flushing, (e) => isPortcullisError(e) && e.code === 'audit.unavailable');
    assert.equal(trail.pending, 2, 'both events are kept');
    f.other.exec('rollback');
    trail.record(ev('fourth'));
    await trail.flush();
    assert.equal(f.writer.starts, 2, 'a new thread took over');
    assert.deepEqual((await f.store.listAudit(0, 10)).map((r) => r.type), ['first', 'second', 'third', 'fourth']);
    assert.equal((await verifyAuditChain(f.store, f.headKey)).ok, true);
  } finally {
    await f.dispose();
  }
});

test('an audit key set while the thread runs reaches it in order: the appends posted after it record an authenticated head', async () => {
  const f = await fixture({ keyed: false });
  try {
    await f.store.appendAudit([ev('before-the-key')], chainHash);
    assert.equal(f.writer.starts, 1);
    assert.equal((await f.store.auditHead())!.mac, null);
    const key = await keyedLikeANode(f.store);
    assert.equal(key.legacy?.seq, 1);
    await f.store.appendAudit([ev('after-the-key')], chainHash);
    assert.equal(f.writer.starts, 1, 'the same thread');
    const head = (await f.store.auditHead())!;
    assert.equal(head.mac, key.mac(2, head.hash));
    assert.equal((await verifyAuditChain(f.store, key)).ok, true);
  } finally {
    await f.dispose();
  }
});

test('the store refuses an append after close, and close commits what was posted before it', async () => {
  const f = await fixture();
  try {
    const posted = f.store.appendAudit([ev('last-words')], chainHash);
    await f.store.close();
    await posted;
    assert.equal(f.count(), 1);
    await assert.rejects(f.store.appendAudit([ev('too-late')], chainHash), (e) => isPortcullisError(e) && e.code === 'store.unavailable');
    assert.equal(f.count(), 1);
  } finally {
    await f.dispose();
  }
});

test('event data structured clone cannot copy (a function) is stored as its JSON, as the in-thread store stores it', async () => {
  const f = await fixture();
  try {
    await f.store.appendAudit([ev('odd', { data: { n: 1, f: (() => 1) as unknown as string } })], chainHash);
    const [row] = await f.store.listAudit(0, 1);
    assert.deepEqual(row!.data, { n: 1 });
    assert.equal((await verifyAuditChain(f.store, f.headKey)).ok, true);
  } finally {
    await f.dispose();
  }
});

test('an append hashed with another chain function is written in place, not on the thread', async () => {
  const f = await fixture();
  try {
    const mine = (prev: string, seq: number, e: AuditEventInput) => chainHash(prev, seq, e);
    await f.store.appendAudit([ev('in-place')], mine);
    assert.equal(f.writer.starts, 0);
    assert.equal(f.count(), 1);
  } finally {
    await f.dispose();
  }
});
