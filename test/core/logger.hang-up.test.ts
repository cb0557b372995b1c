/**
 * The log on a terminal that hung up: writes to it fail with EIO. pino rethrew that as an
 * uncaught error and its flush at exit retried the line for ever, so a process that
 * logged after its terminal closed (a node stopping on the SIGHUP of a dropped SSH
 * session) died half-way and never exited. The log now drops its lines instead.
 */
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, test } from 'node:test';
import { gone, onTerminal } from '../support/terminal.js';
import { waitFor } from '../cli/run.js';

const LOGGER = fileURLToPath(new URL('../../src/core/logger.ts', import.meta.url));

test('a line logged after the terminal hung up is dropped: the process goes on with its stop and exits', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'portcullis-hang-up-'));
  const finished = join(dir, 'finished');
  const program = `
    import { writeFileSync } from 'node:fs';
    import { createLogger } from ${JSON.stringify(LOGGER)};
    const log = createLogger('info');
    process.on('SIGHUP', () => {
      log.info('stopping after a hang-up');
      setTimeout(() => { writeFileSync(${JSON.stringify(finished)}, ''); process.exit(0); }, 300);
    });
    setInterval(() => undefined, 1000);
    log.info('ready');`;
  const terminal = onTerminal([process.execPath, '--import', 'tsx', '--input-type=module', '-e', program], { cwd: fileURLToPath(new URL('../..', import.meta.url)) });
  after(() => {
    terminal.kill();
    rmSync(dir, { recursive: true, force: true });
  });
  await waitFor(terminal.output, /"msg":"ready"/);
  const pid = terminal.pid();
  terminal.hangUp();
  assert.ok(await gone(pid, 10_000), 'the process exited');
  assert.ok(existsSync(finished), 'the work after the log line was done');
});
