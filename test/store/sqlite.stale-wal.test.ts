/**
 * A `-wal` left next to a database file that is gone (deleted while the node ran and the
 * node then died, or deleted while it was stopped): SQLite, finding the file missing or
 * empty, deleted the -wal (the last trace of the commits it held) and started a new,
 * empty database, and the node started as a new one without a word. The store now
 * refuses to open then, with a typed error that names the files and says what to do; it
 * creates and deletes nothing. `portcullis start` and `portcullis init` report it the
 * CLI way: `error: store.unavailable: …`, exit 1, no stack trace.
 */
import assert from 'node:assert/strict';
import { copyFileSync, existsSync, mkdtempSync, renameSync, rmSync, statSync, unlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { PortcullisError } from '../../src/core/errors.js';
import { openDurableStore } from '../../src/store/index.js';
import { runCli } from '../cli/run.js';
import { startRefused, startTestNode } from '../support/portcullis.js';

const stale = (file: string, state: 'missing' | 'empty') =>
  `store: ${file}-wal is left from a database file that is gone (${file} is ${state}); SQLite would delete it and start a new, empty database. Put back the database file it belongs to, or move ${file}-wal and ${file}-shm out of the way (not next to another copy of the database, such as a backup: it would be replayed onto it), and start again`;

/** Leaves `file`-wal and -shm as a node that died would: copied while the store was open, put back after the file is gone. */
async function leaveStaleWal(file: string, dir: string): Promise<void> {
  const store = await openDurableStore(`sqlite:${file}`);
  await store.putSetting('old', 'resurrected');
  copyFileSync(`${file}-wal`, join(dir, 'wal.copy'));
  copyFileSync(`${file}-shm`, join(dir, 'shm.copy'));
  await store.close();
  unlinkSync(file);
  renameSync(join(dir, 'wal.copy'), `${file}-wal`);
  renameSync(join(dir, 'shm.copy'), `${file}-shm`);
}

async function refusedStore(file: string, state: 'missing' | 'empty'): Promise<void> {
  await assert.rejects(openDurableStore(`sqlite:${file}`), (e: unknown) => {
    assert.ok(e instanceof PortcullisError, String(e));
    assert.equal(e.code, 'store.unavailable');
    assert.equal(e.message, stale(file, state));
    return true;
  });
}

function inTempDir(fn: (dir: string) => Promise<void>): () => Promise<void> {
  return async () => {
    const dir = mkdtempSync(join(tmpdir(), 'portcullis-stale-wal-'));
    try {
      await fn(dir);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  };
}

test(
  'the database file missing, its -wal left: opening is refused naming the files, no database file is created',
  inTempDir(async (dir) => {
    const file = join(dir, 'a.db');
    await leaveStaleWal(file, dir);
    const size = statSync(`${file}-wal`).size;
    await refusedStore(file, 'missing');
    assert.equal(existsSync(file), false);
    assert.equal(statSync(`${file}-wal`).size, size);
  }),
);

test(
  'the database file empty, its -wal left: refused too, the file left as it was',
  inTempDir(async (dir) => {
    const file = join(dir, 'a.db');
    await leaveStaleWal(file, dir);
    writeFileSync(file, '', { mode: 0o600 });
    await refusedStore(file, 'empty');
    assert.equal(statSync(file).size, 0);
  }),
);

test(
  'with the -wal and -shm moved away, the path opens as a new, empty database: nothing of the old one comes back',
  inTempDir(async (dir) => {
    const file = join(dir, 'a.db');
    await leaveStaleWal(file, dir);
    renameSync(`${file}-wal`, join(dir, 'old-wal'));
    renameSync(`${file}-shm`, join(dir, 'old-shm'));
    const store = await openDurableStore(`sqlite:${file}`);
    try {
      assert.equal(await store.getSetting('old'), undefined);
    } finally {
      await store.close();
    }
  }),
);

test(
  'a -shm alone left (no -wal) is harmless: the path opens',
  inTempDir(async (dir) => {
    const file = join(dir, 'a.db');
    await leaveStaleWal(file, dir);
    unlinkSync(`${file}-wal`);
    const store = await openDurableStore(`sqlite:${file}`);
    try {
      await store.putSetting('new', '1');
      assert.equal(await store.getSetting('old'), undefined);
    } finally {
      await store.close();
    }
  }),
);

test('a node whose portcullis.db was deleted, its -wal left: the node refuses to start; portcullis start and init exit 1 with the error, no stack trace', async () => {
  const node = await startTestNode({ keepDir: true });
  const file = join(node.dir, 'portcullis.db');
  try {
    const r = await fetch(`${node.urls.admin}/v1/apps`, { method: 'POST', headers: { authorization: `Bearer ${node.adminToken}`, 'content-type': 'application/json' }, body: JSON.stringify({ name: 'old', audiences: ['x'] }) });
    assert.equal(r.status, 201);
    // the node dies with its -wal on disk: copied while it runs, put back once its file is gone
    copyFileSync(`${file}-wal`, join(node.dir, 'wal.copy'));
    await node.stop();
    unlinkSync(file);
    renameSync(join(node.dir, 'wal.copy'), `${file}-wal`);

    const e = await startRefused(node.dir);
    assert.equal(e.code, 'store.unavailable');
    assert.equal(e.message, stale(file, 'missing'));
    assert.equal(existsSync(file), false);
    assert.equal(existsSync(`${file}-wal`), true);

    for (const command of ['start', 'init']) {
      const c = await runCli([command, '--dir', node.dir]);
      assert.equal(c.code, 1, c.stderr);
      assert.equal(c.stderr, `error: store.unavailable: ${stale(file, 'missing')}\n`);
      assert.equal(c.stdout, '');
      assert.equal(existsSync(file), false, command);
    }
  } finally {
    rmSync(node.dir, { recursive: true, force: true });
  }
});
