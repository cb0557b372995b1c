/**
 * With the gateway on the main thread (`gateway.thread: false`) an admin change is
 * acknowledged only once it is in force there, as with the gateway thread: an event the
 * main thread fails to apply (here the store read of `app.changed`) makes it re-read the
 * store; when that fails too the admin call answers 503 `change.not-in-force` (audited)
 * and the gateway refuses every request with `gateway.not-in-sync` until a re-read
 * succeeds. The reconcile timer is an hour away, so nothing else brings the change.
 */
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { after, afterEach, before, describe, test } from 'node:test';
import { AUDIENCE, createApp, startPolicyNode, type PolicyNode, callWithToken, eventually } from './message-policy-support.js';

let p: PolicyNode;
type Store = Record<string, (...args: unknown[]) => Promise<unknown>>;

before(async () => {
  p = await startPolicyNode(
    `  - name: orders\n    match: { pathPrefix: /orders }\n    upstream: UPSTREAM\n    require: { token: { audience: ${AUDIENCE}, scopes: [orders:write] } }\n`,
    'gateway: { thread: false }\nrevocation: { reconcileInterval: 30m }\n',
  );
  assert.equal(p.node.gatewayThread, undefined, 'the gateway runs on the main thread');
});

/** Makes the store's `methods` fail until `heal`. */
function failing(...methods: string[]): void {
  const store = p.node.services.store as unknown as Store;
  for (const m of methods) store[m] = () => Promise.reject(new Error(`injected ${m} failure`));
}
function heal(): void {
  const store = p.node.services.store as unknown as Store;
  for (const m of ['getApp', 'listApps']) delete store[m];
}

afterEach(heal);
after(async () => {
  heal();
  await p.stop();
});

const admin = (path: string, init: RequestInit = {}) =>
  fetch(`${p.node.urls.admin}${path}`, { ...init, headers: { authorization: `Bearer ${p.node.adminToken}`, 'content-type': 'application/json', ...(init.headers ?? {}) } });

const call = (token: string, path?: string) => callWithToken(p.gateway, token, path);

describe('an admin change the main-thread gateway fails to apply', () => {
  test('the event fails but the re-read works: 200, and the app is disabled at the gateway at once', async () => {
    const a = await createApp(p.node, 'main-apply-fails');
    const other = await createApp(p.node, 'main-apply-fails-other');
    const token = await a.token();
    const otherToken = await other.token();
    failing('getApp');
    const r = await admin(`/v1/apps/${a.clientId}/disable`, { method: 'POST', body: '{}' });
    assert.equal(r.status, 200, await r.text());
    assert.deepEqual(await call(token), { status: 401, code: 'token.app-disabled' });
    assert.equal((await call(otherToken)).status, 200);
  });

  test('the event and the re-read fail: 503 change.not-in-force, audited, and the gateway refuses everything until a re-read succeeds', async () => {
    const a = await createApp(p.node, 'main-both-fail');
    const other = await createApp(p.node, 'main-both-fail-other');
    const token = await a.token();
    const otherToken = await other.token();
    assert.equal((await call(token)).status, 200);
    failing('getApp', 'listApps');
    const r = await admin(`/v1/apps/${a.clientId}/disable`, { method: 'POST', body: '{}' });
    assert.equal(r.status, 503);
    assert.equal(((await r.json()) as { code: string }).code, 'change.not-in-force');
    assert.deepEqual(await call(token), { status: 503, code: 'gateway.not-in-sync' });
    assert.deepEqual(await call(otherToken), { status: 503, code: 'gateway.not-in-sync' });
    assert.equal((await fetch(`${p.node.urls.admin}/readyz`)).status, 503);
    // it keeps retrying and still refuses a second later
    await sleep(1200);
    assert.deepEqual(await call(otherToken), { status: 503, code: 'gateway.not-in-sync' });
    await eventually('the refusal is audited', async () => {
      const rows = ((await (await admin('/v1/audit/tail?limit=100')).json()) as { rows: Array<{ type: string; reason: string | null; data: Record<string, unknown> | null }> }).rows;
      return rows.some((e) => e.type === 'gateway.change-not-in-force' && e.reason === 'change.not-in-force' && e.data?.['event'] === 'app.changed' && e.data['thread'] === 'main');
    });
    heal();
    await eventually('the gateway serves again', async () => (await call(otherToken)).status === 200);
    assert.deepEqual(await call(token), { status: 401, code: 'token.app-disabled' });
    assert.equal((await fetch(`${p.node.urls.admin}/readyz`)).status, 200);
  });
});
