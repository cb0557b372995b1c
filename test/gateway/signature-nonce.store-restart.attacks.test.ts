/**
 * Replay of a signed request across a restart of the nonce store. Nonces live in the
 * ephemeral store: a node's memory (`ephemeral: memory`) is gone when the node restarts,
 * and a Redis without persistence comes back empty. A request captured before that and
 * sent again while its signature is still young enough (`maxAge` + `clockSkew`) must not
 * pass as new: the store cannot tell whether its nonce was spent, so the gateway refuses
 * it with `signature.nonce-unverifiable` (fail closed). A request signed after the store
 * started passes.
 */
import assert from 'node:assert/strict';
import { request } from 'node:http';
import { after, describe, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { Redis } from 'ioredis';
import { randomRedisPrefix, redisUrl, serviceTest } from '../support/services.js';
import { startTestNode, testConfig, type TestNode } from '../support/portcullis.js';
import { startUpstream, type Upstream } from './helpers.js';
import { addSigningKey, sendSigned, type TestSigningKey } from './message-policy-support.js';

type Captured = { method: string; path: string; body: string | undefined; headers: Record<string, string> };

/** Sends a captured request again, byte for byte, to `gateway` with the Host it was signed for (`host`). */
function resend(gateway: string, host: string, c: Captured): Promise<{ status: number; code: string | undefined }> {
  return new Promise((resolve, reject) => {
    const req = request(gateway + c.path, { method: c.method, headers: { ...c.headers, host } }, (r) => {
      let body = '';
      r.on('data', (d: Buffer) => (body += d.toString()));
      r.on('end', () => resolve({ status: r.statusCode!, code: body.startsWith('{') ? (JSON.parse(body) as { code?: string }).code : undefined }));
    });
    req.on('error', reject);
    req.end(c.body);
  });
}

function routes(upstream: Upstream): string {
  return `routes:\n  - name: sig\n    match: { pathPrefix: /sig }\n    upstream: ${upstream.url}\n    require:\n      signature: {}\n`;
}

/** A signed request accepted now, and what was sent. */
async function acceptedSigned(gateway: string, k: TestSigningKey): Promise<Captured> {
  let captured: Captured | undefined;
  const first = await sendSigned(gateway, { path: '/sig/pay', body: '{"amount":5}', sign: { key: k.key, alg: k.alg, keyid: k.keyid }, tamper: (r) => (captured = structuredClone(r)) });
  assert.equal(first.status, 200, first.text);
  return captured!;
}

/** Waits into the next second: `created` has whole-second precision. */
const nextSecond = (): Promise<unknown> => sleep(1100);

describe('signature nonce: a node restart with ephemeral: memory', () => {
  test('the request captured before the restart is refused with 401 signature.nonce-unverifiable; one signed after it passes', async () => {
    const upstream = await startUpstream();
    const config = testConfig(routes(upstream));
    let node: TestNode | undefined = await startTestNode({ config, keepDir: true });
    const dir = node.dir;
    after(async () => {
      await node?.stop();
      await upstream.close();
    });
    const { app } = await node.services.apps.create({ name: 'restart-sig', audiences: ['orders-api'], scopes: [] }, 'test');
    const k = await addSigningKey(node, app.clientId, 'hmac-sha256');
    const captured = await acceptedSigned(node.urls.gateway!, k);
    const host = new URL(node.urls.gateway!).host;
    assert.deepEqual(await resend(node.urls.gateway!, host, captured), { status: 401, code: 'signature.replayed' });

    await node.close();
    node = await startTestNode({ config, dir });
    // the node listens on a new port; the captured request keeps the Host it was signed for
    assert.deepEqual(await resend(node.urls.gateway!, host, captured), { status: 401, code: 'signature.nonce-unverifiable' });
    assert.equal(upstream.seen.length, 1, 'the replay never reached the upstream');

    await nextSecond();
    await acceptedSigned(node.urls.gateway!, k);
    assert.equal(upstream.seen.length, 2);
  });
});

await serviceTest('redis', 'signature nonce: Redis restarted empty: the request captured before is refused with 401 signature.nonce-unverifiable on every node; one signed after passes', async () => {
  const upstream = await startUpstream();
  const prefix = randomRedisPrefix();
  const node = await startTestNode({ config: testConfig(`ephemeral: ${redisUrl()}\nephemeralPrefix: "${prefix}"\n${routes(upstream)}`) });
  const redis = new Redis(redisUrl());
  after(async () => {
    await node.stop();
    await upstream.close();
    redis.disconnect();
  });
  const { app } = await node.services.apps.create({ name: 'redis-restart-sig', audiences: ['orders-api'], scopes: [] }, 'test');
  const k = await addSigningKey(node, app.clientId, 'hmac-sha256');
  const captured = await acceptedSigned(node.urls.gateway!, k);

  // what a Redis restart without persistence leaves of this deployment's keys: nothing
  const keys = await redis.keys(`${prefix}*`);
  assert.ok(keys.length > 0);
  await redis.del(...keys);

  assert.deepEqual(await resend(node.urls.gateway!, new URL(node.urls.gateway!).host, captured), { status: 401, code: 'signature.nonce-unverifiable' });
  assert.equal(upstream.seen.length, 1, 'the replay never reached the upstream');

  await nextSecond();
  await acceptedSigned(node.urls.gateway!, k);
  assert.equal(upstream.seen.length, 2);
});
