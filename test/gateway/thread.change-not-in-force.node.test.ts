/**
 * An admin change is acknowledged only once it is in force on the gateway thread
 * (`gateway.thread: true`, src/gateway/thread.ts). A fault injected into the thread
 * (tests only: PORTCULLIS_TEST_GATEWAY_THREAD_FAULTS names a file the thread reads)
 * makes it fail to apply events, or to re-read the store too, or hang. A revoked token must
 * never pass the gateway after the admin API answered: either the thread re-read the
 * store first (200), or the admin API answers 503 `change.not-in-force` and the gateway
 * refuses every request until it has re-read the store. The reconcile timer is an hour
 * away, so nothing else brings the change.
 */
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { describe, test } from 'node:test';
import { createApp, faultyGatewayThread, type PolicyNode, callWithToken, eventually } from './message-policy-support.js';

let p: PolicyNode;
const { faults } = faultyGatewayThread<{ apply?: boolean | 'hang'; reconcile?: boolean; listening?: number }>((node) => (p = node));

const admin = (path: string, init: RequestInit = {}) =>
  fetch(`${p.node.urls.admin}${path}`, { ...init, headers: { authorization: `Bearer ${p.node.adminToken}`, 'content-type': 'application/json', ...(init.headers ?? {}) } });

const call = (token: string, path?: string) => callWithToken(p.gateway, token, path);

describe('an admin change the gateway thread fails to apply', () => {
  test('a normal revocation answers 200 and is in force at the gateway from the next request on', async () => {
    const a = await createApp(p.node, 'normal');
    const token = await a.token();
    assert.equal((await call(token)).status, 200);
    const rv = await admin('/v1/tokens/revoke', { method: 'POST', body: JSON.stringify({ token }) });
    assert.equal(rv.status, 200, await rv.text());
    assert.deepEqual(await call(token), { status: 401, code: 'token.revoked' });
  });

  test('the thread fails to apply a revocation: it re-reads the store before the admin API answers 200, so the revoked token is refused at once', async () => {
    const a = await createApp(p.node, 'apply-fails');
    const other = await createApp(p.node, 'apply-fails-other');
    const token = await a.token();
    const otherToken = await other.token();
    assert.equal((await call(token)).status, 200);
    faults({ apply: true });
    const rv = await admin('/v1/tokens/revoke', { method: 'POST', body: JSON.stringify({ token }) });
    assert.equal(rv.status, 200, await rv.text());
    assert.deepEqual(await call(token), { status: 401, code: 'token.revoked' });
    assert.equal((await call(otherToken)).status, 200);
    assert.equal(p.node.gatewayThread!.alive, true);
  });

  test('the thread can neither apply a revocation nor re-read the store: 503 change.not-in-force, audited, and the gateway refuses everything until it has re-read the store', async () => {
    const a = await createApp(p.node, 'both-fail');
    const other = await createApp(p.node, 'both-fail-other');
    const token = await a.token();
    const otherToken = await other.token();
    assert.equal((await call(token)).status, 200);
    faults({ apply: true, reconcile: true });
    const rv = await admin('/v1/tokens/revoke', { method: 'POST', body: JSON.stringify({ token }) });
    assert.equal(rv.status, 503);
    assert.equal(((await rv.json()) as { code: string }).code, 'change.not-in-force');
    // no request passes while the thread has not read the change: not the revoked token, not any other
    assert.deepEqual(await call(token), { status: 503, code: 'gateway.not-in-sync' });
    assert.deepEqual(await call(otherToken), { status: 503, code: 'gateway.not-in-sync' });
    assert.equal((await fetch(`${p.node.urls.admin}/readyz`)).status, 503);
    assert.equal(p.node.gatewayThread!.alive, false);
    // the thread keeps retrying; it still refuses a second later
    await sleep(1200);
    assert.deepEqual(await call(token), { status: 503, code: 'gateway.not-in-sync' });
    await eventually('the refusal is audited', async () => {
      const rows = ((await (await admin('/v1/audit/tail?limit=100')).json()) as { rows: Array<{ type: string; reason: string | null; data: Record<string, unknown> | null }> }).rows;
      return rows.some((e) => e.type === 'gateway.change-not-in-force' && e.reason === 'change.not-in-force' && e.data?.['event'] === 'token.revoked' && e.data['gateway'] === 'refusing');
    });
    // the store is readable again: the thread re-reads it, serves, and the revoked token stays refused
    faults({ apply: true });
    await eventually('the thread serves again', async () => p.node.gatewayThread!.alive);
    assert.deepEqual(await call(token), { status: 401, code: 'token.revoked' });
    assert.equal((await call(otherToken)).status, 200);
    assert.equal((await fetch(`${p.node.urls.admin}/readyz`)).status, 200);
  });

  test('a thread that does not answer within 10 s: 503 change.not-in-force, audited; it is stopped, the gateway refuses connections, and the new thread refuses the revoked token', async () => {
    const a = await createApp(p.node, 'hangs');
    const other = await createApp(p.node, 'hangs-other');
    const token = await a.token();
    const otherToken = await other.token();
    assert.equal((await call(token)).status, 200);
    faults({ apply: 'hang' });
    const rv = await admin('/v1/tokens/revoke', { method: 'POST', body: JSON.stringify({ token }) });
    assert.equal(rv.status, 503);
    assert.equal(((await rv.json()) as { code: string }).code, 'change.not-in-force');
    faults({});
    assert.equal(p.node.gatewayThread!.alive, false);
    assert.equal((await fetch(`${p.node.urls.admin}/readyz`)).status, 503);
    await assert.rejects(call(token), 'the stopped thread’s listener is gone');
    await eventually('a new gateway thread serves', async () => p.node.gatewayThread!.alive, 15_000);
    assert.deepEqual(await call(token), { status: 401, code: 'token.revoked' });
    assert.equal((await call(otherToken)).status, 200);
    const rows = ((await (await admin('/v1/audit/tail?limit=100')).json()) as { rows: Array<{ type: string; data: Record<string, unknown> | null }> }).rows;
    assert.ok(rows.some((e) => e.type === 'gateway.change-not-in-force' && e.data?.['gateway'] === 'restarting' && e.data['thread'] === 'did-not-answer'));
  });

  test('a revocation made while a new thread starts (after it read the store, before it is confirmed) is in force before it serves anyone', async () => {
    const a = await createApp(p.node, 'restart-window');
    const token = await a.token();
    assert.equal((await call(token)).status, 200);
    const thread = p.node.gatewayThread!;
    // the new thread reads the store, listens, then waits 2 s before it reports; it cannot apply events
    faults({ apply: true, listening: 2000 });
    await thread.terminate();
    let before: { status: number; code: string | undefined } | undefined;
    await eventually('the new thread listens', async () => {
      before = await call(token).catch(() => undefined);
      return before !== undefined;
      // a restart starts a worker with its own module graph: seconds on a loaded 2-core machine
    }, 30_000);
    assert.deepEqual(before, { status: 503, code: 'gateway.not-in-sync' }, 'a thread the main thread has not confirmed serves nobody');
    assert.equal(thread.alive, false);
    const rv = await admin('/v1/tokens/revoke', { method: 'POST', body: JSON.stringify({ token }) });
    assert.equal(rv.status, 200, await rv.text());
    // from the answer on, the token never passes: refused while the thread is confirmed, revoked once it serves
    while (!thread.alive) {
      const r = await call(token);
      assert.notEqual(r.status, 200, 'the revoked token passed a starting thread');
      await sleep(50);
    }
    assert.deepEqual(await call(token), { status: 401, code: 'token.revoked' });
    assert.equal((await call(await (await createApp(p.node, 'restart-window-other')).token())).status, 200);
  });
});
