/**
 * The gateway thread has its own connection to the store (gateway/thread.ts). When that
 * connection cannot read — its periodic re-read of apps, revocations and keys fails — the
 * node's `/readyz` answers 503 `store.unavailable` naming the thread, and ready again
 * after the next re-read succeeds. Before, `/readyz` checked the main thread's connection
 * only and answered ready. The gateway itself keeps serving from memory meanwhile (its
 * checks need no store); the re-read failure is injected (tests only:
 * PORTCULLIS_TEST_GATEWAY_THREAD_FAULTS) on the thread alone, the main thread reads fine.
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { writeFileSync } from 'node:fs';
import { after, before, describe, test } from 'node:test';
import { AUDIENCE, createApp, callWithToken, eventually, startPolicyNode, type PolicyNode } from './message-policy-support.js';
import { tempDir } from '../support/portcullis.js';

const file = join(tempDir('portcullis-thread-faults-'), 'faults.json');
const faults = (f: { reconcile?: boolean }): void => writeFileSync(file, JSON.stringify(f));
let p: PolicyNode;

async function readyz(): Promise<{ status: number; code?: string; detail?: string }> {
  const r = await fetch(`${p.node.urls.admin}/readyz`);
  const body = (await r.json()) as { code?: string; detail?: string };
  return { status: r.status, ...(body.code !== undefined ? { code: body.code, detail: body.detail! } : {}) };
}

describe('the gateway thread cannot read the store', () => {
  before(async () => {
    faults({});
    p = await startPolicyNode(
      `  - name: orders\n    match: { pathPrefix: /orders }\n    upstream: UPSTREAM\n    require: { token: { audience: ${AUDIENCE}, scopes: [orders:write] } }\n`,
      'gateway: { thread: true }\nrevocation: { reconcileInterval: 200ms }\n',
      { env: { PORTCULLIS_TEST_GATEWAY_THREAD_FAULTS: file } },
    );
    assert.ok(p.node.gatewayThread, 'the node runs its gateway on a thread');
  });
  after(async () => {
    faults({});
    await p?.stop();
  });

  test('its periodic re-read fails: /readyz answers 503 store.unavailable naming the thread; once a re-read succeeds, ready', async () => {
    const token = await (await createApp(p.node, 'thread-reads')).token();
    assert.deepEqual(await readyz(), { status: 200 });
    faults({ reconcile: true });
    await eventually('the node is not ready', async () => (await readyz()).status === 503);
    assert.deepEqual(await readyz(), { status: 503, code: 'store.unavailable', detail: 'the gateway thread cannot read apps, revocations and keys from the store' });
    assert.equal((await callWithToken(p.gateway, token)).status, 200, 'the gateway serves from memory meanwhile');
    faults({});
    await eventually('the node is ready again', async () => (await readyz()).status === 200);
  });
});
