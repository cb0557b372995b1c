/**
 * CLI output conventions: results on stdout, diagnostics on stderr, failures as
 * `error: <code>: <message>` (the cause an error names, `(reason …, driverCode …)`, after
 * its first line) and exit status 1, never a stack trace. Text that people or
 * apps chose (names, e-mail addresses, URLs, certificate subjects, audit data, error
 * messages that echo input) reaches the terminal with its control characters escaped
 * (`escapeControls`): through printTable, printLine and reportError in plain output, and
 * as `\uXXXX` escapes in JSON output, which stays JSON with the same values.
 */
import { lstatSync, readFileSync, type Stats } from 'node:fs';
import { escapeControls } from '../core/control-chars.js';
import { fsErrorText, PortcullisError } from '../core/errors.js';
import { replaceFileSync } from '../core/files.js';

export { escapeControls };

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

/**
 * Writes the file a command-line option names (`mode`), whole and fsynced, replacing a
 * regular file there at once (a reader sees the old or the new one), never through a
 * symlink planted at its name nor over a directory; either, or a failure to write, is
 * `request.invalid` naming the option and the file.
 */
export function writeOptionFile(flag: string, file: string, data: string | Buffer, mode: number): void {
  let existing: Stats | undefined;
  try {
    existing = lstatSync(file);
  } catch {
    existing = undefined;
  }
  if (existing?.isSymbolicLink()) throw new CliError('request.invalid', `${flag} ${file}: is a symbolic link (not followed); remove it or choose another file`);
  if (existing && !existing.isFile()) throw new CliError('request.invalid', `${flag} ${file}: exists and is not a regular file`);
  try {
    replaceFileSync(file, data, mode);
  } catch (e) {
    throw new CliError('request.invalid', `${flag} ${file}: ${fsErrorText(e)}`);
  }
}

/**
 * The cause an error names in its details (`reason`, and the driver's `driverCode`: PostgreSQL
 * refusing the node is `PG_AUTH_FAILED` / `28P01`), as ` (reason …, driverCode …)`; '' when none.
 */
function causeOf(e: PortcullisError): string {
  const parts = (['reason', 'driverCode'] as const).flatMap((k) => {
    const v = e.details?.[k];
    return typeof v === 'string' || typeof v === 'number' ? [`${k} ${escapeControls(String(v))}`] : [];
  });
  return parts.length === 0 ? '' : ` (${parts.join(', ')})`;
}

/** Prints `error: <code>: <message>` on stderr, the cause the error names (`reason`, `driverCode`) at the end of its first line; never a stack. */
export function reportError(e: unknown): void {
  let code = 'internal';
  let message: string;
  if (e instanceof CliError || e instanceof PortcullisError) {
    code = e.code;
    const [first = '', ...rest] = e.message.split('\n');
    message = e instanceof PortcullisError ? [first + causeOf(e), ...rest].join('\n') : e.message;
  } else if (e instanceof Error) {
    message = (e as NodeJS.ErrnoException).code ? `${(e as NodeJS.ErrnoException).code}: ${e.message}` : e.message;
  } else {
    message = String(e);
  }
  // a message may have several lines (one per field); a value in it may not break one
  process.stderr.write(`error: ${escapeControls(code)}: ${message.split('\n').map(escapeControls).join('\n')}\n`);
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

/** What JSON.stringify leaves raw and a terminal would act on: DEL, C1 controls, line separators, bidirectional controls. */
const JSON_UNSAFE = /[\u007f-\u009f\u061c\u200e\u200f\u2028-\u202e\u2066-\u2069]/g;

/**
 * JSON text of `value` that is safe on a terminal: what JSON.stringify leaves raw (DEL, C1
 * and bidirectional controls) as `\uXXXX` escapes, so the JSON parses to the same value.
 *
 * @example
 * jsonText({ name: 'a\u009b2J' }); // '{"name":"a\\u009b2J"}'
 */
export function jsonText(value: unknown, indent?: number): string {
  return String(JSON.stringify(value, null, indent)).replace(JSON_UNSAFE, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
}

export function printJson(value: unknown): void {
  process.stdout.write(`${jsonText(value, 2)}\n`);
}

/**
 * Prints one line on stdout: the template's own text as written, each interpolated value
 * with its control characters escaped (a value can neither send a terminal sequence nor
 * start a line of its own).
 *
 * @example
 * printLine`${app.client_id}: ${app.name}`;
 */
export function printLine(strings: TemplateStringsArray, ...values: unknown[]): void {
  process.stdout.write(`${strings.reduce((out, s, i) => out + escapeControls(String(values[i - 1])) + s)}\n`);
}

/** Left-aligned columns; every cell with its control characters escaped. */
export function printTable(table: string[][]): void {
  if (table.length === 0) return;
  const rows = table.map((r) => r.map(escapeControls));
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => (r[i] ?? '').length)));
  for (const r of rows) process.stdout.write(`${r.map((c, i) => (i === r.length - 1 ? c : c.padEnd(widths[i]!))).join('  ')}\n`);
}

/**
 * A list command's plain output: the table under its header row, or `none` on a line of its
 * own when there are no rows (never a bare header).
 *
 * @example
 * printList('no apps', ['CLIENT_ID', 'NAME'], apps.map((a) => [a.client_id, a.name]));
 */
export function printList(none: string, header: string[], rows: string[][]): void {
  if (rows.length === 0) process.stdout.write(`${none}\n`);
  else printTable([header, ...rows]);
}
