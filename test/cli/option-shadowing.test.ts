/**
 * Options of the program (`--version`, `-V`) must not capture a subcommand's option of
 * the same name: `transit encrypt … --version 1` printed the program version and exited 0,
 * so a script took `0.1.0` for a ciphertext and nothing was encrypted.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { startTestNode, type TestNode } from '../admin/node.js';
import { runCli } from './run.js';

let t: TestNode;
const cli = (...args: string[]) => runCli([...args, '--dir', t.dir, '--admin-url', t.admin]);

before(async () => {
  t = await startTestNode();
});
after(() => t.close());

test('transit encrypt/rewrap/hmac --version N use key version N, never print the program version', async () => {
  assert.equal((await cli('transit', 'create', 'pii')).code, 0);
  assert.equal((await cli('transit', 'rotate', 'pii')).code, 0);
  const enc = await cli('transit', 'encrypt', 'pii', 'aGVsbG8=', '--version', '1');
  assert.equal(enc.code, 0, enc.stderr);
  assert.match(enc.stdout, /^pc:v1:[A-Za-z0-9+/]+=*\n$/);
  const re = await cli('transit', 'rewrap', 'pii', enc.stdout.trim(), '--version', '2');
  assert.equal(re.code, 0, re.stderr);
  assert.match(re.stdout, /^pc:v2:/);
  const mac = await cli('transit', 'hmac', 'pii', 'aGVsbG8=', '--version', '1');
  assert.equal(mac.code, 0, mac.stderr);
  assert.match(mac.stdout, /^pc:v1:/);
});

test('transit encrypt --version abc → transit.invalid-input, exit 1; -V after a subcommand is an unknown option, exit 1', async () => {
  const bad = await cli('transit', 'encrypt', 'pii', 'aGVsbG8=', '--version', 'abc');
  assert.equal(bad.code, 1);
  assert.equal(bad.stdout, '');
  assert.equal(bad.stderr, 'error: transit.invalid-input: --version must be a positive integer\n');
  const v = await cli('config', 'check', '-V');
  assert.equal(v.code, 1);
  assert.equal(v.stdout, '');
  assert.match(v.stderr, /^error: usage: unknown option '-V'\n/);
});

test('portcullis --version and -V before any command still print the version', async () => {
  for (const flag of ['--version', '-V']) {
    const r = await runCli([flag]);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, '0.1.0\n');
  }
});

test('transit sign/hmac --version that is not a positive integer (abc, 1.5, 0, 1e3) → transit.invalid-input, exit 1, nothing sent', async () => {
  assert.equal((await cli('transit', 'create', 'signer', '--type', 'ed25519')).code, 0);
  for (const [op, key] of [['sign', 'signer'], ['hmac', 'pii']] as const) {
    for (const version of ['abc', '1.5', '0', '1e3']) {
      const bad = await cli('transit', op, key, 'aGVsbG8=', '--version', version);
      assert.equal(bad.code, 1, `${op} --version ${version}`);
      assert.equal(bad.stdout, '');
      assert.equal(bad.stderr, 'error: transit.invalid-input: --version must be a positive integer\n', `${op} --version ${version}`);
    }
  }
});
