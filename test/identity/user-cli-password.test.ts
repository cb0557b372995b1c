/** `portcullis user add`: the password typed at a terminal is not echoed; piped stdin still works. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { PassThrough, Writable } from 'node:stream';
import { readPassword } from '../../src/cli/user.js';

function terminal() {
  const input = Object.assign(new PassThrough(), { isTTY: true as const, rawModes: [] as boolean[], setRawMode(this: { rawModes: boolean[] }, on: boolean) { this.rawModes.push(on); return this; } });
  let shown = '';
  const output = new Writable({ write(chunk, _enc, cb) { shown += String(chunk); cb(); } });
  return { input, output, shown: () => shown };
}

test('attack: shoulder surfing — a password typed at a terminal is read in raw mode and never echoed', async () => {
  const t = terminal();
  const p = readPassword(t.input as never, t.output);
  t.input.write('plum tractorX');
  t.input.write('\u007f velvet orbit\r');
  assert.equal(await p, 'plum tractor velvet orbit');
  assert.deepEqual(t.input.rawModes, [true, false]);
  assert.ok(!t.shown().includes('plum'), t.shown());
  assert.match(t.shown(), /Password/);
});

test('Ctrl-C at the password prompt aborts (request.invalid) and restores the terminal', async () => {
  const t = terminal();
  const p = readPassword(t.input as never, t.output);
  t.input.write('half\u0003');
  await assert.rejects(p, (e: { code?: string }) => e.code === 'request.invalid');
  assert.deepEqual(t.input.rawModes, [true, false]);
});

test('piped stdin: the first line is the password', async () => {
  const input = new PassThrough();
  const p = readPassword(input as never, new Writable({ write: (_c, _e, cb) => cb() }));
  input.end('plum tractor velvet orbit\nsecond line\n');
  assert.equal(await p, 'plum tractor velvet orbit');
});
