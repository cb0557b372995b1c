/**
 * workerEntry (core/worker-entry.ts): from TypeScript source (tests, `tsx`), a worker is
 * started through tsx's loader, which a worker's `eval` must find from this package, not
 * from the process's working directory: started from a directory without tsx, the
 * gateway thread failed to start with only `internal`.
 */
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { pathToFileURL } from 'node:url';
import { Worker } from 'node:worker_threads';
import { workerEntry } from '../../src/core/worker-entry.js';
import { tempDir } from '../support/portcullis.js';

test('a worker whose entry is TypeScript source starts from a working directory that has no tsx', async () => {
  const dir = tempDir('portcullis-worker-entry-');
  writeFileSync(join(dir, 'package.json'), '{ "type": "module" }');
  writeFileSync(join(dir, 'entry.ts'), "import { parentPort } from 'node:worker_threads';\nconst answer: number = 41;\nparentPort!.postMessage(answer + 1);\n");
  const e = workerEntry(pathToFileURL(join(dir, 'entry.js')));
  assert.equal(e.eval, true, 'no compiled entry: the source runs behind tsx');
  const cwd = process.cwd();
  // the worker resolves its eval's imports when it runs, so the directory stays changed until it answered
  process.chdir(dir);
  const worker = new Worker(e.file, { eval: e.eval });
  let answer: unknown;
  try {
    answer = await new Promise((resolve, reject) => {
      worker.once('message', resolve);
      worker.once('error', reject);
    });
  } finally {
    process.chdir(cwd);
  }
  assert.equal(answer, 42);
  await worker.terminate();
});
