/**
 * The master key file as `start` and `config check` read it: a path that is not a
 * regular file, or one that cannot be read, is `crypto.master-key` naming the file,
 * never `internal` with Node's error text.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { chmodSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
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

test('config check refuses what start refuses: a master key readable by others, one of the wrong size, a directory, an admin token file readable by others → the same typed error, exit 1', async () => {
  const write = (name: string, text: string, mode: number) => {
    writeFileSync(join(dir, name), text, { mode });
    chmodSync(join(dir, name), mode);
  };
  write('loose.key', readFileSync(join(dir, 'master.key'), 'utf8'), 0o644);
  write('short.key', `${Buffer.alloc(16).toString('base64')}\n`, 0o600);
  write('loose.token', readFileSync(join(dir, 'admin.token'), 'utf8'), 0o644);
  const cases: Array<[string, string]> = [
    ['masterKeyFile: ./loose.key', `error: crypto.master-key: master key file ${join(dir, 'loose.key')} is readable by group or others (mode 644); chmod 600 it\n`],
    ['masterKeyFile: ./short.key', `error: crypto.master-key: master key file ${join(dir, 'short.key')} does not hold 32 base64-encoded bytes\n`],
    ['masterKeyFile: ./keydir', `error: crypto.master-key: master key file ${join(dir, 'keydir')} is not a regular file\n`],
    ['adminTokenFile: ./loose.token', `error: config.invalid: admin token file ${join(dir, 'loose.token')} is readable by group or others (mode 644); chmod 600 it\n`],
  ];
  for (const [line, stderr] of cases) {
    const config = join(dir, 'check.yaml');
    writeFileSync(config, `${TEST_CONFIG}${line}\n`);
    const r = await runCli(['config', 'check', '--config', config]);
    assert.equal(r.code, 1, line);
    assert.equal(r.stdout, '', line);
    assert.equal(r.stderr, stderr, line);
  }
  const ok = await runCli(['config', 'check', '--dir', dir]);
  assert.equal(ok.code, 0, ok.stderr);
  assert.equal(ok.stdout, 'ok\n');
});
