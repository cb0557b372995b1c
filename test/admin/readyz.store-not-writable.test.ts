/**
 * `/readyz` on the admin and identity planes answers 503 `store.not-writable` while the
 * node's SQLite file cannot take writes, and ready again once it can, by itself: before,
 * it answered ready on a full disk (its check was a `select 1`), and a load balancer kept
 * sending sign-ins and admin changes to a node that failed every one of them.
 *
 * The node's directory is a 32 MiB tmpfs filled to the last byte (a real ENOSPC: the tests
 * run as root, whom a chmod would not stop); skipped, with the reason, where no tmpfs can
 * be mounted.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { startTestNode, testConfig, type TestNode } from '../support/portcullis.js';
import { mountTmpfs, type Tmpfs } from '../support/tmpfs.js';

const mounted = mountTmpfs('32m');
const fs = typeof mounted === 'string' ? undefined : mounted;
let node: TestNode;

async function readyz(base: string): Promise<{ status: number; type: string | null; body: Record<string, unknown> }> {
  const r = await fetch(`${base}/readyz`);
  return { status: r.status, type: r.headers.get('content-type'), body: (await r.json()) as Record<string, unknown> };
}

if (fs === undefined) {
  test(`/readyz on a full disk [skipped: ${mounted as string}]`, { skip: mounted as string }, () => undefined);
} else {
  const t: Tmpfs = fs;
  before(async () => {
    node = await startTestNode({ dir: t.dir, keepDir: true, config: testConfig() });
  });
  after(async () => {
    t.free();
    await node?.stop();
    t.unmount();
  });

  test('a full disk: an admin change fails, /readyz answers 503 store.not-writable (problem+json) on both planes; space freed, ready again by itself', async () => {
    const planes = [node.urls.admin!, node.urls.identity!];
    for (const base of planes) assert.deepEqual(await readyz(base), { status: 200, type: 'application/json; charset=utf-8', body: { status: 'ready' } });
    t.fill();
    const change = await fetch(`${node.urls.admin}/v1/apps`, { method: 'POST', headers: { authorization: `Bearer ${node.adminToken}`, 'content-type': 'application/json' }, body: JSON.stringify({ name: 'on-a-full-disk', audiences: ['x'] }) });
    assert.equal(change.status, 503, await change.text());
    for (const base of planes) {
      const r = await readyz(base);
      assert.equal(r.status, 503, base);
      assert.match(r.type ?? '', /^application\/problem\+json\b/);
      assert.equal(r.body['code'], 'store.not-writable');
      assert.equal(r.body['status'], 503);
      assert.equal(r.body['reason'], 'SQLITE_FULL');
      assert.equal(r.body['type'], 'urn:portcullis:error:store.not-writable');
    }
    // still full two probes later: still not ready
    await sleep(4200);
    assert.equal((await readyz(node.urls.admin!)).status, 503);
    t.free();
    const until = Date.now() + 10_000;
    while ((await readyz(node.urls.admin!)).status !== 200 && Date.now() < until) await sleep(100);
    for (const base of planes) assert.deepEqual(await readyz(base), { status: 200, type: 'application/json; charset=utf-8', body: { status: 'ready' } });
    const again = await fetch(`${node.urls.admin}/v1/apps`, { method: 'POST', headers: { authorization: `Bearer ${node.adminToken}`, 'content-type': 'application/json' }, body: JSON.stringify({ name: 'after-the-disk-was-freed', audiences: ['x'] }) });
    assert.equal(again.status, 201, await again.text());
  });
}
