/**
 * A small tmpfs mounted for one test, to fill it and see real writes fail with ENOSPC
 * (SQLite: SQLITE_FULL). Tests run as root here, so a chmod would not stop a write; a
 * full file system stops root too. Mounting needs CAP_SYS_ADMIN: where it is refused,
 * `mountTmpfs` returns the reason, for the test to be skipped with it in its name.
 */
import { execFileSync } from 'node:child_process';
import { closeSync, mkdtempSync, openSync, rmSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface Tmpfs {
  dir: string;
  /** Writes a file until the file system is full. */
  fill(): void;
  /** Removes what `fill` wrote. */
  free(): void;
  unmount(): void;
}

export function mountTmpfs(size: string): Tmpfs | string {
  const dir = mkdtempSync(join(tmpdir(), 'portcullis-tmpfs-'));
  try {
    execFileSync('mount', ['-t', 'tmpfs', '-o', `size=${size},mode=0700`, 'tmpfs', dir], { stdio: 'pipe' });
  } catch (e) {
    rmSync(dir, { recursive: true, force: true });
    return `cannot mount a tmpfs here (${String((e as { stderr?: Buffer }).stderr ?? e).trim().split('\n')[0]})`;
  }
  const filler = join(dir, 'filler');
  return {
    dir,
    fill() {
      const fd = openSync(filler, 'a');
      try {
        for (const size of [1 << 20, 64 << 10, 4 << 10, 512]) {
          const chunk = Buffer.alloc(size);
          try {
            for (;;) writeSync(fd, chunk);
          } catch (e) {
            if ((e as NodeJS.ErrnoException).code !== 'ENOSPC') throw e;
          }
        }
      } finally {
        closeSync(fd);
      }
    },
    free() {
      rmSync(filler, { force: true });
    },
    unmount() {
      execFileSync('umount', ['-l', dir], { stdio: 'pipe' });
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
