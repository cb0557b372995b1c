/** Runs the CLI the way a user does: a separate node process (TypeScript through tsx). */
import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';

export const CLI = fileURLToPath(new URL('../../src/cli/main.ts', import.meta.url));
const ROOT = fileURLToPath(new URL('../..', import.meta.url));

export function cliEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env, ...extra };
  delete env.PORTCULLIS_DIR;
  return env;
}

export function spawnCli(args: string[], env: Record<string, string> = {}): ChildProcess {
  return spawn(process.execPath, ['--import', 'tsx', CLI, ...args], { cwd: ROOT, env: cliEnv(env), stdio: ['ignore', 'pipe', 'pipe'] });
}

export interface CliResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

export interface RunCliOptions {
  /** kill the CLI and fail after this long (a command that hangs fails instead of blocking the run) */
  timeoutMs?: number;
  /** written to the CLI's stdin, which then ends; without it stdin is /dev/null */
  stdin?: string | Buffer;
  /** a shell command run first in a `sh` that then execs the CLI, which inherits what it set: `ulimit -f 0` */
  shellSetup?: string;
}

/**
 * @param options the options, or (as most callers give it) just `timeoutMs`
 * @example await runCli(['user', 'add', 'a@example.test', ...opts], {}, { stdin: `${password}\n` })
 */
export function runCli(args: string[], env: Record<string, string> = {}, options: number | RunCliOptions = {}): Promise<CliResult> {
  const { timeoutMs, stdin, shellSetup } = typeof options === 'number' ? { timeoutMs: options } : options;
  return new Promise((resolve, reject) => {
    const argv = [process.execPath, '--import', 'tsx', CLI, ...args];
    const [command, ...rest] = shellSetup === undefined ? argv : ['sh', '-c', `${shellSetup} && exec "$@"`, 'sh', ...argv];
    const child = spawn(command!, rest, { cwd: ROOT, env: cliEnv(env), stdio: [stdin === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    const timer =
      timeoutMs === undefined
        ? undefined
        : setTimeout(() => {
            child.kill('SIGKILL');
            reject(new Error(`portcullis ${args.join(' ')} did not end within ${timeoutMs} ms; stderr: ${stderr}`));
          }, timeoutMs);
    child.stdout!.on('data', (d) => (stdout += d));
    child.stderr!.on('data', (d) => (stderr += d));
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
    // a CLI that ends before reading all of it closes the pipe: that is its answer, not a test failure
    child.stdin?.on('error', () => undefined);
    child.stdin?.end(stdin);
  });
}

/** Resolves with the accumulated text once `pattern` appears on the stream. */
export function waitFor(stream: NodeJS.ReadableStream, pattern: RegExp, timeoutMs = 60_000): Promise<string> {
  return new Promise((resolve, reject) => {
    let text = '';
    const timer = setTimeout(() => reject(new Error(`timed out waiting for ${pattern}; got: ${text}`)), timeoutMs);
    const onData = (d: Buffer) => {
      text += d.toString();
      if (pattern.test(text)) {
        clearTimeout(timer);
        stream.off('data', onData);
        resolve(text);
      }
    };
    stream.on('data', onData);
  });
}

export function exitOf(child: ChildProcess): Promise<number | null> {
  return new Promise((resolve) => (child.exitCode !== null ? resolve(child.exitCode) : child.on('exit', (code) => resolve(code))));
}
