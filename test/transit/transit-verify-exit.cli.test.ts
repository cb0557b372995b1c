/**
 * `portcullis transit verify` is used in scripts (`verify … && deploy`): a signature or
 * HMAC that does not verify prints `false` and exits 1; it exited 0, so the script went on.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { runCli } from '../cli/run.js';
import { startTestNode, type TestNode } from '../admin/node.js';

let t: TestNode;
const cli = (...args: string[]) => runCli([...args, '--dir', t.dir, '--admin-url', t.admin]);

before(async () => {
  t = await startTestNode();
  await t.api('/v1/transit/keys', { body: { name: 'sig', type: 'ed25519' } });
  await t.api('/v1/transit/keys', { body: { name: 'mac', type: 'aes256-gcm' } });
});
after(() => t.close());

test('attack: transit verify of a forged signature or HMAC prints false and exits 1; a good one prints true and exits 0', async () => {
  const sig = (await cli('transit', 'sign', 'sig', 'aGVsbG8=')).stdout.trim();
  const good = await cli('transit', 'verify', 'sig', 'aGVsbG8=', sig);
  assert.deepEqual([good.code, good.stdout], [0, 'true\n']);
  const forged = await cli('transit', 'verify', 'sig', 'aGVsbG9v', sig);
  assert.deepEqual([forged.code, forged.stdout], [1, 'false\n']);
  const mac = (await cli('transit', 'hmac', 'mac', 'aGVsbG8=')).stdout.trim();
  const badMac = await cli('transit', 'verify', 'mac', 'aGVsbG9v', mac, '--hmac');
  assert.deepEqual([badMac.code, badMac.stdout], [1, 'false\n']);
  const json = await cli('transit', 'verify', 'sig', 'aGVsbG9v', sig, '--json');
  assert.equal(json.code, 1);
  assert.equal(JSON.parse(json.stdout).valid, false);
});
