/**
 * The master key file as `start` and `config check` read it: a path that is not a
 * regular file, or one that cannot be read, is `crypto.master-key` naming the file,
 * never `internal` with Node's error text.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { initDir, TEST_CONFIG } from '../admin/node.js';
import { runCli } from './run.js';

let dir: string;
before(async () => {
  ({ dir } = await initDir());
  mkdirSync(join(dir, 'keydir'), { mode: 0o700 });
});
after(() => rmSync(dir, { recursive: true, force: true }));

test('start with masterKeyFile naming a directory → crypto.master-key "is not a regular file", exit 1', async () => {
  const config = join(dir, 'dir-key.yaml');
  writeFileSync(config, `${TEST_CONFIG}masterKeyFile: ./keydir\n`);
  const r = await runCli(['start', '--config', config]);
  assert.equal(r.code, 1);
  assert.equal(r.stderr.replace(/^oidc-provider WARNING.*\n/m, ''), `error: crypto.master-key: master key file ${join(dir, 'keydir')} is not a regular file\n`);
});
