/**
 * Attack: `portcullis ca export --out PATH` wrote with writeFileSync, which follows a
 * symlink at PATH and truncates what is there: whoever can plant `PATH -> ~/.ssh/authorized_keys`
 * (a shared or world-writable directory, a file name an operator's script uses) had the
 * operator (or root) overwrite the target with the CA certificate. The file is now created
 * like the other files the CLI writes (`cert … --out-dir`, `init`): whole, fsynced, never over
 * an existing file nor through a symlink; either is one typed line naming the file.
 */
import assert from 'node:assert/strict';
import { lstatSync, mkdirSync, readdirSync, readFileSync, readlinkSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { initDir, tempDir } from '../admin/node.js';
import { runCli } from './run.js';

describe('CLI: ca export --out', () => {
  const root = tempDir('portcullis-cli-ca-out-');
  let dir: string;
  before(async () => {
    dir = (await initDir(join(root, 'node'))).dir;
  });
  after(() => rmSync(root, { recursive: true, force: true }));

  const exportTo = (out: string, ...more: string[]) => runCli(['ca', 'export', '--out', out, ...more, '--dir', dir], {}, 60_000);

  test('attack: --out is a symlink to another file → error: request.invalid naming it, exit 1; the target is left as it was', async () => {
    const victim = join(root, 'authorized_keys');
    writeFileSync(victim, 'ssh-ed25519 AAAA mine\n', { mode: 0o600 });
    const link = join(root, 'planted.pem');
    symlinkSync(victim, link);
    const r = await exportTo(link);
    assert.equal(r.code, 1, r.stderr);
    assert.equal(r.stdout, '');
    assert.equal(r.stderr, `error: request.invalid: --out ${link}: is a symbolic link (not followed); remove it or choose another file\n`);
    assert.equal(readFileSync(victim, 'utf8'), 'ssh-ed25519 AAAA mine\n');
    assert.equal(readlinkSync(link), victim);
    assert.deepEqual(readdirSync(root).filter((f) => f.includes('.tmp-')), []);
  });

  test('attack: --out is a dangling symlink → refused the same way; nothing is created where it points', async () => {
    const target = join(root, 'created-through-link');
    const link = join(root, 'dangling.pem');
    symlinkSync(target, link);
    const r = await exportTo(link, '--chain');
    assert.equal(r.code, 1, r.stderr);
    assert.equal(r.stderr, `error: request.invalid: --out ${link}: is a symbolic link (not followed); remove it or choose another file\n`);
    assert.throws(() => lstatSync(target), { code: 'ENOENT' });
  });

  test('--out names an existing file → error: request.invalid: already exists (EEXIST), the file unchanged (as cert --out-dir and init: never overwritten)', async () => {
    const file = join(root, 'existing.pem');
    writeFileSync(file, 'keep me\n');
    const r = await exportTo(file);
    assert.equal(r.code, 1, r.stderr);
    assert.equal(r.stderr, `error: request.invalid: --out ${file}: already exists (EEXIST)\n`);
    assert.equal(readFileSync(file, 'utf8'), 'keep me\n');
  });

  test('a new file: the root PEM (what DIR/ca.pem holds), 0644, no temporary file left', async () => {
    const file = join(root, 'new', 'ca.pem');
    mkdirSync(join(root, 'new'));
    const r = await exportTo(file);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, '');
    assert.equal(readFileSync(file, 'utf8'), readFileSync(join(dir, 'ca.pem'), 'utf8'));
    assert.equal(statSync(file).mode & 0o777, 0o644);
    assert.deepEqual(readdirSync(join(root, 'new')), ['ca.pem']);
  });
});
