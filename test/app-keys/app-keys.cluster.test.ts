/** A signing key revoked on one node disappears from `lookup` on another node (Redis pub/sub `app-keys.changed`). */
import { after } from 'node:test';
import assert from 'node:assert/strict';
import { copyFileSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { randomRedisPrefix, redisUrl, serviceTest } from '../support/services.js';
import { startTestNode, tempDir, testConfig, type TestNode } from '../support/portcullis.js';

async function waitUntil(what: string, fn: () => boolean, limitMs: number): Promise<void> {
  const start = Date.now();
  while (Date.now() - start < limitMs) {
    if (fn()) return;
    await new Promise((r) => setTimeout(r, 10));
  }
  assert.fail(`${what} did not happen within ${limitMs} ms`);
}

await serviceTest('redis', 'app keys across nodes: a key added on node A is usable on node B, and revoked on A it is gone from B within 1 s', async () => {
  const shared = tempDir('portcullis-appkeys-cluster-');
  // reconcile far away, so only the pub/sub event can explain the change on node B
  const cfg = testConfig(`store: sqlite:${join(shared, 'shared.db')}\nephemeral: ${redisUrl()}\nephemeralPrefix: "${randomRedisPrefix()}"\nrevocation: { reconcileInterval: 30m }`);
  let a: TestNode | undefined;
  let b: TestNode | undefined;
  after(async () => {
    await a?.stop();
    await b?.stop();
  });
  a = await startTestNode({ config: cfg });
  const dirB = tempDir();
  mkdirSync(dirB, { recursive: true });
  copyFileSync(join(a.dir, 'master.key'), join(dirB, 'master.key'));
  copyFileSync(join(a.dir, 'admin.token'), join(dirB, 'admin.token'));
  b = await startTestNode({ config: cfg, dir: dirB });

  const { app } = await a.services.apps.create({ name: 'cluster-signer', audiences: ['api'], scopes: [] }, 'test');
  const { key } = await a.services.appSigningKeys.add(app.clientId, { type: 'hmac', keyid: 'cluster-k1' }, 'test');
  await waitUntil('key visible on node B', () => b!.services.appSigningKeys.lookup(key.keyid) !== undefined, 1000);
  assert.equal(b.services.appSigningKeys.lookup(key.keyid)!.clientId, app.clientId);
  assert.equal(b.services.appSigningKeys.lookup(key.keyid)!.alg, 'hmac-sha256');

  await a.services.appSigningKeys.revoke(app.clientId, key.keyid, 'test');
  assert.equal(a.services.appSigningKeys.lookup(key.keyid), undefined);
  await waitUntil('revocation on node B', () => b!.services.appSigningKeys.lookup(key.keyid) === undefined, 1000);
});
