/**
 * An event from another node (Redis pub/sub) that the gateway thread fails to apply is
 * not dropped: no admin call waits for it, so the thread itself re-reads the store, and
 * while it cannot, it refuses every request (`gateway.not-in-sync`) and `/readyz` answers 503
 * with that code (before, the main thread did not know, and answered ready). Before, the failure
 * was only logged and the revoked token passed until the next reconcile (an hour here).
 * "Another node" is an event published on the cluster channel under a node id that is
 * not this node's, after the change was stored, as that node would do.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { decodeJwt } from 'jose';
import { createApp, faultyGatewayThread, type PolicyNode, callWithToken, eventually } from './message-policy-support.js';
import { randomRedisPrefix, redisUrl, serviceDescribe } from '../support/services.js';

let p: PolicyNode;

const call = (token: string, path?: string) => callWithToken(p.gateway, token, path);

/** Stores a token's revocation and announces it as another node would, without this node's own event. */
async function revokeOnAnotherNode(token: string): Promise<void> {
  const claims = decodeJwt(token) as { jti: string; client_id: string; exp: number };
  const s = p.node.services;
  await s.store.revokeToken({ jti: claims.jti, clientId: claims.client_id, expiresAt: claims.exp * 1000, revokedAt: Date.now() });
  await s.ephemeral.publish('events', JSON.stringify({ node: 'another-node', event: { type: 'token.revoked', jti: claims.jti, clientId: claims.client_id, expiresAt: claims.exp * 1000 } }));
}

await serviceDescribe('redis', 'an event from another node that the gateway thread fails to apply', () => {
  const { faults } = faultyGatewayThread<{ apply?: boolean; reconcile?: boolean }>((node) => (p = node), `ephemeral: ${redisUrl()}\nephemeralPrefix: "${randomRedisPrefix()}"\n`);

  describe('the gateway thread', () => {
    test('fails to apply a token revocation from another node: it re-reads the store, and the revoked token is refused', async () => {
      const token = await (await createApp(p.node, 'remote-apply-fails')).token();
      const other = await (await createApp(p.node, 'remote-apply-fails-other')).token();
      assert.equal((await call(token)).status, 200);
      faults({ apply: true });
      await revokeOnAnotherNode(token);
      await eventually('the revoked token is refused', async () => (await call(token)).status === 401);
      assert.deepEqual(await call(token), { status: 401, code: 'token.revoked' });
      assert.equal((await call(other)).status, 200, 'other apps keep working');
    });

    test('can neither apply it nor re-read the store: it refuses every request until it has re-read, then refuses only the revoked token', async () => {
      const token = await (await createApp(p.node, 'remote-reread-fails')).token();
      const other = await (await createApp(p.node, 'remote-reread-fails-other')).token();
      assert.equal((await call(other)).status, 200);
      faults({ apply: true, reconcile: true });
      await revokeOnAnotherNode(token);
      await eventually('the gateway refuses everything', async () => (await call(other)).status === 503);
      assert.deepEqual(await call(other), { status: 503, code: 'gateway.not-in-sync' });
      assert.equal((await call(token)).status, 503);
      // and the node says so: a load balancer stops sending it traffic meanwhile
      const notReady = await fetch(`${p.node.urls.admin}/readyz`);
      assert.equal(notReady.status, 503);
      assert.equal(((await notReady.json()) as { code: string }).code, 'gateway.not-in-sync');
      faults({});
      await eventually('the gateway serves again after a re-read', async () => (await call(other)).status === 200, 15_000);
      await eventually('the node is ready again', async () => (await fetch(`${p.node.urls.admin}/readyz`)).status === 200);
      assert.deepEqual(await call(token), { status: 401, code: 'token.revoked' });
      await p.node.services.audit.flush();
      const rows = await p.node.services.store.tailAudit(200);
      assert.ok(rows.some((r) => r.type === 'gateway.change-not-in-force' && r.data?.['via'] === 'subscription' && r.data['event'] === 'token.revoked'));
    });
  });
});
