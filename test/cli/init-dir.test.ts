/**
 * `portcullis init --dir` naming a file, or a path under a file, is the operator's
 * mistake: `error: request.invalid` naming the directory, exit 1. It escaped as an
 * untyped EEXIST/ENOTDIR (`error: internal:`).
 */
import assert from 'node:assert/strict';
import { readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, test } from 'node:test';
import { tempDir } from '../admin/node.js';
import { runCli } from './run.js';

const root = tempDir('portcullis-init-dir-');
after(() => rmSync(root, { recursive: true, force: true }));

test('init --dir FILE and --dir FILE/sub → error: request.invalid naming the directory, exit 1, nothing created', async () => {
  const file = join(root, 'a-file');
  writeFileSync(file, 'x');
  for (const dir of [file, join(file, 'sub')]) {
    const r = await runCli(['init', '--dir', dir]);
    assert.equal(r.code, 1, dir);
    assert.ok(r.stderr.startsWith(`error: request.invalid: directory ${dir} cannot be used: `), r.stderr);
    assert.equal(r.stdout, '');
  }
});

/**
 * `mkdir -p` under /proc: Node's recursive mkdir gets ENOENT for /proc/nope although
 * /proc exists, and looped for ever, so `init --dir /proc/nope` hung. Each missing
 * directory is now made on its own: the first one that cannot be is the error.
 */
/**
 * A hang was for ever; a CLI start (tsx, on two cores shared with the rest of the suite) can
 * take several seconds. The bound tells the two apart without failing a slow start.
 */
const HANG_MS = 45_000;

test('init --dir /proc/nope and /proc/nope/deeper end at once: error: request.invalid naming the directory, exit 1', { timeout: 2 * HANG_MS + 10_000 }, async () => {
  for (const dir of ['/proc/nope', '/proc/nope/deeper/still']) {
    const r = await runCli(['init', '--dir', dir], {}, HANG_MS);
    assert.equal(r.code, 1, `${dir}: ${r.stderr}`);
    assert.equal(r.stdout, '');
    assert.equal(r.stderr, `error: request.invalid: directory ${dir} cannot be used: /proc/nope cannot be created: the file system of /proc refuses it (ENOENT)\n`);
  }
});

test('cert issue --out-dir under /proc ends at once: error: request.invalid naming --out-dir, exit 1', { timeout: HANG_MS + 10_000 }, async () => {
  const r = await runCli(['cert', 'issue', '--dns', 'a.example', '--out-dir', '/proc/nope/certs', '--dir', join(root, 'no-node')], {}, HANG_MS);
  assert.equal(r.code, 1, r.stderr);
  assert.equal(r.stdout, '');
  assert.equal(r.stderr, 'error: request.invalid: --out-dir /proc/nope/certs cannot be created or written: /proc/nope cannot be created: the file system of /proc refuses it (ENOENT)\n');
});

test('a node whose store is sqlite:/proc/nope/p.db ends at once (ca export opens the store): error: store.unavailable naming the directory', { timeout: 2 * HANG_MS + 10_000 }, async () => {
  const dir = join(root, 'proc-store');
  assert.equal((await runCli(['init', '--dir', dir])).code, 0);
  const configFile = join(dir, 'portcullis.yaml');
  writeFileSync(configFile, readFileSync(configFile, 'utf8').replace(/^store: .*$/m, 'store: sqlite:/proc/nope/p.db'));
  const r = await runCli(['ca', 'export', '--dir', dir], {}, HANG_MS);
  assert.equal(r.code, 1, r.stderr);
  assert.equal(r.stdout, '');
  assert.match(r.stderr, /^error: store\.unavailable: cannot open the SQLite database file: \/proc\/nope cannot be created: the file system of \/proc refuses it \(ENOENT\)\n$/m);
});

test('init --dir A/B/C under a fresh directory still creates every level (0700)', async () => {
  const dir = join(root, 'x', 'y', 'z');
  const r = await runCli(['init', '--dir', dir]);
  assert.equal(r.code, 0, r.stderr);
  for (const d of [join(root, 'x'), join(root, 'x', 'y'), dir]) assert.equal(statSync(d).mode & 0o777, 0o700, d);
});

/**
 * `init --dir` with a relative path listed the config file as that relative path
 * (`created .portcullis/portcullis.yaml`) and every other file it made as an absolute one.
 * Every file is now listed by its absolute path, the offline root key's too.
 */
test('init --dir RELATIVE --root-key-offline RELATIVE lists every created file by its absolute path', async () => {
  const cwd = fileURLToPath(new URL('../..', import.meta.url)); // runCli's working directory
  const dir = join(root, 'relative');
  const rootKey = join(root, 'root-ca.key');
  const r = await runCli(['init', '--dir', relative(cwd, dir), '--root-key-offline', relative(cwd, rootKey)]);
  assert.equal(r.code, 0, r.stderr);
  const files = ['portcullis.yaml', 'master.key', 'admin.token', 'portcullis.db'].map((f) => join(dir, f));
  assert.deepEqual(r.stdout.split('\n').filter(Boolean).sort(), [...files, rootKey, join(dir, 'ca.pem')].map((f) => `created ${f}`).sort());
});
