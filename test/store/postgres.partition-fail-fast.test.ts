/**
 * A network partition between a node and its PostgreSQL (packets silently dropped: the
 * relay stalls, test/support/tcp-relay.ts). Once a connect or a statement has timed out,
 * the store is taken for down: every request that needs it is answered 503
 * `store.unavailable` with `Retry-After` at once, instead of each waiting out the 5 s
 * connect timeout (or the pool queue behind it); `/readyz` says so. A background probe
 * (one at a time) sees the link come back, and the node writes again within a second or
 * two, without a restart.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { sql } from 'kysely';
import { PortcullisError } from '../../src/core/errors.js';
import { openPostgres, POOL_MAX, POOL_MAX_WAITING } from '../../src/store/durable/postgres.js';
import { storeError } from '../../src/store/durable/store-error.js';
import { StoreBreaker } from '../../src/store/durable/breaker.js';
import { startTestNode, testConfig, type TestNode } from '../support/portcullis.js';
import { createTempPostgresDatabase, serviceTest } from '../support/services.js';
import { openRelay } from '../support/tcp-relay.js';

/** A refusal is immediate; this leaves room for a noisy 2-core host (the connect timeout is 5 s). */
const FAST_MS = 1500;
/** From the link's return to the first write that succeeds. */
const RECOVER_MS = 3000;

interface Answer {
  status: number;
  code: string | undefined;
  retryAfter: string | null;
  took: number;
}

async function call(url: string, init: RequestInit = {}): Promise<Answer> {
  const started = Date.now();
  const res = await fetch(url, { ...init, signal: AbortSignal.timeout(20_000) });
  const text = await res.text();
  const took = Date.now() - started;
  const code = res.headers.get('content-type')?.startsWith('application/problem+json') ? (JSON.parse(text) as { code: string }).code : undefined;
  return { status: res.status, code, retryAfter: res.headers.get('retry-after'), took };
}

await serviceTest('postgres', 'partition to PostgreSQL: after the first failure, writes, reads and /readyz answer 503 store.unavailable with Retry-After in well under the connect timeout; the node writes again within 3 s of the link returning', async () => {
  const db = await createTempPostgresDatabase();
  const relay = await openRelay(db.url);
  let node: TestNode | undefined;
  try {
    node = await startTestNode({ config: testConfig(`store: ${relay.url}\npostgres: { statementTimeout: 1s }\n`) });
    const admin = node.urls.admin!;
    const headers = { authorization: `Bearer ${node.adminToken}`, 'content-type': 'application/json' };
    let n = 0;
    const write = () => call(`${admin}/v1/apps`, { method: 'POST', headers, body: JSON.stringify({ name: `app-${n++}`, audiences: ['x'] }) });
    const read = () => call(`${admin}/v1/apps`, { headers: { authorization: headers.authorization } });
    const ready = () => call(`${admin}/readyz`);
    assert.equal((await write()).status, 201);

    relay.stall();
    const first = await write();
    assert.equal(first.status, 503);
    assert.equal(first.code, 'store.unavailable');

    const burst = await Promise.all([...Array.from({ length: 10 }, write), ...Array.from({ length: 5 }, read), ready()]);
    const slow = burst.filter((a) => a.took >= FAST_MS).map((a) => a.took);
    assert.deepEqual(slow, [], `requests answered after ${FAST_MS} ms or more`);
    for (const [i, a] of burst.entries()) {
      assert.equal(a.status, 503, `request ${i}`);
      assert.equal(a.code, 'store.unavailable', `request ${i}`);
      assert.match(a.retryAfter ?? '', /^[1-9][0-9]*$/, `request ${i}: Retry-After`);
    }

    relay.restore();
    const restored = Date.now();
    let last: Answer | undefined;
    while (Date.now() - restored < RECOVER_MS + 2000) {
      last = await write();
      if (last.status === 201) break;
      await new Promise((r) => setTimeout(r, 100));
    }
    assert.equal(last?.status, 201, `no write succeeded after the link returned: ${JSON.stringify(last)}`);
    assert.ok(Date.now() - restored <= RECOVER_MS, `the first write succeeded ${Date.now() - restored} ms after the link returned`);
  } finally {
    relay.restore();
    await node?.stop();
    await relay.close();
    await db.drop();
  }
});

await serviceTest('postgres', 'partition to PostgreSQL with no pooled connection: the first statement fails at the connect timeout, the next ones store.unavailable (retryable) at once; a statement passes again once the link returns', async () => {
  const db = await createTempPostgresDatabase();
  const relay = await openRelay(db.url);
  const dialect = openPostgres(relay.url, undefined, { statementTimeoutMs: 1000 });
  try {
    relay.stall();
    const first = await sql`select 1`.execute(dialect.db).then(
      () => assert.fail('the statement passed'),
      (e: unknown) => storeError('query', e),
    );
    assert.equal(first.code, 'store.unavailable');
    const next = await Promise.all(
      Array.from({ length: 5 }, async () => {
        const started = Date.now();
        const e = await sql`select 1`.execute(dialect.db).then(
          () => assert.fail('the statement passed'),
          (err: unknown) => storeError('query', err),
        );
        return { e, took: Date.now() - started };
      }),
    );
    assert.deepEqual(next.filter((x) => x.took >= FAST_MS).map((x) => x.took), [], `statements refused after ${FAST_MS} ms or more`);
    for (const { e } of next) {
      assert.ok(e instanceof PortcullisError);
      assert.equal(e.code, 'store.unavailable');
      assert.equal(e.details?.['retryable'], true);
    }
    relay.restore();
    const restored = Date.now();
    for (;;) {
      const ok = await sql`select 1`.execute(dialect.db).then(() => true, () => false);
      if (ok) break;
      assert.ok(Date.now() - restored < RECOVER_MS, 'no statement passed within 3 s of the link returning');
      await new Promise((r) => setTimeout(r, 100));
    }
  } finally {
    relay.restore();
    await dialect.close();
    await relay.close();
    await db.drop();
  }
});

await serviceTest('postgres', 'partition to PostgreSQL with every pooled connection stuck: past POOL_MAX_WAITING waiters a statement is refused at once; the waiters are refused when the store is taken for down, not at the 5 s pool timeout', async () => {
  const db = await createTempPostgresDatabase();
  const relay = await openRelay(db.url);
  const dialect = openPostgres(relay.url, undefined, { statementTimeoutMs: 1000 });
  try {
    // POOL_MAX connections made and idle
    await Promise.all(Array.from({ length: POOL_MAX }, () => sql`select pg_sleep(0.05)`.execute(dialect.db)));
    relay.stall();
    const started = Date.now();
    const settle = (p: Promise<unknown>) => p.then(() => assert.fail('the statement passed'), (e: unknown) => ({ e: storeError('query', e), took: Date.now() - started }));
    const stuck = Array.from({ length: POOL_MAX + POOL_MAX_WAITING }, () => settle(sql`select 1`.execute(dialect.db)));
    const over = await settle(sql`select 1`.execute(dialect.db));
    assert.ok(over.took < FAST_MS, `the statement past the bound was refused after ${over.took} ms`);
    assert.equal(over.e.code, 'store.unavailable');
    assert.equal(over.e.message, `${POOL_MAX_WAITING} statements already wait for a PostgreSQL connection`);
    assert.equal(over.e.details?.['retryable'], true);
    const all = await Promise.all(stuck);
    for (const { e } of all) assert.equal(e.code, 'store.unavailable');
    // the statements on the stuck connections fail at statement timeout + 1 s (2 s), and the waiters with them
    const slowest = Math.max(...all.map((x) => x.took));
    assert.ok(slowest < 2000 + FAST_MS, `the last waiter was refused after ${slowest} ms`);
  } finally {
    relay.restore();
    await dialect.close();
    await relay.close();
    await db.drop();
  }
});

test('store breaker: one probe at a time, every interval while open; closes when a probe passes; no probe and no timer after close', async () => {
  let running = 0;
  let most = 0;
  let calls = 0;
  let pass = false;
  const breaker = new StoreBreaker({
    intervalMs: 20,
    probe: async () => {
      calls++;
      running++;
      most = Math.max(most, running);
      await new Promise((r) => setTimeout(r, 30));
      running--;
      if (!pass) throw Object.assign(new Error('no answer'), { code: 'ETIMEDOUT' });
    },
  });
  breaker.check();
  breaker.trip(Object.assign(new Error('connect timeout'), { code: 'ETIMEDOUT' }));
  breaker.trip(new Error('another failure'));
  assert.throws(() => breaker.check(), (e: unknown) => e instanceof PortcullisError && e.code === 'store.unavailable' && e.details?.['retryable'] === true && typeof e.details?.['retryAfterMs'] === 'number');
  await new Promise((r) => setTimeout(r, 300));
  assert.equal(most, 1, 'probes overlapped');
  assert.ok(calls >= 3 && calls <= 8, `${calls} probes in 300 ms`);
  pass = true;
  await new Promise((r) => setTimeout(r, 120));
  breaker.check();
  const settled = calls;
  await new Promise((r) => setTimeout(r, 100));
  assert.equal(calls, settled, 'no probe while closed');

  breaker.trip(new Error('again'));
  breaker.close();
  const atClose = calls;
  await new Promise((r) => setTimeout(r, 150));
  assert.ok(calls <= atClose + 1, 'probes after close');
  // closed for good: a trip after close starts nothing
  breaker.trip(new Error('after close'));
  await new Promise((r) => setTimeout(r, 100));
  assert.ok(calls <= atClose + 1, 'probes after close');
});
