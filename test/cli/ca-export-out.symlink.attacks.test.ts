/**
 * Attack: `portcullis ca export --out PATH` wrote with writeFileSync, which follows a
 * symlink at PATH and truncates what is there: whoever can plant `PATH -> ~/.ssh/authorized_keys`
 * (a shared or world-writable directory, a file name an operator's script uses) had the
 * operator (or root) overwrite the target with the CA certificate. The file is now written
 * whole and fsynced under a temporary name, then renamed into place (an existing regular file
 * is replaced; a re-run after a renewal is normal), never through a symlink; a symlink or a
 * directory there is one typed line naming the file.
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

  test('--out names an existing file → replaced whole by the export (a re-run after a renewal), 0644, no temporary file left', async () => {
    mkdirSync(join(root, 'again'));
    const file = join(root, 'again', 'chain.pem');
    writeFileSync(file, 'the old chain\n', { mode: 0o600 });
    const r = await exportTo(file, '--chain');
    assert.equal(r.code, 0, r.stderr);
    assert.match(readFileSync(file, 'utf8'), /^-----BEGIN CERTIFICATE-----\n[^]*-----END CERTIFICATE-----\n-----BEGIN CERTIFICATE-----\n[^]*-----END CERTIFICATE-----\n$/);
    assert.equal(statSync(file).mode & 0o777, 0o644);
    assert.deepEqual(readdirSync(join(root, 'again')), ['chain.pem']);
  });

  test('--out names a directory → error: request.invalid: exists and is not a regular file; the directory left as it was', async () => {
    const d = join(root, 'a-directory');
    mkdirSync(d);
    const r = await exportTo(d);
    assert.equal(r.code, 1, r.stderr);
    assert.equal(r.stderr, `error: request.invalid: --out ${d}: exists and is not a regular file\n`);
    assert.deepEqual(readdirSync(d), []);
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
