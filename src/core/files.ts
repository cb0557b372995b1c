/**
 * Durable file writes for secrets (keys, tokens): created exclusively with mode 0600,
 * written and fsynced before anyone relies on them.
 */
import { randomBytes } from 'node:crypto';
import { closeSync, fsyncSync, linkSync, mkdirSync, openSync, renameSync, rmSync, statSync, unlinkSync, writeSync, type Stats } from 'node:fs';
import { dirname } from 'node:path';
import { fsErrorText } from './errors.js';

/**
 * Creates `path` with mode 0600 (failing with EEXIST if it exists), writes `content`
 * and fsyncs it. The file may be left partly written when this throws after creating it.
 *
 * @example writeNewFileSync(`${file}.tmp`, pem)
 */
export function writeNewFileSync(path: string, content: string | Uint8Array, mode = 0o600): void {
  const fd = openSync(path, 'wx', mode);
  try {
    const bytes = typeof content === 'string' ? Buffer.from(content) : content;
    // a short write (a disk filling up) is continued, so its ENOSPC is thrown rather than a truncated file kept
    for (let at = 0; at < bytes.length; ) at += writeSync(fd, bytes, at, bytes.length - at);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

/**
 * Creates `path` with `content` whole or not at all, never over an existing file (nor
 * through a symlink planted there): a temporary file beside it (exclusive, `mode` from its
 * creation), written and fsynced, then hard-linked to `path` and the directory fsynced.
 * A write that fails or a crash leaves no `path`, so a later run creates it again; only
 * a crash can leave a `path.tmp-…` file. Returns false, writing nothing, when `path`
 * exists. Throws the file system's error otherwise.
 *
 * @example if (createFileOnceSync(keyFile, key, 0o600)) created.push(keyFile);
 */
export function createFileOnceSync(path: string, content: string | Uint8Array, mode = 0o600): boolean {
  const tmp = `${path}.tmp-${randomBytes(6).toString('hex')}`;
  try {
    writeNewFileSync(tmp, content, mode);
  } catch (e) {
    rmSync(tmp, { force: true });
    throw e;
  }
  try {
    linkSync(tmp, path);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'EEXIST') return false;
    throw e;
  } finally {
    unlinkSync(tmp);
  }
  try {
    fsyncDirectoryOf(path);
  } catch (e) {
    // not supported on every platform (Windows); the link itself is atomic
    if (process.platform !== 'win32') throw e;
  }
  return true;
}

/**
 * Writes `path` whole or not at all, replacing a regular file there: a temporary file
 * beside it (exclusive, `mode`), written and fsynced, renamed over `path`, the directory
 * fsynced. A reader sees the old file or the new one, never a part. Never writes through
 * a symlink at `path` (rename replaces names, not what they point to), but callers that
 * must not replace a link either check it first (`writeOptionFile`).
 *
 * @example replaceFileSync(out, pem, 0o644)
 */
export function replaceFileSync(path: string, content: string | Uint8Array, mode = 0o600): void {
  const tmp = `${path}.tmp-${randomBytes(6).toString('hex')}`;
  try {
    writeNewFileSync(tmp, content, mode);
    renameSync(tmp, path);
  } catch (e) {
    rmSync(tmp, { force: true });
    throw e;
  }
  try {
    fsyncDirectoryOf(path);
  } catch (e) {
    if (process.platform !== 'win32') throw e;
  }
}

/**
 * Fsyncs the directory holding `path`, so a file created, linked or renamed there
 * survives a crash. Throws where the platform cannot open a directory for it.
 *
 * @example renameSync(tmp, file); fsyncDirectoryOf(file);
 */
export function fsyncDirectoryOf(path: string): void {
  const fd = openSync(dirname(path), 'r');
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

/** A directory that `makeDirectorySync` cannot make; the message names the path at fault and why. */
export class MakeDirectoryError extends Error {
  constructor(
    /** the directory (or ancestor) at fault */
    readonly path: string,
    /** the errno code (ENOTDIR for an ancestor that is a file) */
    readonly code: string,
    message: string,
    options?: { cause: unknown },
  ) {
    super(message, options);
    this.name = 'MakeDirectoryError';
  }
}

/**
 * `mkdir -p`: makes `dir` and each missing ancestor (with `mode`, like
 * `mkdirSync(dir, { recursive: true, mode })`), one directory at a time from the nearest
 * one that exists, fsyncing the parent of each one made (its entry is there: a file
 * created and fsynced in a new directory is otherwise lost with it on a power loss).
 * A directory that exists costs a `stat` only. Never Node's recursive mkdir: where a pseudo-file system such as /proc
 * answers ENOENT for a new name under a directory that exists, it retries for ever.
 * Throws MakeDirectoryError naming the first path that cannot be used.
 *
 * @example makeDirectorySync(outDir, 0o700)
 */
export function makeDirectorySync(dir: string, mode = 0o777): void {
  const missing: string[] = [];
  let at = dir;
  for (;;) {
    let st: Stats;
    try {
      st = statSync(at);
    } catch (cause) {
      const code = (cause as NodeJS.ErrnoException).code ?? 'EIO';
      // missing, or under a file: go up to the nearest path that exists (a file there is reported below)
      if ((code === 'ENOENT' || code === 'ENOTDIR') && dirname(at) !== at) {
        missing.push(at);
        at = dirname(at);
        continue;
      }
      throw new MakeDirectoryError(at, code, `${at} cannot be accessed: ${fsErrorText(cause)}`, { cause });
    }
    if (!st.isDirectory()) throw new MakeDirectoryError(at, 'ENOTDIR', st.isFile() ? `${at} is a file, not a directory` : `${at} is not a directory`);
    break;
  }
  for (const d of missing.reverse()) {
    try {
      mkdirSync(d, { mode });
    } catch (cause) {
      const code = (cause as NodeJS.ErrnoException).code ?? 'EIO';
      if (code === 'EEXIST' && isDirectory(d)) continue; // made meanwhile by someone else
      // ENOENT although its parent exists (it was found or just made): a file system that refuses new names
      const reason = code === 'ENOENT' ? `the file system of ${dirname(d)} refuses it (ENOENT)` : fsErrorText(cause);
      throw new MakeDirectoryError(d, code, `${d} cannot be created: ${reason}`, { cause });
    }
    // the new directory's entry is in its parent: fsynced, or a power loss may drop it with the files put in it
    try {
      fsyncDirectoryOf(d);
    } catch (cause) {
      if (process.platform === 'win32') continue;
      const code = (cause as NodeJS.ErrnoException).code ?? 'EIO';
      throw new MakeDirectoryError(dirname(d), code, `${dirname(d)} cannot be synced to disk after creating ${d} in it: ${fsErrorText(cause)}`, { cause });
    }
  }
}

function isDirectory(path: string): boolean {
  try {
    return statSync(path).isDirectory();
  } catch {
    return false;
  }
}
