/**
 * Durability of new directories: `init --dir new/dir` (and the SQLite file, the audit
 * anchor, `cert --out-dir`) create directories, then files in them. The file and the
 * directory holding it are fsynced, but the new directory's own entry lives in its parent:
 * until the parent is fsynced, a power loss can drop the directory, and the master key,
 * admin token and CA key inside it, although `init` reported them created.
 */
import assert from 'node:assert/strict';
import fs, { mkdtempSync, rmSync } from 'node:fs';
import { syncBuiltinESMExports } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { createFileOnceSync, makeDirectorySync } from '../../src/core/files.js';

/** Runs `fn`, returning the directories fsynced meanwhile (by path, as opened). */
function dirsFsynced(fn: () => void): string[] {
  const origOpen = fs.openSync;
  const origFsync = fs.fsyncSync;
  const dirOf = new Map<number, string>();
  const synced: string[] = [];
  fs.openSync = ((path: fs.PathLike, ...rest: unknown[]) => {
    const fd = (origOpen as (...a: unknown[]) => number)(path, ...rest);
    if (fs.statSync(path).isDirectory()) dirOf.set(fd, String(path));
    return fd;
  }) as typeof fs.openSync;
  fs.fsyncSync = ((fd: number) => {
    const d = dirOf.get(fd);
    if (d !== undefined) synced.push(d);
    origFsync(fd);
  }) as typeof fs.fsyncSync;
  syncBuiltinESMExports();
  try {
    fn();
  } finally {
    fs.openSync = origOpen;
    fs.fsyncSync = origFsync;
    syncBuiltinESMExports();
  }
  return synced;
}

test('makeDirectorySync: each directory it creates is made durable in its parent (the parent is fsynced)', () => {
  const root = mkdtempSync(join(tmpdir(), 'portcullis-dirsync-'));
  try {
    const dir = join(root, 'a', 'b');
    const synced = dirsFsynced(() => {
      makeDirectorySync(dir, 0o700);
      assert.equal(createFileOnceSync(join(dir, 'master.key'), 'k\n', 0o600), true);
    });
    // b's entry is in a, a's entry is in root: both parents must be fsynced after the mkdirs
    assert.ok(synced.includes(root), `the parent of ${join(root, 'a')} was never fsynced (fsynced: ${synced.join(', ')})`);
    assert.ok(synced.includes(join(root, 'a')), `the parent of ${dir} was never fsynced (fsynced: ${synced.join(', ')})`);
    assert.ok(synced.includes(dir), 'the directory holding the new file is fsynced');
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});

test('makeDirectorySync: a directory that already exists fsyncs nothing (start-up of an existing node stays cheap)', () => {
  const root = mkdtempSync(join(tmpdir(), 'portcullis-dirsync-'));
  try {
    assert.deepEqual(dirsFsynced(() => makeDirectorySync(root)), []);
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});
