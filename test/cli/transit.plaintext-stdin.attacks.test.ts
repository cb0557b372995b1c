/**
 * A plaintext on the command line is in every user's `ps` listing while the command runs
 * and in the shell history afterwards: exactly what transit is meant to keep secret.
 * `transit encrypt NAME -` (and `sign`, `verify`, `hmac` with `-` as the input) reads the
 * data from stdin instead, as raw bytes, so `portcullis transit encrypt pii - < secret`
 * puts nothing of it on the command line.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { startTestNode, type TestNode } from '../admin/node.js';
import { runCli, type CliResult } from './run.js';

let t: TestNode;
before(async () => {
  t = await startTestNode();
});
after(() => t.close());

function cli(args: string[], stdin: string | Buffer = ''): Promise<CliResult> {
  return runCli([...args, '--dir', t.dir, '--admin-url', t.admin], {}, { stdin });
}

// bytes that are not UTF-8 and end in a newline: taken as they are, nothing trimmed
const SECRET = Buffer.from([0x73, 0x33, 0x63, 0x72, 0x65, 0x74, 0x00, 0xff, 0x0a]);

test('transit encrypt NAME - reads the plaintext from stdin as raw bytes: decrypt gives the same bytes back', async () => {
  assert.equal((await cli(['transit', 'create', 'pii'])).code, 0);
  const enc = await cli(['transit', 'encrypt', 'pii', '-'], SECRET);
  assert.equal(enc.code, 0, enc.stderr);
  assert.match(enc.stdout, /^pc:v1:[A-Za-z0-9+/]+=*\n$/);
  const dec = await cli(['transit', 'decrypt', 'pii', enc.stdout.trim()]);
  assert.equal(dec.code, 0, dec.stderr);
  assert.equal(dec.stdout, `${SECRET.toString('base64')}\n`);
  // with --text too: stdin is bytes, whatever the flag says of arguments
  const text = await cli(['transit', 'encrypt', 'pii', '-', '--text', '--context', 'tenant-1'], 'hello\n');
  assert.equal(text.code, 0, text.stderr);
  const back = await cli(['transit', 'decrypt', 'pii', text.stdout.trim(), '--text', '--context', 'tenant-1']);
  assert.equal(back.code, 0, back.stderr);
  assert.equal(back.stdout, 'hello\n\n');
});

test('transit hmac / sign / verify NAME - take the input from stdin: the same values as the input given in base64', async () => {
  assert.equal((await cli(['transit', 'create', 'signer', '--type', 'ed25519'])).code, 0);
  const b64 = SECRET.toString('base64');
  const macArg = await cli(['transit', 'hmac', 'pii', b64]);
  const macIn = await cli(['transit', 'hmac', 'pii', '-'], SECRET);
  assert.equal(macIn.code, 0, macIn.stderr);
  assert.equal(macIn.stdout, macArg.stdout);
  const sig = await cli(['transit', 'sign', 'signer', '-'], SECRET);
  assert.equal(sig.code, 0, sig.stderr);
  const ok = await cli(['transit', 'verify', 'signer', b64, sig.stdout.trim()]);
  assert.equal(ok.stdout, 'true\n');
  const okIn = await cli(['transit', 'verify', 'signer', '-', sig.stdout.trim()], SECRET);
  assert.equal(okIn.code, 0, okIn.stderr);
  assert.equal(okIn.stdout, 'true\n');
  const bad = await cli(['transit', 'verify', 'signer', '-', sig.stdout.trim()], 'other');
  assert.equal(bad.code, 1);
  assert.equal(bad.stdout, 'false\n');
});
