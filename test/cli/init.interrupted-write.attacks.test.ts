/**
 * An init whose write of a file fails part-way (disk full, a file size limit, a crash or
 * power loss before the data reached the disk) must not leave that file behind empty: init
 * never overwrites, so an empty master key, admin token or config file stayed for good and
 * every later `init` and `start` failed on it (`master key file … does not hold 32
 * base64-encoded bytes`) until the operator found and deleted it. Each file is now written
 * to a temporary file, fsynced, and linked to its name only when complete.
 *
 * The failure is made real with a file size limit of 0 (`ulimit -f 0`): Node ignores
 * SIGXFSZ, so the first write of a byte fails with EFBIG after the file was created.
 */
import assert from 'node:assert/strict';
import { mkdirSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { tempDir } from '../admin/node.js';
import { runCli, type CliResult } from './run.js';
import { DEFAULT_CONFIG } from '../../src/init.js';

const root = tempDir('portcullis-init-interrupted-');
after(() => rmSync(root, { recursive: true, force: true }));

/** `portcullis init --dir DIR` with a file size limit of 0 bytes. */
function initWithoutDiskSpace(dir: string): Promise<CliResult> {
  return runCli(['init', '--dir', dir], {}, { shellSetup: 'ulimit -f 0' });
}

const MASTER_KEY = `${Buffer.alloc(32, 7).toString('base64')}\n`;

const cases: Array<{ file: string; before: Record<string, string>; error: (dir: string) => string }> = [
  { file: 'portcullis.yaml', before: {}, error: (d) => `error: request.invalid: configuration file ${join(d, 'portcullis.yaml')} cannot be written: file size limit exceeded (EFBIG)\n` },
  { file: 'master.key', before: { 'portcullis.yaml': DEFAULT_CONFIG }, error: (d) => `error: crypto.master-key: master key file ${join(d, 'master.key')} cannot be written: file size limit exceeded (EFBIG)\n` },
  { file: 'admin.token', before: { 'portcullis.yaml': DEFAULT_CONFIG, 'master.key': MASTER_KEY }, error: (d) => `error: config.invalid: admin token file ${join(d, 'admin.token')} cannot be written: file size limit exceeded (EFBIG)\n` },
];

for (const c of cases) {
  test(`init whose write of ${c.file} fails → typed error, exit 1, no empty ${c.file} left; the next init completes and config check says ok`, async () => {
    const dir = join(root, c.file);
    mkdirSync(dir, { mode: 0o700 });
    for (const [name, text] of Object.entries(c.before)) writeFileSync(join(dir, name), text, { mode: 0o600 });

    const failed = await initWithoutDiskSpace(dir);
    assert.equal(failed.code, 1, failed.stderr);
    assert.equal(failed.stderr, c.error(dir));
    assert.deepEqual(readdirSync(dir).sort(), Object.keys(c.before).sort(), 'neither the file nor a temporary file is left');

    const again = await runCli(['init', '--dir', dir]);
    assert.equal(again.code, 0, again.stderr);
    assert.ok(again.stdout.includes(`created ${join(dir, c.file)}\n`), again.stdout);
    assert.ok(statSync(join(dir, c.file)).size > 0);
    if (c.file !== 'portcullis.yaml') assert.equal(statSync(join(dir, c.file)).mode & 0o777, 0o600);
    const check = await runCli(['config', 'check', '--dir', dir]);
    assert.equal(check.code, 0, check.stderr);
    assert.equal(check.stdout, 'ok\n');
    assert.notEqual(readFileSync(join(dir, 'master.key'), 'utf8'), '');
  });
}
