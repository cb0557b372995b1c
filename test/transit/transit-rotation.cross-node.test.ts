/**
 * A key version made on another node: two nodes share one SQLite file and no Redis, so
 * no `transit.changed` event reaches the other node. A ciphertext naming a version newer
 * than the node's cached key makes it re-read the key, whenever it last read it, so a
 * value made a moment ago on the other node decrypts (and verifies) instead of reading as
 * `transit.malformed-ciphertext`; a version that does not exist stays malformed.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { copyFileSync } from 'node:fs';
import { join } from 'node:path';
import { startTestNode, tempDir, testConfig, type TestNode } from '../support/portcullis.js';
import { localFetch as fetch } from './local-fetch.js';

let a: TestNode;
let b: TestNode;
const b64 = (s: string) => Buffer.from(s).toString('base64');

async function admin(node: TestNode, path: string, body: unknown = {}): Promise<{ status: number; body: any }> {
  const res = await fetch(node.urls.admin! + path, { method: 'POST', headers: { 'content-type': 'application/json', authorization: `Bearer ${node.adminToken}` }, body: JSON.stringify(body) });
  return { status: res.status, body: await res.json() };
}

before(async () => {
  const cfg = testConfig(`store: sqlite:${join(tempDir('portcullis-transit-cluster-'), 'shared.db')}\n`);
  a = await startTestNode({ config: cfg });
  const dirB = tempDir();
  copyFileSync(join(a.dir, 'master.key'), join(dirB, 'master.key'));
  copyFileSync(join(a.dir, 'admin.token'), join(dirB, 'admin.token'));
  b = await startTestNode({ config: cfg, dir: dirB });
});
after(async () => {
  await b?.stop();
  await a?.stop();
});

test('transit across nodes: a ciphertext, signature or HMAC of a version node A made a moment ago is read by node B (it re-reads the key), not refused as transit.malformed-ciphertext; a version that does not exist still is', async () => {
  assert.equal((await admin(a, '/v1/transit/keys', { name: 'orders-db' })).status, 201);
  assert.equal((await admin(a, '/v1/transit/keys', { name: 'docs-sign', type: 'ed25519' })).status, 201);
  // node B reads both keys (its cache now holds version 1)
  const v1 = await admin(b, '/v1/transit/encrypt/orders-db', { plaintext: b64('old') });
  assert.equal(v1.body.key_version, 1);
  assert.equal((await admin(b, '/v1/transit/sign/docs-sign', { input: b64('x') })).body.key_version, 1);

  // node A rotates both and uses version 2 at once
  assert.equal((await admin(a, '/v1/transit/keys/orders-db/rotate')).status, 200);
  assert.equal((await admin(a, '/v1/transit/keys/docs-sign/rotate')).status, 200);
  const ct = await admin(a, '/v1/transit/encrypt/orders-db', { plaintext: b64('made on A'), context: b64('row:1') });
  assert.equal(ct.body.key_version, 2);
  const sig = await admin(a, '/v1/transit/sign/docs-sign', { input: b64('pay 10') });
  const mac = await admin(a, '/v1/transit/hmac/orders-db', { input: b64('pay 10') });

  const dec = await admin(b, '/v1/transit/decrypt/orders-db', { ciphertext: ct.body.ciphertext, context: b64('row:1') });
  assert.equal(dec.status, 200, JSON.stringify(dec.body));
  assert.equal(Buffer.from(dec.body.plaintext, 'base64').toString(), 'made on A');
  const ver = await admin(b, '/v1/transit/verify/docs-sign', { input: b64('pay 10'), signature: sig.body.signature });
  assert.equal(ver.status, 200, JSON.stringify(ver.body));
  assert.equal(ver.body.valid, true);
  const vmac = await admin(b, '/v1/transit/verify/orders-db', { input: b64('pay 10'), hmac: mac.body.hmac });
  assert.equal(vmac.body.valid, true, JSON.stringify(vmac.body));

  // a version that exists nowhere is malformed, on its own and in a batch
  const forged = ct.body.ciphertext.replace(/^pc:v2:/, 'pc:v9:');
  const bad = await admin(b, '/v1/transit/decrypt/orders-db', { ciphertext: forged, context: b64('row:1') });
  assert.equal(bad.status, 400);
  assert.equal(bad.body.code, 'transit.malformed-ciphertext');
  const batch = await admin(b, '/v1/transit/decrypt/orders-db', { batch_input: [{ ciphertext: forged }, { ciphertext: v1.body.ciphertext }] });
  assert.deepEqual(batch.body.batch_results.map((r: any) => r.plaintext ?? r.error.code), ['transit.malformed-ciphertext', b64('old')]);
});
