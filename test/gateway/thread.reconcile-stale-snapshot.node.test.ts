/**
 * The gateway thread (`gateway.thread: true`) keeps its own apps and revocations and
 * re-reads them from its own store connection. A re-read held (tests only:
 * PORTCULLIS_TEST_GATEWAY_THREAD_FAULTS, `"reconcile-read": "hold"`) between its read and
 * its install while an admin change reaches the thread must not undo that change when it
 * installs. The reconcile timer is an hour away.
 */
import assert from 'node:assert/strict';
import { existsSync, rmSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import { describe, test } from 'node:test';
import { AUDIENCE, createApp, faultyGatewayThread, type PolicyNode, callWithToken } from './message-policy-support.js';
import { basic, postForm } from '../support/portcullis.js';

let p: PolicyNode;
const { faults, file: faultsFile } = faultyGatewayThread<{ 'reconcile-read'?: 'hold' }>((node) => (p = node));


const admin = (path: string, body?: unknown) =>
  fetch(`${p.node.urls.admin}${path}`, { method: 'POST', headers: { authorization: `Bearer ${p.node.adminToken}`, 'content-type': 'application/json' }, body: JSON.stringify(body ?? {}) });

const call = (token: string, path?: string) => callWithToken(p.gateway, token, path);

/** Runs a thread re-read held after its read until `meanwhile` (the admin change) has finished. */
async function threadReconcileAround(meanwhile: () => Promise<void>): Promise<void> {
  rmSync(`${faultsFile}.read`, { force: true });
  faults({ 'reconcile-read': 'hold' });
  const reconciling = p.node.gatewayThread!.reconcile();
  try {
    const until = Date.now() + 5000;
    while (!existsSync(`${faultsFile}.read`)) {
      assert.ok(Date.now() < until, 'the thread read the store');
      await sleep(10);
    }
    await meanwhile();
  } finally {
    faults({});
    await reconciling;
  }
}

describe('a gateway thread re-read whose store read began before an admin change', () => {
  test('app disabled during the read: its tokens stay refused as token.app-disabled', async () => {
    const a = await createApp(p.node, 'thread-disabled-during-reconcile');
    const token = await a.token();
    assert.equal((await call(token)).status, 200);
    await threadReconcileAround(async () => {
      const r = await admin(`/v1/apps/${a.clientId}/disable`);
      assert.equal(r.status, 200, await r.text());
    });
    assert.deepEqual(await call(token), { status: 401, code: 'token.app-disabled' });
  });

  test('app enabled during the read: a new token passes the gateway', async () => {
    const a = await createApp(p.node, 'thread-enabled-during-reconcile');
    assert.equal((await admin(`/v1/apps/${a.clientId}/disable`)).status, 200);
    // (disabling revokes every token issued before it; iat counts whole seconds)
    await sleep(1100);
    await threadReconcileAround(async () => {
      const r = await admin(`/v1/apps/${a.clientId}/enable`);
      assert.equal(r.status, 200, await r.text());
    });
    const fresh = await postForm(`${p.node.urls.identity}/oauth2/token`, { grant_type: 'client_credentials', scope: 'orders:write', resource: AUDIENCE }, { authorization: basic(a.clientId, a.secret) });
    assert.equal(fresh.status, 200, JSON.stringify(fresh.body));
    assert.deepEqual(await call(fresh.body.access_token as string), { status: 200, code: undefined });
  });

  test('token revoked during the read: it stays refused as token.revoked', async () => {
    const a = await createApp(p.node, 'thread-revoked-during-reconcile');
    const token = await a.token();
    assert.equal((await call(token)).status, 200);
    await threadReconcileAround(async () => {
      const r = await admin('/v1/tokens/revoke', { token });
      assert.equal(r.status, 200, await r.text());
    });
    assert.deepEqual(await call(token), { status: 401, code: 'token.revoked' });
  });
});
