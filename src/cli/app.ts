/** `portcullis app …`: register and manage apps through the admin API of the running node. */
import { readFileSync } from 'node:fs';
import type { Command } from 'commander';
import type { AppView } from '../tokens/apps.js';
import { registerAppKeys } from './app-keys.js';
import { registerAppEncKeys } from './app-enc-keys.js';
import { adminClient, withNodeOptions, type NodeOptions } from './context.js';
import { CliError, action, printJson, printLine, printList, printTable } from './output.js';

type JsonOpt = NodeOptions & { json?: boolean };

/** A JWKS file: `{keys:[…]}`, an array of JWKs, or one JWK. */
const UNREADABLE: Record<string, string> = { ENOENT: 'no such file', EACCES: 'permission denied', EPERM: 'permission denied', EISDIR: 'is a directory, not a file', ENOTDIR: 'a part of the path is not a directory' };

/** A JWK Set file as the admin API takes it; `label` names where the file was given (`--jwks FILE`, or the `FILE` argument). */
export function readJwksFile(file: string, label = `--jwks ${file}`): { keys: unknown[] } {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code ?? '';
    throw new CliError('request.invalid', `${label}: cannot be read (${UNREADABLE[code] ?? code ?? 'error'})`);
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    throw new CliError('request.invalid', `${label}: not JSON`);
  }
  if (Array.isArray(parsed)) return { keys: parsed };
  if (parsed && typeof parsed === 'object' && Array.isArray((parsed as { keys?: unknown }).keys)) return { keys: (parsed as { keys: unknown[] }).keys };
  if (parsed && typeof parsed === 'object' && 'kty' in parsed) return { keys: [parsed] };
  throw new CliError('request.invalid', `${label}: expected a JWK Set ({"keys":[…]}), an array of JWKs or one JWK`);
}

function printApp(a: AppView): void {
  printTable([
    ['client_id:', a.client_id],
    ['name:', a.name],
    ['status:', a.status],
    ['audiences:', a.audiences.join(' ')],
    ['serves:', a.served_audiences.join(' ') || '-'],
    ['scopes:', a.scopes.join(' ')],
    ['auth method:', a.token_endpoint_auth_method],
    ['public keys:', String(a.jwks_keys)],
    ['tokens revoked before:', a.tokens_revoked_before ?? '-'],
    ['created:', a.created_at],
    ['updated:', a.updated_at],
  ]);
}

function printCredentials(r: { app: AppView; client_id: string; client_secret: string | null }, json: boolean | undefined): void {
  if (json) return printJson({ client_id: r.client_id, client_secret: r.client_secret, app: r.app });
  printLine`client_id:     ${r.client_id}`;
  if (r.client_secret) {
    printLine`client_secret: ${r.client_secret}`;
    process.stderr.write('Store the client secret now: it is not shown again.\n');
  } else printLine`client_secret: (none: ${r.app.type === 'public' ? 'a public app uses PKCE only' : `the app authenticates with ${r.app.token_endpoint_auth_method}`})`;
}

export function registerApp(program: Command): void {
  const app = program.command('app').description('manage apps (OAuth clients) on the running node');
  const cmd = (name: string) => withNodeOptions(app.command(name)).option('--json', 'print JSON');
  registerAppKeys(app);
  registerAppEncKeys(app);

  cmd('create <name>')
    .description('register an app; prints client_id and client_secret (shown once)')
    .requiredOption('--audience <audience...>', 'API audience the app may request tokens for (repeatable)')
    .option('--scope <scope...>', 'scope the app may request (repeatable)')
    .option('--jwks <file>', 'public keys (JWK Set file): the app authenticates with private_key_jwt')
    .option('--auth-method <method>', 'client_secret_basic, client_secret_post, private_key_jwt, tls_client_auth (a Portcullis client certificate; needs pki.trustDomain), self_signed_tls_client_auth (the certificate in --jwks as x5c), or none (a public app, its default and only method)')
    .option('--redirect-uri <uri...>', 'exact redirect URI for user sign-in (authorization code + PKCE); repeatable')
    .option('--type <type>', 'confidential (default) or public (browser/native app: no secret, PKCE only, no --jwks, --auth-method none)')
    .option('--mfa-required', 'users signing in to this app must complete a second factor')
    .option('--serves <audience...>', 'audience the app serves as a resource server: it may introspect tokens issued for it (repeatable; default none)')
    .action(
      action(async (name: string, o: JsonOpt & { audience: string[]; scope?: string[]; jwks?: string; authMethod?: string; redirectUri?: string[]; type?: string; mfaRequired?: boolean; serves?: string[] }) => {
        const body: Record<string, unknown> = { name, audiences: o.audience, scopes: o.scope ?? [] };
        if (o.jwks) body.jwks = readJwksFile(o.jwks);
        if (o.authMethod) body.token_endpoint_auth_method = o.authMethod;
        if (o.redirectUri) body.redirect_uris = o.redirectUri;
        if (o.type) body.type = o.type;
        if (o.mfaRequired) body.mfa_required = true;
        if (o.serves) body.served_audiences = o.serves;
        printCredentials(await adminClient(o).call('POST', '/v1/apps', body), o.json);
      }),
    );

  cmd('list')
    .description('list apps')
    .action(
      action(async (o: JsonOpt) => {
        const apps = await adminClient(o).listAll<AppView>('/v1/apps', 'apps');
        if (o.json) return printJson(apps);
        printList('no apps', ['CLIENT_ID', 'STATUS', 'NAME', 'AUDIENCES', 'SCOPES'], apps.map((a) => [a.client_id, a.status, a.name, a.audiences.join(' '), a.scopes.join(' ')]));
      }),
    );

  cmd('show <clientId>')
    .description('show one app')
    .action(
      action(async (id: string, o: JsonOpt) => {
        const { app: a } = await adminClient(o).call<{ app: AppView }>('GET', `/v1/apps/${encodeURIComponent(id)}`);
        if (o.json) printJson(a);
        else printApp(a);
      }),
    );

  const change = (name: 'disable' | 'enable' | 'revoke-tokens', description: string, done: (a: AppView) => string) =>
    cmd(`${name} <clientId>`)
      .description(description)
      .action(
        action(async (id: string, o: JsonOpt) => {
          const { app: a } = await adminClient(o).call<{ app: AppView }>('POST', `/v1/apps/${encodeURIComponent(id)}/${name}`);
          if (o.json) printJson(a);
          else printLine`${done(a)}`;
        }),
      );
  change('disable', 'disable an app: its tokens stop working at once', (a) => `${a.client_id} disabled; its tokens no longer work`);
  change('enable', 'enable a disabled app', (a) => `${a.client_id} enabled`);
  change('revoke-tokens', 'revoke every token the app holds now', (a) => `${a.client_id}: every token issued before ${a.tokens_revoked_before} is revoked`);

  cmd('rotate-secret <clientId>')
    .description('issue a new client secret (shown once); the old one stops working at once')
    .action(
      action(async (id: string, o: JsonOpt) => {
        printCredentials(await adminClient(o).call('POST', `/v1/apps/${encodeURIComponent(id)}/rotate-secret`), o.json);
      }),
    );

  cmd('set-jwks <clientId> <file>')
    .description('replace the public keys of an app: a self_signed_tls_client_auth app keeps its method (the keys are its certificates); an app with a client secret then authenticates with private_key_jwt; refused for tls_client_auth and public apps')
    .action(
      action(async (id: string, file: string, o: JsonOpt) => {
        const { app: a } = await adminClient(o).call<{ app: AppView }>('PUT', `/v1/apps/${encodeURIComponent(id)}/jwks`, readJwksFile(file, `FILE ${file}`));
        if (o.json) printJson(a);
        else printLine`${a.client_id}: ${a.jwks_keys} public key(s); authenticates with ${a.token_endpoint_auth_method}`;
      }),
    );

  cmd('set-serves <clientId> [audience...]')
    .description('replace the audiences the app serves as a resource server (it may introspect tokens issued for them); none: it serves none')
    .action(
      action(async (id: string, audiences: string[], o: JsonOpt) => {
        const { app: a } = await adminClient(o).call<{ app: AppView }>('PUT', `/v1/apps/${encodeURIComponent(id)}/served-audiences`, { served_audiences: audiences });
        if (o.json) printJson(a);
        else printLine`${a.client_id} serves: ${a.served_audiences.join(' ') || '(none)'}`;
      }),
    );
}
