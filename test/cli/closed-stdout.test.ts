/**
 * A reader that stops early (`portcullis audit tail -n 500 | head -1`, `cert list | head`)
 * closes the pipe the CLI writes to. The CLI must stop quietly, as Unix tools do on
 * SIGPIPE (status 141, nothing on stderr), not die on an unhandled EPIPE 'error' event
 * with a stack trace.
 */
import assert from 'node:assert/strict';
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { tempDir } from '../support/portcullis.js';
import { exitOf, spawnCli } from './run.js';

test('stdout closed by its reader before the CLI writes: exit status 141, no EPIPE error or stack trace', async () => {
  const dir = tempDir('portcullis-closed-stdout-');
  try {
    const child = spawnCli(['init', '--dir', join(dir, 'node')]);
    // the reader goes away at once: every line the command writes meets a closed pipe
    child.stdout!.destroy();
    let stderr = '';
    child.stderr!.on('data', (d) => (stderr += d));
    const code = await exitOf(child);
    assert.doesNotMatch(stderr, /EPIPE|Unhandled|\n\s+at /, stderr);
    assert.equal(code, 141, stderr);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
