/**
 * A reconcile reads apps and revocations from the store and installs what it read. An
 * admin change applied (by its event) while that read is in flight is newer than the
 * snapshot: installing the snapshot must not undo it. The store's read is held open
 * here, so the change lands exactly between the reconcile's read and its install.
 * Gateway on the main thread (`gateway.thread: false`), reconcile timer an hour away.
 */
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { after, before, describe, test } from 'node:test';
import { AUDIENCE, createApp, startPolicyNode, type PolicyNode, callWithToken, reconcileAround } from './message-policy-support.js';
import { basic, postForm } from '../support/portcullis.js';

let p: PolicyNode;

before(async () => {
  p = await startPolicyNode(
    `  - name: orders\n    match: { pathPrefix: /orders }\n    upstream: UPSTREAM\n    require: { token: { audience: ${AUDIENCE}, scopes: [orders:write] } }\n`,
    'gateway: { thread: false }\nrevocation: { reconcileInterval: 30m }\n',
  );
  assert.equal(p.node.gatewayThread, undefined, 'the gateway runs on the main thread');
});

after(() => p.stop());

const admin = (path: string, body?: unknown) =>
  fetch(`${p.node.urls.admin}${path}`, { method: 'POST', headers: { authorization: `Bearer ${p.node.adminToken}`, 'content-type': 'application/json' }, body: JSON.stringify(body ?? {}) });

const call = (token: string, path?: string) => callWithToken(p.gateway, token, path);

const tokenFor = (clientId: string, secret: string) =>
  postForm(`${p.node.urls.identity}/oauth2/token`, { grant_type: 'client_credentials', scope: 'orders:write', resource: AUDIENCE }, { authorization: basic(clientId, secret) });

describe('a reconcile whose store read began before an admin change', () => {
  test('app disabled during the read: its tokens stay refused as token.app-disabled and it gets no new token', async () => {
    const a = await createApp(p.node, 'disabled-during-reconcile');
    const token = await a.token();
    assert.equal((await call(token)).status, 200);
    await reconcileAround(p.node, 'listApps', async () => {
      const r = await admin(`/v1/apps/${a.clientId}/disable`);
      assert.equal(r.status, 200, await r.text());
    });
    assert.deepEqual(await call(token), { status: 401, code: 'token.app-disabled' });
    const fresh = await tokenFor(a.clientId, a.secret);
    assert.equal(fresh.status, 401);
    assert.equal(fresh.body.error, 'invalid_client');
  });

  test('app enabled during the read: it stays enabled, a new token passes the gateway', async () => {
    const a = await createApp(p.node, 'enabled-during-reconcile');
    assert.equal((await admin(`/v1/apps/${a.clientId}/disable`)).status, 200);
    // (disabling revokes every token issued before it; iat counts whole seconds)
    await sleep(1100);
    await reconcileAround(p.node, 'listApps', async () => {
      const r = await admin(`/v1/apps/${a.clientId}/enable`);
      assert.equal(r.status, 200, await r.text());
    });
    const fresh = await tokenFor(a.clientId, a.secret);
    assert.equal(fresh.status, 200, JSON.stringify(fresh.body));
    assert.deepEqual(await call(fresh.body.access_token as string), { status: 200, code: undefined });
  });

  test('secret rotated during the read: the old secret is refused as invalid_client, the new one works', async () => {
    const a = await createApp(p.node, 'rotated-during-reconcile');
    let rotated = '';
    await reconcileAround(p.node, 'listApps', async () => {
      const r = await admin(`/v1/apps/${a.clientId}/rotate-secret`);
      assert.equal(r.status, 200);
      rotated = ((await r.json()) as { client_secret: string }).client_secret;
    });
    const old = await tokenFor(a.clientId, a.secret);
    assert.equal(old.status, 401);
    assert.equal(old.body.error, 'invalid_client');
    assert.equal((await tokenFor(a.clientId, rotated)).status, 200);
  });

  test('token revoked during the read: it stays refused as token.revoked', async () => {
    const a = await createApp(p.node, 'revoked-during-reconcile');
    const token = await a.token();
    assert.equal((await call(token)).status, 200);
    await reconcileAround(p.node, 'listRevokedTokens', async () => {
      const r = await admin('/v1/tokens/revoke', { token });
      assert.equal(r.status, 200, await r.text());
    });
    assert.deepEqual(await call(token), { status: 401, code: 'token.revoked' });
  });
});
