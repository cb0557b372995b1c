/**
 * Two nodes on one PostgreSQL and one Redis; node A's PostgreSQL connections run through
 * a relay the test cuts. A write whose connection breaks under it, and a write made while
 * the link is cut, fail with 503 `store.unavailable` (never a 500, never the process
 * ended by the driver's error event); once the link is back A writes again without a
 * restart (its pool makes new connections), and every write A acknowledged is in the store.
 */
import { after } from 'node:test';
import assert from 'node:assert/strict';
import { createTempPostgresDatabase, randomRedisPrefix, redisUrl, serviceTest } from '../support/services.js';
import { startTestNode, testConfig, type TestNode } from '../support/portcullis.js';
import { openRelay } from '../support/tcp-relay.js';
import { startPeer, waitFor } from './helpers.js';

/** `postgres.statementTimeout` below plus room for a slow machine. */
const BOUND_MS = 8000;

const config = (store: string, prefix: string): string => testConfig(`store: ${store}\npostgres: { statementTimeout: 2s }\nephemeral: ${redisUrl()}\nephemeralPrefix: "${prefix}"\n`);

const name = 'a node whose PostgreSQL link breaks under a query or is cut answers writes 503 store.unavailable, writes again once it is back, and loses no acknowledged write';
await serviceTest(['postgres', 'redis'], name, async () => {
  const db = await createTempPostgresDatabase();
  const relay = await openRelay(db.url);
  const prefix = randomRedisPrefix();
  let a: TestNode | undefined;
  let b: TestNode | undefined;
  after(async () => {
    await a?.stop();
    await b?.stop();
    await relay.close();
    await db.drop();
  });
  a = await startTestNode({ config: config(relay.url, prefix) });
  b = await startPeer(a, config(db.url, prefix));

  const acknowledged: string[] = [];
  const createApp = async (n: string): Promise<{ status: number; ms: number; body: { code?: string; client_id?: string } }> => {
    const start = Date.now();
    const r = await fetch(`${a!.urls.admin}/v1/apps`, { method: 'POST', headers: { authorization: `Bearer ${a!.adminToken}`, 'content-type': 'application/json' }, body: JSON.stringify({ name: n, audiences: ['orders-api'], scopes: [] }) });
    const body = (await r.json()) as { code?: string; client_id?: string };
    if (r.status === 201 || r.status === 200) acknowledged.push(body.client_id!);
    return { status: r.status, ms: Date.now() - start, body };
  };
  const first = await createApp('before');
  assert.ok(first.status === 201 || first.status === 200, JSON.stringify(first.body));

  // A write in flight when its connection breaks (the link goes silent mid-query, then resets).
  relay.stall();
  const pending = createApp('in-flight');
  await new Promise((r) => setTimeout(r, 500));
  relay.cut();
  const broken = await pending;
  assert.equal(broken.status, 503, JSON.stringify(broken.body));
  assert.equal(broken.body.code, 'store.unavailable');
  relay.restore();
  await waitFor('node A writes again after a broken query', async () => [200, 201].includes((await createApp('after-broken')).status), 10_000);

  // A write made while the link is cut.
  relay.cut();
  const down = await createApp('during-cut');
  assert.equal(down.status, 503, JSON.stringify(down.body));
  assert.equal(down.body.code, 'store.unavailable');
  assert.ok(down.ms < BOUND_MS, `the write took ${down.ms} ms`);
  relay.restore();
  await waitFor('node A writes again after the cut', async () => [200, 201].includes((await createApp('after-cut')).status), 10_000);

  const stored = new Set((await b.services.store.listApps()).map((x) => x.clientId));
  for (const id of acknowledged) assert.ok(stored.has(id), `acknowledged app ${id} is in the store`);
  assert.equal(acknowledged.length, 3);
});
