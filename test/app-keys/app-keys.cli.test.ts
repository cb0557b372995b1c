/** `portcullis app keys add|list|revoke` against a running node, the way an operator runs them. */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { generateKeyPairSync } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { startTestNode, type TestNode } from '../admin/node.js';
import { runCli } from '../cli/run.js';

let t: TestNode;
let clientId: string;
before(async () => {
  t = await startTestNode();
  clientId = (await t.node.services.apps.create({ name: 'cli-signer', audiences: ['api'], scopes: [] }, 'test')).app.clientId;
});
after(() => t.close());

const node = () => ['--dir', t.dir, '--admin-url', t.admin];

test('cli: app keys add --hmac prints the secret once (stderr warns), list shows the key without it, revoke revokes it', async () => {
  const add = await runCli(['app', 'keys', 'add', clientId, '--hmac', '--keyid', 'cli-hmac', ...node()]);
  assert.equal(add.code, 0, add.stderr);
  const secret = /secret: ([A-Za-z0-9_-]{43})\n/.exec(add.stdout)?.[1];
  assert.ok(secret, add.stdout);
  assert.match(add.stdout, /keyid:\s+cli-hmac/);
  assert.match(add.stderr, /not shown again/);

  const list = await runCli(['app', 'keys', 'list', clientId, ...node()]);
  assert.equal(list.code, 0, list.stderr);
  assert.match(list.stdout, /cli-hmac\s+active\s+hmac\s+hmac-sha256/);
  assert.ok(!list.stdout.includes(secret));

  const revoke = await runCli(['app', 'keys', 'revoke', clientId, 'cli-hmac', ...node()]);
  assert.equal(revoke.code, 0, revoke.stderr);
  assert.match(revoke.stdout, /cli-hmac revoked at /);
  assert.equal(t.node.services.appSigningKeys.lookup('cli-hmac'), undefined);
  const json = JSON.parse((await runCli(['app', 'keys', 'list', clientId, '--json', ...node()])).stdout) as Array<{ keyid: string; status: string }>;
  assert.deepEqual(json.map((k) => [k.keyid, k.status]), [['cli-hmac', 'revoked']]);
});

test('cli: app keys add --jwk FILE and --pem FILE register public keys with their algorithm (--json)', async () => {
  const ed = generateKeyPairSync('ed25519');
  const jwkFile = join(t.dir, 'ed.jwk.json');
  writeFileSync(jwkFile, JSON.stringify({ keys: [ed.publicKey.export({ format: 'jwk' })] }));
  const a = await runCli(['app', 'keys', 'add', clientId, '--jwk', jwkFile, '--keyid', 'cli-ed', '--json', ...node()]);
  assert.equal(a.code, 0, a.stderr);
  const out = JSON.parse(a.stdout) as { key: { keyid: string; alg: string }; secret: null };
  assert.deepEqual([out.key.keyid, out.key.alg, out.secret], ['cli-ed', 'ed25519', null]);

  const p = generateKeyPairSync('ec', { namedCurve: 'P-384' });
  const pemFile = join(t.dir, 'p384.pem');
  writeFileSync(pemFile, p.publicKey.export({ format: 'pem', type: 'spki' }));
  const b = await runCli(['app', 'keys', 'add', clientId, '--pem', pemFile, '--json', ...node()]);
  assert.equal(b.code, 0, b.stderr);
  assert.equal((JSON.parse(b.stdout) as { key: { alg: string } }).key.alg, 'ecdsa-p384-sha384');
});

test('cli: app keys add with none or two of --hmac/--jwk/--pem is a usage error (request.invalid, exit 1) and adds nothing', async () => {
  const before = (await t.node.services.store.listAppSigningKeys(clientId)).length;
  const none = await runCli(['app', 'keys', 'add', clientId, ...node()]);
  assert.equal(none.code, 1);
  assert.match(none.stderr, /^error: request\.invalid: give exactly one of --hmac, --jwk FILE or --pem FILE/m);
  const two = await runCli(['app', 'keys', 'add', clientId, '--hmac', '--pem', 'x.pem', ...node()]);
  assert.equal(two.code, 1);
  assert.match(two.stderr, /request\.invalid/);
  assert.equal((await t.node.services.store.listAppSigningKeys(clientId)).length, before);
});

test('cli: revoking an unknown key reports not-found with exit status 1', async () => {
  const r = await runCli(['app', 'keys', 'revoke', clientId, 'ghost', ...node()]);
  assert.equal(r.code, 1);
  assert.match(r.stderr, /^error: not-found: /m);
});
