/**
 * A node's SQLite file deleted, or another file renamed over it, while the node runs:
 * before, better-sqlite3 went on writing into the unlinked inode, admin changes were
 * answered 201, `/readyz` stayed ready, and everything acknowledged was lost at the
 * next start. Now no write is acknowledged after the swap: each fails 503
 * `store.unavailable` saying the file was removed or replaced, and `/readyz` answers
 * 503 `store.not-writable` on both planes.
 */
import assert from 'node:assert/strict';
import { renameSync, unlinkSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, test } from 'node:test';
import { openDurableStore } from '../../src/store/index.js';
import { startTestNode, type TestNode } from '../support/portcullis.js';

let node: TestNode | undefined;
afterEach(async () => {
  await node?.stop();
  node = undefined;
});

const createApp = (n: TestNode, name: string) =>
  fetch(`${n.urls.admin}/v1/apps`, { method: 'POST', headers: { authorization: `Bearer ${n.adminToken}`, 'content-type': 'application/json' }, body: JSON.stringify({ name, audiences: ['x'] }) });

async function assertFailsClosed(n: TestNode): Promise<void> {
  for (let i = 0; i < 3; i++) {
    const r = await createApp(n, `after-${i}`);
    const body = (await r.json()) as Record<string, unknown>;
    assert.equal(r.status, 503, JSON.stringify(body));
    assert.equal(body['code'], 'store.unavailable');
    assert.match(String(body['detail']), /the database file was removed or replaced/);
  }
  for (const base of [n.urls.admin!, n.urls.identity!]) {
    const r = await fetch(`${base}/readyz`);
    const body = (await r.json()) as Record<string, unknown>;
    assert.equal(r.status, 503, base);
    assert.equal(body['code'], 'store.not-writable');
    assert.equal(body['reason'], 'PORTCULLIS_SQLITE_FILE_REPLACED');
  }
}

test('the database file deleted under a running node: no write acknowledged, /readyz 503 store.not-writable', async () => {
  node = await startTestNode();
  assert.equal((await createApp(node, 'before')).status, 201);
  unlinkSync(join(node.dir, 'portcullis.db'));
  await assertFailsClosed(node);
});

test('another SQLite file renamed over it: no write acknowledged, /readyz 503 store.not-writable', async () => {
  node = await startTestNode();
  assert.equal((await createApp(node, 'before')).status, 201);
  const other = await openDurableStore(`sqlite:${join(node.dir, 'other.db')}`);
  await other.close();
  renameSync(join(node.dir, 'other.db'), join(node.dir, 'portcullis.db'));
  await assertFailsClosed(node);
});
