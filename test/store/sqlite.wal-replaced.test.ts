/**
 * A SQLite `-wal` file deleted (or another file put in its place) under a running node:
 * SQLite keeps the unlinked WAL open and goes on committing into it, every write is
 * acknowledged, and whatever it holds (the commits since the last checkpoint, the
 * deletion's included) is gone if the node then dies: the next start finds no -wal.
 * The store remembers the -wal's identity (device and inode) at open, as it does the
 * database file's, and checks both before each commit: once the -wal path is gone or
 * names another file, writes fail `store.unavailable` saying so, and `ping` (the
 * readiness check) fails `store.not-writable` with reason PORTCULLIS_SQLITE_WAL_REPLACED.
 * A checkpoint (SQLite's own, or TRUNCATE from another connection) keeps the file and
 * trips nothing; a clean close still copies the open -wal into the database file.
 */
import assert from 'node:assert/strict';
import { copyFileSync, mkdtempSync, renameSync, rmSync, unlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import Database from 'better-sqlite3';
import { chainHash } from '../../src/audit/trail.js';
import { openDurableStore } from '../../src/store/index.js';
import type { DurableStore } from '../../src/store/types.js';
import { event, notWritable as notWritableWith, refused as refusedWith, WAL_REPLACED, withSqliteStore } from '../support/sqlite-replaced.js';

const refused = (p: Promise<unknown>) => refusedWith(p, WAL_REPLACED);
const notWritable = (store: DurableStore) => notWritableWith(store, 'PORTCULLIS_SQLITE_WAL_REPLACED');
const withStore = (fn: (store: DurableStore, file: string, dir: string) => Promise<void>, auditThread = false) => withSqliteStore('portcullis-wal-replaced-', fn, auditThread);

test('the -wal deleted: a write (group commit and transaction) fails store.unavailable, ping fails store.not-writable', async () => {
  await withStore(async (store, file) => {
    unlinkSync(`${file}-wal`);
    await refused(store.putSetting('after', '1'));
    await refused(store.appendAudit([event('after')], chainHash));
    await notWritable(store);
    // the probe write keeps failing: still not writable
    await new Promise((r) => setTimeout(r, 2300));
    await notWritable(store);
    assert.equal(await store.getSetting('before'), '1');
  });
});

test('the -wal deleted on a store opened fresh (no -wal before the open): refused too', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'portcullis-wal-replaced-'));
  const file = join(dir, 'a.db');
  try {
    // made and closed: the last close deletes the -wal, the next open starts without one
    await (await openDurableStore(`sqlite:${file}`)).close();
    const store = await openDurableStore(`sqlite:${file}`);
    try {
      unlinkSync(`${file}-wal`);
      await notWritable(store);
      await refused(store.putSetting('after', '1'));
    } finally {
      await store.close();
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a copy of the -wal renamed over it: ping fails store.not-writable before any write was tried, writes refused', async () => {
  await withStore(async (store, file, dir) => {
    copyFileSync(`${file}-wal`, join(dir, 'copy'));
    renameSync(join(dir, 'copy'), `${file}-wal`);
    await notWritable(store);
    await refused(store.putSetting('after', '1'));
  });
});

test('the audit writer thread checks its own connection: an audit append after the -wal is deleted is refused', async () => {
  await withStore(async (store, file) => {
    await store.appendAudit([event('before')], chainHash);
    unlinkSync(`${file}-wal`);
    // no statement on the main connection first: the thread alone must notice
    await refused(store.appendAudit([event('after')], chainHash));
    await notWritable(store);
  }, true);
});

test('what was committed before the -wal was deleted survives a clean close: the advice the error gives holds', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'portcullis-wal-replaced-'));
  const file = join(dir, 'a.db');
  try {
    const store = await openDurableStore(`sqlite:${file}`);
    await store.putSetting('before', 'kept');
    unlinkSync(`${file}-wal`);
    await refused(store.putSetting('after', '1'));
    await store.close();
    const again = await openDurableStore(`sqlite:${file}`);
    try {
      assert.equal(await again.getSetting('before'), 'kept');
      assert.equal(await again.getSetting('after'), undefined);
      await again.putSetting('after', '2');
      await again.ping();
    } finally {
      await again.close();
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('checkpoints keep the -wal file: SQLite restarting it after an automatic checkpoint, and TRUNCATE from another connection, trip nothing', async () => {
  await withStore(async (store, file) => {
    // ~30 pages a write: past the 1000-page automatic checkpoint, after which the WAL restarts from its start
    const big = 'x'.repeat(120_000);
    for (let i = 0; i < 40; i++) await store.putSetting(`big-${i % 4}`, `${big}${i}`);
    await store.ping();
    const other = new Database(file);
    try {
      assert.deepEqual(other.pragma('wal_checkpoint(TRUNCATE)'), [{ busy: 0, log: 0, checkpointed: 0 }]);
    } finally {
      other.close();
    }
    await store.putSetting('after', '1');
    await store.appendAudit([event('after')], chainHash);
    await store.ping();
    assert.equal(await store.getSetting('after'), '1');
  });
});
