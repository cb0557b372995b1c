/**
 * `portcullis app set-jwks <clientId> FILE` replaces an app's public keys and says how the app
 * authenticates afterwards: a `self_signed_tls_client_auth` app keeps its method (RFC 8705 §2.2,
 * the new certificates), an app with a secret switches to `private_key_jwt`.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { startTestNode, type TestNode } from '../admin/node.js';
import { jwkOf, selfSigned } from '../support/self-signed-certificate.js';
import { runCli } from './run.js';

let t: TestNode;
const cli = (...args: string[]) => runCli([...args, '--dir', t.dir, '--admin-url', t.admin]);
const HOUR = 3_600_000;

before(async () => {
  t = await startTestNode();
});
after(() => t.close());

async function jwksFile(name: string): Promise<string> {
  const now = Date.now();
  const file = join(t.dir, `${name}.jwks.json`);
  writeFileSync(file, JSON.stringify({ keys: [jwkOf(await selfSigned(name, now - HOUR, now + 24 * HOUR))] }));
  return file;
}

test('set-jwks on a self_signed_tls_client_auth app keeps self_signed_tls_client_auth and says so', async () => {
  const created = await cli('app', 'create', 'ss-cli', '--audience', 'api', '--auth-method', 'self_signed_tls_client_auth', '--jwks', await jwksFile('ss-cli-1'), '--json');
  assert.equal(created.code, 0, created.stderr);
  const id = JSON.parse(created.stdout).client_id as string;
  const r = await cli('app', 'set-jwks', id, await jwksFile('ss-cli-2'));
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stdout, `${id}: 1 public key(s); authenticates with self_signed_tls_client_auth\n`);
  const shown = await cli('app', 'set-jwks', id, await jwksFile('ss-cli-3'), '--json');
  assert.equal(JSON.parse(shown.stdout).token_endpoint_auth_method, 'self_signed_tls_client_auth');
});

test('set-jwks on an app with a client secret switches it to private_key_jwt and says so', async () => {
  const created = await cli('app', 'create', 'secret-cli', '--audience', 'api', '--json');
  assert.equal(created.code, 0, created.stderr);
  const id = JSON.parse(created.stdout).client_id as string;
  const { x5c: _x5c, ...key } = JSON.parse(JSON.stringify(jwkOf(await selfSigned('pkj', Date.now() - HOUR, Date.now() + HOUR)))) as Record<string, unknown>;
  const file = join(t.dir, 'pkj.jwks.json');
  writeFileSync(file, JSON.stringify({ keys: [key] }));
  const r = await cli('app', 'set-jwks', id, file);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stdout, `${id}: 1 public key(s); authenticates with private_key_jwt\n`);
});
