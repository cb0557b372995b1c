/**
 * `portcullis app create --type public --jwks FILE` is refused: a public app (no secret, PKCE
 * only) does not authenticate to the token endpoint, so it has no keys for private_key_jwt or
 * self_signed_tls_client_auth. The admin API refuses it; the CLI says why and registers nothing.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { startTestNode, type TestNode } from '../admin/node.js';
import { runCli } from './run.js';

let t: TestNode;
const cli = (...args: string[]) => runCli([...args, '--dir', t.dir, '--admin-url', t.admin]);

before(async () => {
  t = await startTestNode();
});
after(() => t.close());

test('attack: app create --type public --jwks FILE → error request.invalid naming jwks; no app registered', async () => {
  const file = join(t.dir, 'spa.jwks.json');
  writeFileSync(file, JSON.stringify({ keys: [{ kty: 'OKP', crv: 'Ed25519', x: '11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo' }] }));
  const r = await cli('app', 'create', 'spa', '--audience', 'api', '--type', 'public', '--redirect-uri', 'https://spa.example/cb', '--jwks', file);
  assert.equal(r.code, 1, r.stdout);
  assert.equal(r.stdout, '');
  assert.equal(
    r.stderr,
    'error: request.invalid: jwks: a public app (no client authentication, PKCE only) has no keys for private_key_jwt or self_signed_tls_client_auth; an app that authenticates with keys is a confidential app (register it without type public)\n',
  );
  const list = await cli('app', 'list', '--json');
  assert.deepEqual(JSON.parse(list.stdout), []);
});
