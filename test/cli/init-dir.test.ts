/**
 * `portcullis init --dir` naming a file, or a path under a file, is the operator's
 * mistake: `error: request.invalid` naming the directory, exit 1. It escaped as an
 * untyped EEXIST/ENOTDIR (`error: internal:`).
 */
import assert from 'node:assert/strict';
import { rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
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
