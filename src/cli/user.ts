/**
 * `portcullis user …`: add and manage users through the admin API of the running node.
 * `user add EMAIL` reads the password from stdin (first line; never from an argument,
 * which would land in the shell history and the process list; typed at a terminal, it
 * is not echoed), or with `--invite` prints an invite link with which the user chooses one.
 * `user invite USER` prints a new link for an existing user (the administrator's password reset).
 */
import type { Command } from 'commander';
import type { UserView } from '../identity/users.js';
import { adminClient, withNodeOptions, type NodeOptions } from './context.js';
import { CliError, action, escapeControls, printJson, printLine, printList, printTable } from './output.js';

type JsonOpt = NodeOptions & { json?: boolean };

interface SessionView {
  id: string;
  created_at: string;
  expires_at: string | null;
  apps: string[];
  amr: string[];
}

/** What readPassword needs of a terminal: Node's tty.ReadStream. */
type PasswordInput = NodeJS.ReadableStream & { isTTY?: boolean; setRawMode?: (on: boolean) => unknown };

/**
 * The password: typed at a terminal, read in raw mode so it is never echoed (Enter ends
 * it, Backspace erases, Ctrl-C aborts); piped in, the first line of stdin.
 *
 * @example
 * const password = await readPassword();
 */
export async function readPassword(input: PasswordInput = process.stdin, prompt: NodeJS.WritableStream = process.stderr): Promise<string> {
  const line = input.isTTY && typeof input.setRawMode === 'function' ? await readHidden(input, prompt) : await readFirstLine(input);
  if (line === '') throw new CliError('request.invalid', 'no password on stdin (pipe it in, or use --invite)');
  return line;
}

async function readFirstLine(input: NodeJS.ReadableStream): Promise<string> {
  let text = '';
  for await (const chunk of input) {
    text += String(chunk);
    if (text.includes('\n')) break;
  }
  return text.split(/\r?\n/)[0] ?? '';
}

function readHidden(input: PasswordInput, prompt: NodeJS.WritableStream): Promise<string> {
  prompt.write('Password (then Enter): ');
  input.setRawMode!(true);
  input.setEncoding('utf8');
  return new Promise<string>((resolve, reject) => {
    let line = '';
    const end = (settle: () => void): void => {
      input.off('data', onData);
      input.setRawMode!(false);
      input.pause();
      prompt.write('\n');
      settle();
    };
    const onData = (chunk: string | Buffer): void => {
      for (const ch of String(chunk)) {
        if (ch === '\r' || ch === '\n' || ch === '\u0004') return end(() => resolve(line));
        if (ch === '\u0003') return end(() => reject(new CliError('request.invalid', 'interrupted at the password prompt')));
        if (ch === '\u007f' || ch === '\b') line = Array.from(line).slice(0, -1).join('');
        else line += ch;
      }
    };
    input.on('data', onData);
    input.resume();
  });
}

/** A name the user chose, quoted (it may hold spaces), its quotes and control characters escaped. */
function quoted(name: string): string {
  return `"${escapeControls(name).replace(/"/g, '\\"')}"`;
}

/** One entry of `unusable_factors` with what it means. */
function unusableText(f: string): string {
  if (f === 'webauthn_suspended') return `${f} (a key suspended as a suspected clone signs in no more; the user removes it, or reset-mfa does)`;
  return `${f} (not configured on this node; reset-mfa removes it)`;
}

function printUser(u: UserView): void {
  printTable([
    ['id:', u.id],
    ['email:', u.email],
    ['status:', u.status],
    ['mfa required:', u.mfa_required ? 'yes' : 'no'],
    ['factors:', u.factors.join(' ') || '-'],
    ...(u.unusable_factors.length > 0 ? [['not usable:', u.unusable_factors.map(unusableText).join('; ')]] : []),
    ['passkeys:', String(u.passkeys)],
    ...u.webauthn_credentials.map((k) => ['key:', `${k.id}  ${quoted(k.name)}  created ${k.created_at}  last used ${k.last_used_at ?? 'never'}${k.suspended_at ? `  SUSPENDED ${k.suspended_at} (counter went back: a suspected clone)` : ''}`]),
    ['tokens revoked before:', u.tokens_revoked_before ?? '-'],
    ['created:', u.created_at],
    ['updated:', u.updated_at],
  ]);
}

const enc = encodeURIComponent;

export function registerUser(program: Command): void {
  const user = program.command('user').description('manage users (people who sign in to apps) on the running node');
  const cmd = (name: string) => withNodeOptions(user.command(name)).option('--json', 'print JSON');

  cmd('add <email>')
    .description('add a user; the password is read from stdin, or --invite prints a link to choose one')
    .option('--invite', 'print an invite link (valid 7 days, once) instead of reading a password')
    .option('--mfa-required', 'require a second factor at every sign-in of this user')
    .action(
      action(async (email: string, o: JsonOpt & { invite?: boolean; mfaRequired?: boolean }) => {
        const body: Record<string, unknown> = { email, invite: o.invite === true, mfa_required: o.mfaRequired === true };
        if (!o.invite) body.password = await readPassword();
        const r = await adminClient(o).call<{ user: UserView; invite_url: string | null }>('POST', '/v1/users', body);
        if (o.json) return printJson(r);
        printLine`id:     ${r.user.id}`;
        printLine`email:  ${r.user.email}`;
        if (r.invite_url) {
          printLine`invite: ${r.invite_url}`;
          process.stderr.write('Send the invite link to the user: it is not shown again.\n');
        }
      }),
    );

  cmd('invite <user>')
    .description("print a new invite link with which the user chooses a password (for a user who has one: a password reset); the user's link before stops working")
    .action(
      action(async (id: string, o: JsonOpt) => {
        const r = await adminClient(o).call<{ user: UserView; invite_url: string; invite_expires_at: string }>('POST', `/v1/users/${enc(id)}/invite`);
        if (o.json) return printJson(r);
        process.stdout.write(`invite:  ${r.invite_url}\nexpires: ${r.invite_expires_at}\n`);
        process.stderr.write('Send the invite link to the user: it is not shown again.\n');
      }),
    );

  cmd('list')
    .description('list users')
    .action(
      action(async (o: JsonOpt) => {
        const users = await adminClient(o).listAll<UserView>('/v1/users', 'users');
        if (o.json) return printJson(users);
        printList('no users', ['ID', 'STATUS', 'EMAIL', 'FACTORS'], users.map((u) => [u.id, u.status, u.email, u.factors.join(' ') || '-']));
      }),
    );

  cmd('show <user>')
    .description('show a user (by id or e-mail address)')
    .action(
      action(async (id: string, o: JsonOpt) => {
        const { user: u } = await adminClient(o).call<{ user: UserView }>('GET', `/v1/users/${enc(id)}`);
        if (o.json) return printJson(u);
        printUser(u);
      }),
    );

  const change = (name: string, path: string, description: string, done: string) =>
    cmd(`${name} <user>`)
      .description(description)
      .action(
        action(async (id: string, o: JsonOpt) => {
          const { user: u } = await adminClient(o).call<{ user: UserView }>('POST', `/v1/users/${enc(id)}/${path}`);
          if (o.json) return printJson(u);
          printLine`${done}: ${u.id} (${u.email})`;
        }),
      );
  change('disable', 'disable', 'disable a user: sign-in refused, every session and token ends', 'disabled');
  change('enable', 'enable', 'enable a disabled user', 'enabled');
  change('reset-mfa', 'reset-mfa', 'remove every second factor and passkey of a user', 'second factors removed');
  change('unlock', 'unlock', 'clear the failed-attempt lock of a user', 'unlocked');
  change('end-sessions', 'end-sessions', 'end every session of a user; every token issued to them stops working', 'every session ended');

  cmd('delete <user>')
    .description('delete a user with their password, factors and passkeys')
    .action(
      action(async (id: string, o: JsonOpt) => {
        const r = await adminClient(o).call<{ id: string }>('DELETE', `/v1/users/${enc(id)}`);
        if (o.json) return printJson(r);
        printLine`deleted: ${r.id}`;
      }),
    );

  cmd('sessions <user>')
    .description("list a user's sign-in sessions; --end ID ends one")
    .option('--end <session>', 'end this session (an id from the list)')
    .action(
      action(async (id: string, o: JsonOpt & { end?: string }) => {
        const client = adminClient(o);
        if (o.end) {
          const r = await client.call<{ id: string }>('DELETE', `/v1/users/${enc(id)}/sessions/${enc(o.end)}`);
          if (o.json) return printJson(r);
          return printLine`ended: ${r.id}`;
        }
        const sessions = await client.listAll<SessionView>(`/v1/users/${enc(id)}/sessions`, 'sessions');
        if (o.json) return printJson(sessions);
        printList('no sessions', ['SESSION', 'SIGNED IN', 'METHODS', 'APPS'], sessions.map((x) => [x.id, x.created_at, x.amr.join(' ') || '-', x.apps.join(' ') || '-']));
      }),
    );
}

interface AddressLockoutView {
  counted_as: string;
  address: string;
  failures: number;
  locked: boolean;
  blocked_until: string | null;
}

function printLockout(l: AddressLockoutView): void {
  printTable([
    ['address:', l.address],
    ['counted as:', l.counted_as],
    ['failures:', String(l.failures)],
    ['locked:', l.locked ? 'yes' : 'no'],
    ['blocked until:', l.blocked_until ?? '-'],
  ]);
}

/** `portcullis lockout show|unlock ADDRESS`: the per-address sign-in lock (accounts: `user unlock`). */
export function registerLockout(program: Command): void {
  const lockout = program.command('lockout').description('client addresses locked after repeated failed sign-in attempts (accounts: user unlock)');
  const cmd = (name: string) => withNodeOptions(lockout.command(name)).option('--json', 'print JSON');
  cmd('show <address>')
    .description('show the failed-attempt count and lock of a client address')
    .action(
      action(async (address: string, o: JsonOpt) => {
        const l = await adminClient(o).call<AddressLockoutView>('GET', `/v1/lockouts/addresses/${enc(address)}`);
        if (o.json) return printJson(l);
        printLockout(l);
      }),
    );
  cmd('unlock <address>')
    .description('lift the lock and delays of a client address')
    .action(
      action(async (address: string, o: JsonOpt) => {
        const l = await adminClient(o).call<AddressLockoutView>('POST', `/v1/lockouts/addresses/${enc(address)}/unlock`);
        if (o.json) return printJson(l);
        printLine`unlocked: ${l.address}`;
      }),
    );
}
