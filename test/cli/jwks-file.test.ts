/**
 * `app set-jwks <clientId> FILE` and `app create --jwks FILE`: a file that cannot be read or
 * is not a JWK Set is a typed error naming the argument as given and saying why in words,
 * never a raw errno code or an option the command does not have.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { startTestNode, type TestNode } from '../admin/node.js';
import { runCli } from './run.js';

let t: TestNode;
const cli = (...args: string[]) => runCli([...args, '--dir', t.dir, '--admin-url', t.admin]);

before(async () => {
  t = await startTestNode();
});
after(() => t.close());

test('set-jwks with a missing file, a directory or a file that is not JSON → request.invalid naming FILE, exit 1', async () => {
  const created = await cli('app', 'create', 'jwks-cli', '--audience', 'api', '--json');
  assert.equal(created.code, 0, created.stderr);
  const id = JSON.parse(created.stdout).client_id as string;
  const dir = join(t.dir, 'a-directory');
  mkdirSync(dir);
  const notJson = join(t.dir, 'not.json');
  writeFileSync(notJson, '{ keys: ');
  const cases: Array<[string, string]> = [
    [join(t.dir, 'missing.json'), 'cannot be read (no such file)'],
    [dir, 'cannot be read (is a directory, not a file)'],
    [notJson, 'not JSON'],
  ];
  for (const [file, why] of cases) {
    const r = await cli('app', 'set-jwks', id, file);
    assert.equal(r.code, 1, file);
    assert.equal(r.stdout, '');
    assert.equal(r.stderr, `error: request.invalid: FILE ${file}: ${why}\n`);
  }
  const c = await cli('app', 'create', 'jwks-cli-2', '--audience', 'api', '--jwks', join(t.dir, 'missing.json'));
  assert.equal(c.code, 1);
  assert.equal(c.stderr, `error: request.invalid: --jwks ${join(t.dir, 'missing.json')}: cannot be read (no such file)\n`);
});
