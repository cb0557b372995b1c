/**
 * `portcullis transit …`: encryption as a service through the admin API of the running
 * node. Inputs and outputs are base64 (`--input`), or text with `--text`; values
 * (ciphertexts, signatures, HMACs) are `pc:v<n>:<base64>` as the API returns them.
 * The data a command works on (a plaintext, an input to sign or HMAC) given as `-` is
 * read from stdin as raw bytes: on the command line it would be in every user's `ps`
 * listing and in the shell history.
 */
import type { Command } from 'commander';
import { adminClient, withNodeOptions, type NodeOptions } from './context.js';
import { CliError, action, escapeControls, printJson, printLine, printList, printTable } from './output.js';

type Opt = NodeOptions & { json?: boolean; context?: string; text?: boolean; version?: string; algorithm?: string; hmac?: boolean };

/** The data argument as base64: `-` is stdin, whole, as raw bytes (`transit encrypt pii - < secret`). */
type DataArg = (value: string, what: string) => string;

async function readStdin(): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(Buffer.from(chunk as Buffer));
  return Buffer.concat(chunks);
}

interface KeyView {
  name: string;
  type: string;
  latest_version: number;
  min_decryption_version: number;
  min_encryption_version: number;
  auto_rotate: boolean;
  encryption_limit: number;
  versions: Array<{ version: number; encryptions?: number }>;
}

const path = (op: string, name: string) => `/v1/transit/${op}/${encodeURIComponent(name)}`;

function bytesArg(value: string, o: Opt, what: string): string {
  if (o.text) return Buffer.from(value, 'utf8').toString('base64');
  if (value.length % 4 !== 0 || !/^[A-Za-z0-9+/]*={0,2}$/.test(value)) throw new CliError('transit.invalid-input', `${what} must be base64 (or pass --text)`);
  return value;
}

/** `--version` as the body's `key_version`, or nothing when not given; anything but a positive integer is refused here. */
function keyVersion(o: Opt): { key_version?: number } {
  if (o.version === undefined) return {};
  const v = /^[0-9]+$/.test(o.version) ? Number(o.version) : Number.NaN;
  if (!Number.isSafeInteger(v) || v < 1) throw new CliError('transit.invalid-input', '--version must be a positive integer');
  return { key_version: v };
}

/** `--algorithm` as the body's `algorithm` (HMAC), or nothing when not given (sha2-256). */
function hmacAlgorithm(o: Opt): { algorithm?: string } {
  if (o.algorithm === undefined) return {};
  if (o.algorithm !== 'sha2-256' && o.algorithm !== 'sha2-512') throw new CliError('transit.invalid-input', '--algorithm must be sha2-256 or sha2-512');
  return { algorithm: o.algorithm };
}

/** A version floor option: decimal digits only, since Number() reads '' and ' ' as 0 (for --min-encryption-version, no floor), '0x10' as 16 and '1e1' as 10. */
function wholeNumber(value: string, option: string): number {
  const v = /^[0-9]{1,10}$/.test(value) ? Number(value) : Number.NaN;
  if (!Number.isSafeInteger(v)) throw new CliError('transit.invalid-input', `${option} must be a whole number`);
  return v;
}

function common(o: Opt): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  if (o.context !== undefined) out.context = bytesArg(o.context, o, '--context');
  return { ...out, ...keyVersion(o) };
}

function flag(v: string): boolean {
  if (v === 'true') return true;
  if (v === 'false') return false;
  throw new CliError('transit.invalid-input', '--auto-rotate must be true or false');
}

function printKey(k: KeyView, o: Opt): void {
  if (o.json) return printJson(k);
  printLine`${k.name}  ${k.type}  latest v${k.latest_version}  min decryption v${k.min_decryption_version}  min encryption v${k.min_encryption_version}`;
  if (k.type !== 'aes256-gcm') return;
  printLine`auto-rotate ${k.auto_rotate ? 'on' : 'off'}  limit ${k.encryption_limit} encryptions per version`;
  printTable([['VERSION', 'ENCRYPTIONS'], ...k.versions.map((v) => [`v${v.version}`, String(v.encryptions ?? 0)])]);
}

export function registerTransit(program: Command): void {
  const transit = program.command('transit').description('encryption as a service: named, versioned keys and their operations (base64 in and out)');
  // Each command takes only the options it uses: one it has no use for (decrypt --version,
  // sign --context, rotate --text) is an unknown option, a usage error naming it, never ignored.
  const cmd = (spec: string) => withNodeOptions(transit.command(spec)).option('--json', 'print JSON');

  cmd('create <name>')
    .description('create a key')
    .option('--type <type>', 'aes256-gcm (default), ed25519 or ecdsa-p256')
    .option('--auto-rotate <on>', 'true (default) or false: rotate when the latest version reaches the AES-GCM invocation limit, or refuse encryption')
    .action(
      action(async (name: string, o: Opt & { type?: string; autoRotate?: string }) => {
        const r = await adminClient(o).call<{ key: KeyView }>('POST', '/v1/transit/keys', { name, ...(o.type ? { type: o.type } : {}), ...(o.autoRotate !== undefined ? { auto_rotate: flag(o.autoRotate) } : {}) });
        printKey(r.key, o);
      }),
    );
  cmd('read <name>')
    .description('show a key: versions, floors, auto-rotation and encryptions counted per version')
    .action(
      action(async (name: string, o: Opt) => {
        printKey((await adminClient(o).call<{ key: KeyView }>('GET', `/v1/transit/keys/${encodeURIComponent(name)}`)).key, o);
      }),
    );
  cmd('list')
    .description('list key names')
    .action(
      action(async (o: Opt) => {
        const keys = await adminClient(o).listAll<string>('/v1/transit/keys', 'keys');
        if (o.json) return printJson(keys);
        printList('no transit keys', ['NAME'], keys.map((k) => [k]));
      }),
    );
  cmd('rotate <name>')
    .description('add a key version; new values use it')
    .action(
      action(async (name: string, o: Opt) => {
        printKey((await adminClient(o).call<{ key: KeyView }>('POST', `/v1/transit/keys/${encodeURIComponent(name)}/rotate`, {})).key, o);
      }),
    );
  cmd('config <name>')
    .description('retire old versions; turn auto-rotation at the invocation limit on or off')
    .option('--min-decryption-version <n>', 'values made with older versions are refused')
    .option('--min-encryption-version <n>', '0: no floor')
    .option('--auto-rotate <on>', 'true or false')
    .action(
      action(async (name: string, o: Opt & { minDecryptionVersion?: string; minEncryptionVersion?: string; autoRotate?: string }) => {
        const body: Record<string, number | boolean> = {};
        if (o.autoRotate !== undefined) body.auto_rotate = flag(o.autoRotate);
        if (o.minDecryptionVersion !== undefined) body.min_decryption_version = wholeNumber(o.minDecryptionVersion, '--min-decryption-version');
        if (o.minEncryptionVersion !== undefined) body.min_encryption_version = wholeNumber(o.minEncryptionVersion, '--min-encryption-version');
        printKey((await adminClient(o).call<{ key: KeyView }>('POST', `/v1/transit/keys/${encodeURIComponent(name)}/config`, body)).key, o);
      }),
    );

  /** `context`: takes --context (associated data); `version`: takes --version (the key version to make the value with); `algorithm`: takes --algorithm (HMAC). */
  const op = (spec: string, description: string, uses: { context?: true; version?: true; algorithm?: true }, build: (args: string[], o: Opt, data: DataArg) => Record<string, unknown>, field: string) => {
    // the commands whose second argument is data (not a ciphertext or a type): `-` is stdin
    const takesData = /^\S+ <name> <(plaintext|input)>/.test(spec);
    const c = cmd(spec)
      .description(description)
      .option('--text', 'inputs are UTF-8 text instead of base64 (decrypt prints text too: on a terminal, with its control characters escaped)');
    if (uses.context) c.option('--context <bytes>', 'associated data (base64, or text with --text)');
    if (uses.version) c.option('--version <n>', 'key version to use (default: latest)');
    if (uses.algorithm) c.option('--algorithm <alg>', `HMAC hash: sha2-256 (default) or sha2-512${field === 'valid' ? ' (with --hmac)' : ''}`);
    return c.action(
      action(async (...args: unknown[]) => {
        const o = args.find((a) => a !== null && typeof a === 'object' && !Array.isArray(a) && !('parent' in (a as object))) as Opt;
        const positional = args.filter((a): a is string => typeof a === 'string');
        const name = positional[0]!;
        // --text with nothing to read or print as text would be ignored: no --context, and the data (if any) from stdin, raw bytes
        if (o.text && field !== 'plaintext' && o.context === undefined && !(takesData && positional[1] !== '-')) {
          const applies = [...(takesData ? ['a data argument other than - (stdin is raw bytes)'] : []), ...(uses.context ? ['--context'] : [])];
          c.error(`error: --text has no effect here: it applies to ${applies.join(' or ')}, and none is given`, { code: 'portcullis.optionUnused' });
        }
        if (o.algorithm !== undefined && field === 'valid' && !o.hmac) c.error('error: --algorithm has no effect without --hmac (a signature is checked with its key type\'s algorithm)', { code: 'portcullis.optionUnused' });
        const stdin = takesData && positional[1] === '-' ? (await readStdin()).toString('base64') : undefined;
        const data: DataArg = (value, what) => (stdin !== undefined && value === '-' ? stdin : bytesArg(value, o, what));
        const r = await adminClient(o).call<Record<string, unknown>>('POST', path(spec.split(' ')[0]!, name), build(positional.slice(1), o, data));
        // a value that does not verify exits 1, so `verify … && next` stops
        if (field === 'valid' && r.valid !== true) process.exitCode = 1;
        // a plaintext data key is printed with its wrapped form, or it would be lost
        if (o.json || (field === 'ciphertext' && r.plaintext !== undefined)) return printJson(r);
        let out = r[field];
        if (field === 'plaintext' && o.text && typeof out === 'string') {
          const text = Buffer.from(out, 'base64').toString('utf8');
          // the data as it is for a pipe; on a terminal, line by line with its control characters escaped
          out = process.stdout.isTTY ? text.split('\n').map(escapeControls).join('\n') : text;
        }
        process.stdout.write(`${String(out)}\n`);
      }),
    );
  };

  op('encrypt <name> <plaintext>', 'encrypt (prints pc:v<n>:…); a plaintext of - is read from stdin as raw bytes (kept off the command line)', { context: true, version: true }, ([p], o, data) => ({ plaintext: data(p!, 'plaintext'), ...common(o) }), 'ciphertext');
  op('decrypt <name> <ciphertext>', 'decrypt (prints base64, or text with --text)', { context: true }, ([c], o) => ({ ciphertext: c, ...common(o) }), 'plaintext');
  op('rewrap <name> <ciphertext>', 're-encrypt with the latest version, without the plaintext', { context: true, version: true }, ([c], o) => ({ ciphertext: c, ...common(o) }), 'ciphertext');
  op('datakey <name> [type]', 'a data key: type plaintext (default; prints JSON: the key and its wrapped form) or wrapped (prints the wrapped form)', { context: true }, ([t], o) => ({ ...(t ? { type: t } : {}), ...common(o) }), 'ciphertext');
  op('sign <name> <input>', 'sign (ed25519 / ecdsa-p256 keys); an input of - is read from stdin as raw bytes', { version: true }, ([i], o, data) => ({ input: data(i!, 'input'), ...keyVersion(o) }), 'signature');
  op('verify <name> <input> <value>', 'verify a signature, or an HMAC with --hmac; prints true (exit 0) or false (exit 1); an input of - is read from stdin as raw bytes', { algorithm: true }, ([i, v], o, data) => (o.hmac ? { input: data(i!, 'input'), hmac: v, ...hmacAlgorithm(o) } : { input: data(i!, 'input'), signature: v }), 'valid').option('--hmac', 'the value is an HMAC');
  op('hmac <name> <input>', 'HMAC (SHA-256, or SHA-512 with --algorithm sha2-512) with the key version HMAC subkey, any key type; an input of - is read from stdin as raw bytes', { version: true, algorithm: true }, ([i], o, data) => ({ input: data(i!, 'input'), ...keyVersion(o), ...hmacAlgorithm(o) }), 'hmac');
}
