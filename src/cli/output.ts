/**
 * CLI output conventions: results on stdout, diagnostics on stderr, failures as
 * `error: <code>: <message>` and exit status 1, never a stack trace.
 */
import { readFileSync, writeFileSync, type WriteFileOptions } from 'node:fs';
import { fsErrorText, PortcullisError } from '../core/errors.js';

/** A failure to report: a Portcullis error code (local or from the admin API) and a message. */
export class CliError extends Error {
  constructor(
    readonly code: string,
    message: string,
  ) {
    super(message);
    this.name = 'CliError';
  }
}

/** Reads the file a command-line option names; a failure is `request.invalid` naming the option. */
export function readOptionFile(flag: string, file: string): string {
  try {
    return readFileSync(file, 'utf8');
  } catch (e) {
    throw new CliError('request.invalid', `${flag} ${file}: ${fsErrorText(e)}`);
  }
}

/** Writes the file a command-line option names; a failure is `request.invalid` naming the option. */
export function writeOptionFile(flag: string, file: string, data: string | Buffer, options: WriteFileOptions): void {
  try {
    writeFileSync(file, data, options);
  } catch (e) {
    throw new CliError('request.invalid', `${flag} ${file}: ${fsErrorText(e)}`);
  }
}

export function reportError(e: unknown): void {
  let code = 'internal';
  let message: string;
  if (e instanceof CliError || e instanceof PortcullisError) {
    code = e.code;
    message = e.message;
  } else if (e instanceof Error) {
    message = (e as NodeJS.ErrnoException).code ? `${(e as NodeJS.ErrnoException).code}: ${e.message}` : e.message;
  } else {
    message = String(e);
  }
  process.stderr.write(`error: ${code}: ${message}\n`);
}

/** Wraps a command action: any error is printed the CLI way and sets exit status 1. */
export function action<A extends unknown[]>(fn: (...args: A) => Promise<void>): (...args: A) => Promise<void> {
  return async (...args: A) => {
    try {
      await fn(...args);
    } catch (e) {
      reportError(e);
      process.exitCode = 1;
    }
  };
}

export function printJson(value: unknown): void {
  process.stdout.write(`${JSON.stringify(value, null, 2)}\n`);
}

/** Left-aligned columns. */
export function printTable(rows: string[][]): void {
  if (rows.length === 0) return;
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => (r[i] ?? '').length)));
  for (const r of rows) process.stdout.write(`${r.map((c, i) => (i === r.length - 1 ? c : c.padEnd(widths[i]!))).join('  ')}\n`);
}
