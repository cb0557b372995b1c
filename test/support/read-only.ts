/**
 * A directory made read-only by a read-only bind mount over itself, as a Kubernetes
 * ConfigMap or Secret volume is: every write under it fails EROFS. Tests run as root here,
 * so a chmod would not stop a write. Mounting needs CAP_SYS_ADMIN: where it is refused,
 * `bindReadOnly` returns the reason, for the test to be skipped with it in its name.
 */
import { execFileSync } from 'node:child_process';

/** Mounts `dir` read-only over itself; returns the function that undoes it, or why it cannot be done here. */
export function bindReadOnly(dir: string): (() => void) | string {
  try {
    execFileSync('mount', ['--bind', dir, dir], { stdio: 'pipe' });
  } catch (e) {
    return `cannot bind-mount here (${String((e as { stderr?: Buffer }).stderr ?? e).trim().split('\n')[0]})`;
  }
  try {
    execFileSync('mount', ['-o', 'remount,bind,ro', dir], { stdio: 'pipe' });
  } catch (e) {
    execFileSync('umount', ['-l', dir], { stdio: 'pipe' });
    return `cannot remount a bind mount read-only here (${String((e as { stderr?: Buffer }).stderr ?? e).trim().split('\n')[0]})`;
  }
  return () => execFileSync('umount', ['-l', dir], { stdio: 'pipe' });
}
