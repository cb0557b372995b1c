/** `portcullis app enc-keys …`: the encryption keys (JWE) of an app, through the admin API of the running node. */
import { readFileSync } from 'node:fs';
import type { Command } from 'commander';
import type { AppEncryptionKeyView } from '../tokens/app-encryption-keys.js';
import { adminClient, withNodeOptions, type NodeOptions } from './context.js';
import { CliError, action, jsonText, printJson, printLine, printList } from './output.js';

type JsonOpt = NodeOptions & { json?: boolean };

/** The request body for `enc-keys add` from exactly one of --symmetric, --jwk FILE. */
export function addEncKeyBody(o: { symmetric?: boolean; jwk?: string; kid?: string; alg?: string }): Record<string, unknown> {
  if (Boolean(o.symmetric) === (o.jwk !== undefined)) throw new CliError('request.invalid', 'give exactly one of --symmetric or --jwk FILE');
  const extra = { ...(o.kid ? { kid: o.kid } : {}), ...(o.alg ? { alg: o.alg } : {}) };
  if (o.symmetric) return { type: 'symmetric', ...extra };
  let text: string;
  try {
    text = readFileSync(o.jwk!, 'utf8');
  } catch (e) {
    throw new CliError('request.invalid', `--jwk ${o.jwk}: ${(e as NodeJS.ErrnoException).code ?? 'unreadable'}`);
  }
  let jwk: unknown;
  try {
    jwk = JSON.parse(text);
  } catch {
    throw new CliError('request.invalid', `--jwk ${o.jwk}: not JSON`);
  }
  if (jwk && typeof jwk === 'object' && Array.isArray((jwk as { keys?: unknown[] }).keys)) {
    const keys = (jwk as { keys: unknown[] }).keys;
    if (keys.length !== 1) throw new CliError('request.invalid', `--jwk ${o.jwk}: a JWK Set must hold exactly one key here`);
    jwk = keys[0];
  }
  return { jwk, ...extra };
}

export function registerAppEncKeys(app: Command): void {
  const keys = app.command('enc-keys').description('encryption keys of an app (AES-256 for dir/A256KW, or its public key for encrypted responses)');
  const cmd = (name: string) => withNodeOptions(keys.command(name)).option('--json', 'print JSON');

  cmd('add <clientId>')
    .description('add an encryption key: --symmetric generates an AES-256 key (shown once); --jwk registers the app public key')
    .option('--symmetric', 'generate an AES-256 key (JWK, shown once)')
    .option('--jwk <file>', 'a public encryption JWK (EC P-256, X25519, RSA ≥ 2048)')
    .option('--alg <alg>', 'symmetric: dir (default) or A256KW; public: ECDH-ES+A256KW (default), ECDH-ES or RSA-OAEP-256')
    .option('--kid <kid>', 'the kid to use (default: generated)')
    .action(
      action(async (clientId: string, o: JsonOpt & { symmetric?: boolean; jwk?: string; kid?: string; alg?: string }) => {
        const r = await adminClient(o).call<{ key: AppEncryptionKeyView; secret: Record<string, string> | null }>('POST', `/v1/apps/${encodeURIComponent(clientId)}/encryption-keys`, addEncKeyBody(o));
        if (o.json) return printJson(r);
        printLine`kid:    ${r.key.kid}`;
        printLine`alg:    ${r.key.alg}`;
        if (r.secret) {
          process.stdout.write(`jwk:    ${jsonText(r.secret)}\n`);
          process.stderr.write('Store the key now: it is not shown again.\n');
        }
      }),
    );

  cmd('list <clientId>')
    .description('list the encryption keys of an app')
    .action(
      action(async (clientId: string, o: JsonOpt) => {
        const list = await adminClient(o).listAll<AppEncryptionKeyView>(`/v1/apps/${encodeURIComponent(clientId)}/encryption-keys`, 'keys');
        if (o.json) return printJson(list);
        printList('no encryption keys', ['KID', 'STATUS', 'TYPE', 'ALG', 'CREATED', 'REVOKED'], list.map((k) => [k.kid, k.status, k.type, k.alg, k.created_at, k.revoked_at ?? '-']));
      }),
    );

  cmd('revoke <clientId> <kid>')
    .description('revoke one encryption key at once; the app’s other keys keep working')
    .action(
      action(async (clientId: string, kid: string, o: JsonOpt) => {
        const { key } = await adminClient(o).call<{ key: AppEncryptionKeyView }>('POST', `/v1/apps/${encodeURIComponent(clientId)}/encryption-keys/${encodeURIComponent(kid)}/revoke`);
        if (o.json) return printJson(key);
        printLine`${key.kid} revoked at ${key.revoked_at}`;
      }),
    );
}
