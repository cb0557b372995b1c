/**
 * Replay of a TOTP code across a restart of the ephemeral store. RFC 6238 §5.2: "the
 * verifier MUST NOT accept the second attempt of the OTP after the successful
 * validation has been issued for the first OTP". A node's memory (`ephemeral: memory`)
 * is gone when the node restarts, and a Redis without persistence comes back empty: a
 * code accepted just before must still be refused after, with `mfa.code-replayed`, for
 * as long as it stays inside its window; the next step's code passes.
 */
import assert from 'node:assert/strict';
import { after, test } from 'node:test';
import { Redis } from 'ioredis';
import { enrolTotp, totpCode } from '../support/oidc-node.js';
import { startTestNode, testConfig, type TestNode } from '../support/portcullis.js';
import { randomRedisPrefix, redisUrl, serviceTest } from '../support/services.js';

const totpOf = (node: TestNode) => node.services.identity.factors.find((f) => f.id === 'totp')!;

const rejectsWith = (p: Promise<unknown>, code: string) => assert.rejects(p, (e: { code?: string }) => e.code === code);

test('attack: TOTP replay across a node restart (ephemeral: memory) — the code accepted before is refused after with mfa.code-replayed', async () => {
  const config = testConfig();
  let node: TestNode | undefined = await startTestNode({ config, keepDir: true });
  const dir = node.dir;
  after(async () => node?.stop());
  const u = await node.services.identity.users.add({ email: 'restart@example.test', password: 'plum tractor velvet orbit' }, 'test');
  const secret = await enrolTotp(node, u.id);
  // the next step's code: inside the ±1 window for the next minute and a half
  const code = totpCode(secret, Date.now() + 30_000);
  await totpOf(node).verify({ userId: u.id }, code);
  await rejectsWith(totpOf(node).verify({ userId: u.id }, code), 'mfa.code-replayed');

  await node.close();
  node = await startTestNode({ config, dir });
  await rejectsWith(totpOf(node).verify({ userId: u.id }, code), 'mfa.code-replayed');
});

await serviceTest('redis', 'attack: TOTP replay across a Redis restart without persistence — the code accepted before is refused after with mfa.code-replayed (needs Redis)', async () => {
  const prefix = randomRedisPrefix();
  const node = await startTestNode({ config: testConfig(`ephemeral: ${redisUrl()}\nephemeralPrefix: "${prefix}"\n`) });
  const redis = new Redis(redisUrl());
  after(async () => {
    await node.stop();
    redis.disconnect();
  });
  const u = await node.services.identity.users.add({ email: 'redis-restart@example.test', password: 'plum tractor velvet orbit' }, 'test');
  const secret = await enrolTotp(node, u.id);
  const code = totpCode(secret, Date.now() + 30_000);
  await totpOf(node).verify({ userId: u.id }, code);

  // what a Redis restart without persistence leaves of this deployment's keys: nothing
  const keys = await redis.keys(`${prefix}*`);
  assert.ok(keys.length > 0);
  await redis.del(...keys);

  await rejectsWith(totpOf(node).verify({ userId: u.id }, code), 'mfa.code-replayed');
});
