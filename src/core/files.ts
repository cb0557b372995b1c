/**
 * Durable file writes for secrets (keys, tokens): created exclusively with mode 0600,
 * written and fsynced before anyone relies on them.
 */
import { closeSync, fsyncSync, openSync, writeSync } from 'node:fs';
import { dirname } from 'node:path';

/**
 * Creates `path` with mode 0600 (failing with EEXIST if it exists), writes `content`
 * and fsyncs it. The file may be left partly written when this throws after creating it.
 *
 * @example writeNewFileSync(`${file}.tmp`, pem)
 */
export function writeNewFileSync(path: string, content: string): void {
  const fd = openSync(path, 'wx', 0o600);
  try {
    writeSync(fd, content);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
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
