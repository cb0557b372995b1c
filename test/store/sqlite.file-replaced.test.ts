/**
 * A SQLite file deleted or replaced under a running node: better-sqlite3 keeps writing
 * into the unlinked inode, every write is acknowledged, and all of it is gone at the next
 * start (the node opens whatever is at the path then). The store remembers the file's
 * identity (device and inode) at open and checks it before each group commit and
 * transaction: once the path is gone or names another file, writes fail
 * `store.unavailable` saying so, and `ping` (the readiness check) fails
 * `store.not-writable` — on the main connection and on the audit writer thread's.
 */
import assert from 'node:assert/strict';
import { renameSync, rmSync, unlinkSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { chainHash } from '../../src/audit/trail.js';
import { PortcullisError } from '../../src/core/errors.js';
import { openDurableStore } from '../../src/store/index.js';
import type { DurableStore } from '../../src/store/types.js';
import { event, notWritable as notWritableWith, refused as refusedWith, withSqliteStore } from '../support/sqlite-replaced.js';

const REPLACED = /the database file was removed or replaced/;

const refused = (p: Promise<unknown>) => refusedWith(p, REPLACED);
const notWritable = (store: DurableStore) => notWritableWith(store, 'PORTCULLIS_SQLITE_FILE_REPLACED');
const withStore = (fn: (store: DurableStore, file: string, dir: string) => Promise<void>, auditThread = false) => withSqliteStore('portcullis-file-replaced-', fn, auditThread);

test('the file deleted: a write (group commit and transaction) fails store.unavailable, ping fails store.not-writable', async () => {
  await withStore(async (store, file) => {
    unlinkSync(file);
    await refused(store.putSetting('after', '1'));
    await refused(store.appendAudit([event('after')], chainHash));
    await notWritable(store);
    // the probe write keeps failing: still not writable
    await new Promise((r) => setTimeout(r, 2300));
    await notWritable(store);
  });
});

test('another file renamed over it: writes refused, ping fails store.not-writable before any write was tried', async () => {
  await withStore(async (store, file, dir) => {
    const other = await openDurableStore(`sqlite:${join(dir, 'other.db')}`);
    await other.close();
    renameSync(join(dir, 'other.db'), file);
    await notWritable(store);
    await refused(store.putSetting('after', '1'));
  });
});

test('the whole directory deleted: writes refused', async () => {
  await withStore(async (store, _file, dir) => {
    rmSync(dir, { recursive: true, force: true });
    await refused(store.putSetting('after', '1'));
    await notWritable(store);
  });
});

test('the audit writer thread checks its own connection: an audit append after the deletion is refused', async () => {
  await withStore(async (store, file) => {
    await store.appendAudit([event('before')], chainHash);
    unlinkSync(file);
    // no statement on the main connection first: the thread alone must notice
    await assert.rejects(store.appendAudit([event('after')], chainHash), (e: unknown) => {
      assert.ok(e instanceof PortcullisError, String(e));
      assert.equal(e.code, 'store.unavailable');
      assert.match(e.message, REPLACED);
      return true;
    });
    await notWritable(store);
  }, true);
});
