/**
 * A connection opened in the process after the -wal (or -shm) was deleted under the
 * node. Such a connection used to take the files at the path as its own: SQLite created
 * a new -wal for it, its own check (sqlite.ts) passed, and the one database had two -wal
 * inodes — the first connection's unlinked one, holding the commits since the last
 * checkpoint, and the new one. The new connection read through the shared WAL index into
 * the wrong file (SQLITE_IOERR_SHORT_READ, or after a checkpoint wrong pages: a corrupt
 * database), and whichever connection closed last checkpointed its own -wal: if that was
 * the new one, every commit in the old -wal was lost despite a clean stop.
 *
 * Now later connections in the process (the audit writer thread, a gateway thread's
 * store, a second store on the file) check the identities the first connection took,
 * before they open anything: they refuse at open, or refuse each write, alike.
 *
 * The -shm (SQLite's shared-memory WAL index) is checked too: a process opening the file
 * after it was deleted would build a WAL index of its own, unknown to this one, and the
 * two would write over each other's frames in the one -wal.
 */
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, rmSync, unlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { Worker } from 'node:worker_threads';
import Database from 'better-sqlite3';
import { chainHash } from '../../src/audit/trail.js';
import { workerEntry } from '../../src/core/worker-entry.js';
import { openDurableStore } from '../../src/store/index.js';
import { event, notWritable, refused, WAL_REPLACED } from '../support/sqlite-replaced.js';

const SHM_REPLACED = 'the database -shm file was removed or replaced; stop the node (a clean stop, not kill -9: closing writes the open -wal into the database file) and start it again';

/** Opens the store in a worker thread (as a gateway thread does); what it posted. */
function inWorker(path: string, write?: string): Promise<{ ok: boolean; code?: string; message?: string }> {
  const e = workerEntry(new URL('./fixtures/sqlite-open-worker.js', import.meta.url));
  const worker = new Worker(e.file, { eval: e.eval, workerData: { path, ...(write !== undefined ? { write } : {}) } });
  return new Promise((resolve, reject) => {
    worker.once('message', (m: { ok: boolean; code?: string; message?: string }) => resolve(m));
    worker.once('error', reject);
    worker.once('exit', (code) => reject(new Error(`the worker exited (${code}) without an answer`)));
  });
}

/** Reopens the file after everything closed: what was committed before the deletion is there, and the database is sound. */
async function kept(file: string, settings: Record<string, string>): Promise<void> {
  const again = await openDurableStore(`sqlite:${file}`);
  try {
    for (const [k, v] of Object.entries(settings)) assert.equal(await again.getSetting(k), v, k);
  } finally {
    await again.close();
  }
  const raw = new Database(file, { readonly: true });
  try {
    assert.equal(raw.pragma('integrity_check', { simple: true }), 'ok');
  } finally {
    raw.close();
  }
}

function tempFile(): { dir: string; file: string } {
  const dir = mkdtempSync(join(tmpdir(), 'portcullis-later-conn-'));
  return { dir, file: join(dir, 'a.db') };
}

test('the audit writer thread started after the -wal was deleted: refused alike, no second -wal, the commits survive a clean close', async () => {
  const { dir, file } = tempFile();
  try {
    const store = await openDurableStore(`sqlite:${file}`, { auditThread: true });
    try {
      await store.putSetting('before', 'kept');
      unlinkSync(`${file}-wal`);
      // the thread starts on this first append, after the deletion
      await refused(store.appendAudit([event('after')], chainHash), WAL_REPLACED);
      await refused(store.appendAudit([event('again')], chainHash), WAL_REPLACED);
      await notWritable(store, 'PORTCULLIS_SQLITE_WAL_REPLACED');
      assert.equal(existsSync(`${file}-wal`), false, 'the thread created a -wal of its own');
      assert.equal(await store.getSetting('before'), 'kept');
    } finally {
      await store.close();
    }
    await kept(file, { before: 'kept' });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a worker thread opening the store after the -wal was deleted (a gateway thread) is refused at open; the commits survive a clean close', async () => {
  const { dir, file } = tempFile();
  try {
    const store = await openDurableStore(`sqlite:${file}`);
    try {
      await store.putSetting('before', 'kept');
      // all checkpointed: the next commit restarts the WAL from its start
      const raw = new Database(file);
      raw.pragma('wal_checkpoint(PASSIVE)');
      raw.close();
      await store.putSetting('late', 'kept too');
      unlinkSync(`${file}-wal`);
      assert.deepEqual(await inWorker(file, 'worker'), { ok: false, code: 'store.unavailable', message: WAL_REPLACED });
      assert.equal(existsSync(`${file}-wal`), false, 'the worker created a -wal of its own');
      await notWritable(store, 'PORTCULLIS_SQLITE_WAL_REPLACED');
    } finally {
      await store.close();
    }
    await kept(file, { before: 'kept', late: 'kept too' });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a worker thread opening the store while the files are in place shares them: its write is seen by the main connection', async () => {
  const { dir, file } = tempFile();
  try {
    const store = await openDurableStore(`sqlite:${file}`);
    try {
      await store.putSetting('before', 'kept');
      assert.deepEqual(await inWorker(file, 'worker'), { ok: true });
      assert.equal(await store.getSetting('worker'), 'from-worker');
      await store.putSetting('after', '1');
      await store.ping();
    } finally {
      await store.close();
    }
    await kept(file, { before: 'kept', worker: 'from-worker', after: '1' });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a second store opened in the process after it was closed takes the files afresh (no stale identity)', async () => {
  const { dir, file } = tempFile();
  try {
    const first = await openDurableStore(`sqlite:${file}`, { auditThread: true });
    await first.putSetting('one', '1');
    await first.appendAudit([event('one')], chainHash);
    // the last close checkpoints and deletes the -wal: the next open makes a new one, rightly
    await first.close();
    const second = await openDurableStore(`sqlite:${file}`, { auditThread: true });
    try {
      await second.putSetting('two', '2');
      await second.appendAudit([event('two')], chainHash);
      assert.deepEqual(await inWorker(file, 'worker'), { ok: true });
      await second.ping();
    } finally {
      await second.close();
    }
    await kept(file, { one: '1', two: '2', worker: 'from-worker' });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('the -shm deleted: writes refused, ping store.not-writable, and a worker opening later is refused at open', async () => {
  const { dir, file } = tempFile();
  try {
    const store = await openDurableStore(`sqlite:${file}`, { auditThread: true });
    try {
      await store.putSetting('before', 'kept');
      unlinkSync(`${file}-shm`);
      await refused(store.putSetting('after', '1'), SHM_REPLACED);
      await refused(store.appendAudit([event('after')], chainHash), SHM_REPLACED);
      await notWritable(store, 'PORTCULLIS_SQLITE_SHM_REPLACED');
      assert.deepEqual(await inWorker(file, 'worker'), { ok: false, code: 'store.unavailable', message: SHM_REPLACED });
      assert.equal(await store.getSetting('before'), 'kept');
    } finally {
      await store.close();
    }
    await kept(file, { before: 'kept' });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
