/** `portcullis app keys …`: the RFC 9421 signing keys of an app, through the admin API of the running node. */
import { readFileSync } from 'node:fs';
import type { Command } from 'commander';
import type { AppKeyView } from '../tokens/app-keys.js';
import { adminClient, withNodeOptions, type NodeOptions } from './context.js';
import { CliError, action, printJson, printLine, printList } from './output.js';

type JsonOpt = NodeOptions & { json?: boolean };

function readKeyFile(flag: string, file: string): string {
  try {
    return readFileSync(file, 'utf8');
  } catch (e) {
    throw new CliError('request.invalid', `${flag} ${file}: ${(e as NodeJS.ErrnoException).code ?? 'unreadable'}`);
  }
}

/** The request body for `keys add` from exactly one of --hmac, --jwk FILE, --pem FILE. */
export function addKeyBody(o: { hmac?: boolean; jwk?: string; pem?: string; keyid?: string; alg?: string }): Record<string, unknown> {
  const chosen = [o.hmac ? '--hmac' : undefined, o.jwk !== undefined ? '--jwk' : undefined, o.pem !== undefined ? '--pem' : undefined].filter(Boolean);
  if (chosen.length !== 1) throw new CliError('request.invalid', 'give exactly one of --hmac, --jwk FILE or --pem FILE');
  const extra = { ...(o.keyid ? { keyid: o.keyid } : {}) };
  if (o.hmac) {
    if (o.alg) throw new CliError('request.invalid', '--alg applies to public keys only (HMAC keys are hmac-sha256)');
    return { type: 'hmac', ...extra };
  }
  const alg = o.alg ? { alg: o.alg } : {};
  if (o.pem !== undefined) return { pem: readKeyFile('--pem', o.pem), ...alg, ...extra };
  let jwk: unknown;
  try {
    jwk = JSON.parse(readKeyFile('--jwk', o.jwk!));
  } catch (e) {
    if (e instanceof CliError) throw e;
    throw new CliError('request.invalid', `--jwk ${o.jwk}: not JSON`);
  }
  if (jwk && typeof jwk === 'object' && Array.isArray((jwk as { keys?: unknown[] }).keys)) {
    const keys = (jwk as { keys: unknown[] }).keys;
    if (keys.length !== 1) throw new CliError('request.invalid', `--jwk ${o.jwk}: a JWK Set must hold exactly one key here`);
    jwk = keys[0];
  }
  return { jwk, ...alg, ...extra };
}

export function registerAppKeys(app: Command): void {
  const keys = app.command('keys').description('RFC 9421 signing keys of an app (HMAC secrets or public keys)');
  const cmd = (name: string) => withNodeOptions(keys.command(name)).option('--json', 'print JSON');

  cmd('add <clientId>')
    .description('add a signing key: --hmac generates a secret (shown once); --jwk/--pem registers a public key')
    .option('--hmac', 'generate a 256-bit HMAC secret (hmac-sha256)')
    .option('--jwk <file>', 'a public JWK (Ed25519, EC P-256/P-384, RSA ≥ 2048)')
    .option('--pem <file>', 'a PEM public key')
    .option('--alg <alg>', 'for RSA keys: rsa-pss-sha512 (default) or rsa-v1_5-sha256')
    .option('--keyid <keyid>', 'the keyid to use (default: generated)')
    .action(
      action(async (clientId: string, o: JsonOpt & { hmac?: boolean; jwk?: string; pem?: string; keyid?: string; alg?: string }) => {
        const body = addKeyBody(o);
        const r = await adminClient(o).call<{ key: AppKeyView; secret: string | null }>('POST', `/v1/apps/${encodeURIComponent(clientId)}/keys`, body);
        if (o.json) return printJson(r);
        printLine`keyid:  ${r.key.keyid}`;
        printLine`alg:    ${r.key.alg}`;
        if (r.secret) {
          printLine`secret: ${r.secret}`;
          process.stderr.write('Store the secret now: it is not shown again.\n');
        }
      }),
    );

  cmd('list <clientId>')
    .description('list the signing keys of an app')
    .action(
      action(async (clientId: string, o: JsonOpt) => {
        const list = await adminClient(o).listAll<AppKeyView>(`/v1/apps/${encodeURIComponent(clientId)}/keys`, 'keys');
        if (o.json) return printJson(list);
        printList('no signing keys', ['KEYID', 'STATUS', 'TYPE', 'ALG', 'CREATED', 'REVOKED'], list.map((k) => [k.keyid, k.status, k.type, k.alg, k.created_at, k.revoked_at ?? '-']));
      }),
    );

  cmd('revoke <clientId> <keyid>')
    .description('revoke one signing key at once; the app’s other keys keep working')
    .action(
      action(async (clientId: string, keyid: string, o: JsonOpt) => {
        const { key } = await adminClient(o).call<{ key: AppKeyView }>('POST', `/v1/apps/${encodeURIComponent(clientId)}/keys/${encodeURIComponent(keyid)}/revoke`);
        if (o.json) return printJson(key);
        printLine`${key.keyid} revoked at ${key.revoked_at}`;
      }),
    );
}
