/**
 * A node's `portcullis.db-wal` deleted while the node runs: SQLite went on committing
 * into the unlinked WAL, admin changes were answered 201, `/readyz` stayed ready, and a
 * node that then died lost them (and every commit since the last checkpoint). Now no
 * write is acknowledged after the deletion: each fails 503 `store.unavailable` saying
 * the -wal was removed or replaced, and `/readyz` answers 503 `store.not-writable`
 * (reason PORTCULLIS_SQLITE_WAL_REPLACED) on both planes.
 */
import assert from 'node:assert/strict';
import { unlinkSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, test } from 'node:test';
import { startTestNode, type TestNode } from '../support/portcullis.js';

let node: TestNode | undefined;
afterEach(async () => {
  await node?.stop();
  node = undefined;
});

const createApp = (n: TestNode, name: string) =>
  fetch(`${n.urls.admin}/v1/apps`, { method: 'POST', headers: { authorization: `Bearer ${n.adminToken}`, 'content-type': 'application/json' }, body: JSON.stringify({ name, audiences: ['x'] }) });

test('the -wal file deleted under a running node: no write acknowledged, /readyz 503 store.not-writable', async () => {
  node = await startTestNode();
  assert.equal((await createApp(node, 'before')).status, 201);
  unlinkSync(join(node.dir, 'portcullis.db-wal'));
  for (let i = 0; i < 3; i++) {
    const r = await createApp(node, `after-${i}`);
    const body = (await r.json()) as Record<string, unknown>;
    assert.equal(r.status, 503, JSON.stringify(body));
    assert.equal(body['code'], 'store.unavailable');
    assert.equal(body['detail'], 'the database -wal file was removed or replaced; stop the node (a clean stop, not kill -9: closing writes the open -wal into the database file) and start it again');
  }
  for (const base of [node.urls.admin!, node.urls.identity!]) {
    const r = await fetch(`${base}/readyz`);
    const body = (await r.json()) as Record<string, unknown>;
    assert.equal(r.status, 503, base);
    assert.equal(body['code'], 'store.not-writable');
    assert.equal(body['reason'], 'PORTCULLIS_SQLITE_WAL_REPLACED');
  }
});
