/**
 * `GET /v1/certificates?expiring_within=…`: a window too large to be a time (ten
 * thousand years and more) is the client's mistake, answered 400 request.invalid naming
 * the parameter. It reached the store as an instant beyond PostgreSQL's bigint, which
 * failed the query: 503 store.unavailable, as if the database were down.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { serviceTest, createTempPostgresDatabase } from '../support/services.js';
import { startTestNode, type TestNode } from './node.js';

const HUGE = ['99999999999999999999d', '3651d', '99999999999h'];

async function expectRefused(t: TestNode): Promise<void> {
  for (const w of HUGE) {
    const r = await t.api(`/v1/certificates?expiring_within=${w}`);
    assert.equal(r.status, 400, `${w}: ${JSON.stringify(r.body)}`);
    assert.equal(r.body.code, 'request.invalid');
    assert.deepEqual(r.body.errors.map((e: { path: string }) => e.path), ['expiring_within']);
  }
  const ok = await t.api('/v1/certificates?expiring_within=3650d');
  assert.equal(ok.status, 200, JSON.stringify(ok.body));
}

describe('admin API: certificate inventory query bounds (SQLite)', () => {
  let t: TestNode;
  before(async () => {
    t = await startTestNode();
  });
  after(() => t.close());

  test('expiring_within beyond 3650d → 400 request.invalid naming expiring_within', async () => {
    await expectRefused(t);
  });
});

await serviceTest('postgres', 'attack: expiring_within=99999999999999999999d on PostgreSQL → 400 request.invalid, not 503 store.unavailable', async () => {
  const db = await createTempPostgresDatabase();
  process.env.PORTCULLIS_STORE = db.url;
  let t: TestNode | undefined;
  try {
    t = await startTestNode();
    await expectRefused(t);
  } finally {
    delete process.env.PORTCULLIS_STORE;
    await t?.close();
    await db.drop();
  }
});
