/**
 * A process on a real pseudo-terminal that can hang up, through script(1) (util-linux):
 * killing script closes the terminal's master side, and the kernel then sends SIGHUP to
 * the processes of the terminal and fails their later writes to it with EIO, as when an
 * SSH session drops. Linux only (the process is found through /proc).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';

export interface Terminal {
  /** What the terminal shows: the process's stdout and stderr. */
  output: NodeJS.ReadableStream;
  /** The process's id (script's one child: the command is run with `exec`). */
  pid(): number;
  /** Closes the terminal. */
  hangUp(): void;
  /** Ends the process (SIGKILL) if it is still there, and the terminal: for a test's cleanup. */
  kill(): void;
}

/**
 * @example
 * const t = onTerminal(['node', 'server.js']);
 * t.hangUp();
 * assert.ok(await gone(t.pid(), 10_000));
 */
export function onTerminal(argv: string[], opts: { cwd?: string; env?: NodeJS.ProcessEnv } = {}): Terminal {
  const command = `exec ${argv.map((a) => `'${a.replace(/'/g, `'\\''`)}'`).join(' ')}`;
  // stdin stays open: script ends the session when its input ends
  const script: ChildProcess = spawn('script', ['-qfec', command, '/dev/null'], { cwd: opts.cwd, env: { ...(opts.env ?? process.env), SHELL: '/bin/sh' }, stdio: ['pipe', 'pipe', 'ignore'] });
  let pid: number | undefined;
  return {
    output: script.stdout!,
    pid: () => (pid ??= Number(readFileSync(`/proc/${script.pid}/task/${script.pid}/children`, 'utf8').trim())),
    hangUp: () => void script.kill('SIGKILL'),
    kill: () => {
      if (pid !== undefined) {
        try {
          process.kill(pid, 'SIGKILL');
        } catch {
          // already gone
        }
      }
      script.kill('SIGKILL');
    },
  };
}

/** Resolves true once process `pid` has ended (gone, or a zombie nobody reaped yet); false after `ms`. */
export async function gone(pid: number, ms: number): Promise<boolean> {
  for (const until = Date.now() + ms; Date.now() < until; await sleep(100)) {
    try {
      if (/^\d+ \(.*\) Z/.test(readFileSync(`/proc/${pid}/stat`, 'utf8'))) return true;
    } catch {
      return true;
    }
  }
  return !existsSync(`/proc/${pid}`);
}
