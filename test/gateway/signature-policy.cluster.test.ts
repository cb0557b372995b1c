/**
 * Nonce replay across nodes: two gateway nodes sharing one Redis (and one store); a
 * signed request accepted by node A is refused by node B as `signature.replayed`,
 * because the nonce is consumed through the shared ephemeral store.
 */
import { after } from 'node:test';
import assert from 'node:assert/strict';
import { copyFileSync } from 'node:fs';
import { request } from 'node:http';
import { join } from 'node:path';
import { randomRedisPrefix, redisUrl, serviceTest } from '../support/services.js';
import { startTestNode, tempDir, testConfig, type TestNode } from '../support/portcullis.js';
import { startUpstream, type Upstream } from './helpers.js';
import { addSigningKey, sendSigned } from './message-policy-support.js';

async function waitUntil(what: string, fn: () => boolean, limitMs: number): Promise<void> {
  const start = Date.now();
  while (Date.now() - start < limitMs) {
    if (fn()) return;
    await new Promise((r) => setTimeout(r, 10));
  }
  assert.fail(`${what} did not happen within ${limitMs} ms`);
}

await serviceTest('redis', 'signature nonce replay across two nodes sharing Redis: accepted on node A, the same request on node B is signature.replayed and never reaches the upstream', async () => {
  let a: TestNode | undefined;
  let b: TestNode | undefined;
  let upstream: Upstream | undefined;
  after(async () => {
    await a?.stop();
    await b?.stop();
    await upstream?.close();
  });
  upstream = await startUpstream();
  const shared = tempDir('portcullis-sig-cluster-');
  const tls = testConfig().includes('tls:') ? '' : 'tls: { mode: off }\n';
  const cfg = testConfig(
    `${tls}store: sqlite:${join(shared, 'shared.db')}\nephemeral: ${redisUrl()}\nephemeralPrefix: "${randomRedisPrefix()}"\n` +
      `routes:\n  - name: sig\n    match: { pathPrefix: /sig }\n    upstream: ${upstream.url}\n    require:\n      signature: {}\n`,
  );
  a = await startTestNode({ config: cfg });
  const dirB = tempDir();
  copyFileSync(join(a.dir, 'master.key'), join(dirB, 'master.key'));
  copyFileSync(join(a.dir, 'admin.token'), join(dirB, 'admin.token'));
  b = await startTestNode({ config: cfg, dir: dirB });

  const { app } = await a.services.apps.create({ name: 'cluster-sig', audiences: ['orders-api'], scopes: [] }, 'test');
  const k = await addSigningKey(a, app.clientId, 'hmac-sha256');
  await waitUntil('signing key visible on node B', () => b!.services.appSigningKeys.lookup(k.keyid) !== undefined, 2000);

  // The same Host on both nodes is what a load balancer gives; sign for node A's address and send the bytes to both.
  let captured: { method: string; path: string; body: string | undefined; headers: Record<string, string> } | undefined;
  const first = await sendSigned(a.urls.gateway!, { path: '/sig/pay', body: '{"amount":5}', sign: { key: k.key, alg: k.alg, keyid: k.keyid }, tamper: (r) => (captured = structuredClone(r)) });
  assert.equal(first.status, 200, first.text);
  assert.equal(upstream.seen.length, 1);

  // fetch cannot set Host; node:http sends the captured request with node A's Host to node B
  const hostA = new URL(a.urls.gateway!).host;
  const res = await new Promise<{ status: number; body: string }>((resolve, reject) => {
    const req = request(b!.urls.gateway! + captured!.path, { method: 'POST', headers: { ...captured!.headers, host: hostA } }, (r) => {
      let body = '';
      r.on('data', (c: Buffer) => (body += c.toString()));
      r.on('end', () => resolve({ status: r.statusCode!, body }));
    });
    req.on('error', reject);
    req.end(captured!.body);
  });
  assert.equal((JSON.parse(res.body) as { code: string }).code, 'signature.replayed', res.body);
  assert.equal(res.status, 401);
  assert.equal(upstream.seen.length, 1, 'the replay never reached the upstream');
});
