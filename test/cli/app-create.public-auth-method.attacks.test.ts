/**
 * `portcullis app create --type public --auth-method <method>` with a client authentication
 * method is refused: a public app (no secret, PKCE only) has no client authentication, and
 * the method would be ignored. The admin API refuses it; the CLI says why and registers
 * nothing. `--auth-method none` (or none given) registers the public app.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { startTestNode, type TestNode } from '../admin/node.js';
import { runCli } from './run.js';

let t: TestNode;
const cli = (...args: string[]) => runCli([...args, '--dir', t.dir, '--admin-url', t.admin]);

before(async () => {
  t = await startTestNode({ config: 'pki: { trustDomain: example.org }\n' });
});
after(() => t.close());

test('attack: app create --type public --auth-method tls_client_auth → error request.invalid naming token_endpoint_auth_method; no app registered', async () => {
  const r = await cli('app', 'create', 'spa', '--audience', 'api', '--type', 'public', '--redirect-uri', 'https://spa.example/cb', '--auth-method', 'tls_client_auth');
  assert.equal(r.code, 1, r.stdout);
  assert.equal(r.stdout, '');
  assert.equal(
    r.stderr,
    'error: request.invalid: token_endpoint_auth_method: a public app (no client authentication, PKCE only) uses none; tls_client_auth is client authentication, for a confidential app (register it without type public)\n',
  );
  const list = await cli('app', 'list', '--json');
  assert.deepEqual(JSON.parse(list.stdout), []);
});

test('app create --type public --auth-method none registers the public app, without a secret', async () => {
  const r = await cli('app', 'create', 'spa', '--audience', 'api', '--type', 'public', '--redirect-uri', 'https://spa.example/cb', '--auth-method', 'none', '--json');
  assert.equal(r.code, 0, r.stderr);
  const out = JSON.parse(r.stdout);
  assert.equal(out.client_secret, null);
  assert.equal(out.app.token_endpoint_auth_method, 'none');
});
