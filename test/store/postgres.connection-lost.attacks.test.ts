/**
 * The PostgreSQL connection of a running node goes away under it — the database stops
 * (every connection reset) or the network between them goes silent (a partition: no
 * answer, no error) — through a TCP relay the test cuts (test/support/tcp-relay.ts).
 * Fail closed: the statements in flight fail `store.unavailable` within a bound; the
 * process neither crashes nor waits for ever.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { sql } from 'kysely';
import { PortcullisError } from '../../src/core/errors.js';
import { openPostgres } from '../../src/store/durable/postgres.js';
import { storeError } from '../../src/store/durable/store-error.js';
import { createTempPostgresDatabase, serviceDescribe } from '../support/services.js';
import { openRelay } from '../support/tcp-relay.js';

const TIMEOUT_MS = 1000;
/** Loose: the statement fails after the statement timeout and a margin; without a bound it never does. */
const BOUND_MS = 5000;
/** From the link's return to the first statement that passes. */
const RECOVER_MS = 3000;

/** Settles `p` within `ms`, or says it did not. */
async function within<T>(p: Promise<T>, ms: number): Promise<{ value?: T; error?: unknown; took: number } | 'pending'> {
  const started = Date.now();
  let timer: NodeJS.Timeout | undefined;
  const pending = new Promise<'pending'>((r) => (timer = setTimeout(() => r('pending'), ms)));
  try {
    return await Promise.race([p.then((value) => ({ value, took: Date.now() - started }), (error: unknown) => ({ error, took: Date.now() - started })), pending]);
  } finally {
    clearTimeout(timer);
  }
}

await serviceDescribe('postgres', 'PostgreSQL connection lost under a running store', () => {
  test('attack: the database resets every connection while a transaction holds one: the transaction fails store.unavailable, no uncaught error', { timeout: 60_000 }, async () => {
    const db = await createTempPostgresDatabase();
    const proxy = await openRelay(db.url);
    const dialect = openPostgres(proxy.url, undefined, { statementTimeoutMs: TIMEOUT_MS });
    const uncaught: unknown[] = [];
    const onUncaught = (e: unknown) => uncaught.push(e);
    // node:test would report an uncaught exception against the test anyway; this names it
    process.prependListener('uncaughtException', onUncaught);
    try {
      const failure = await dialect.db
        .transaction()
        .execute(async (trx) => {
          await sql`select 1`.execute(trx);
          proxy.cut();
          // the reset reaches the checked-out client between two statements
          await new Promise((r) => setTimeout(r, 200));
          await sql`select 1`.execute(trx);
        })
        .then(
          () => undefined,
          (e: unknown) => storeError('transaction', e),
        );
      await new Promise((r) => setTimeout(r, 200));
      assert.deepEqual(uncaught.map(String), [], 'no uncaught error');
      assert.ok(failure instanceof PortcullisError, 'the transaction failed');
      assert.equal(failure.code, 'store.unavailable');
      assert.equal(failure.status, 503);
    } finally {
      process.removeListener('uncaughtException', onUncaught);
      proxy.restore();
      await dialect.close();
      await proxy.close();
      await db.drop();
    }
  });

  test('attack: the network to the database goes silent (a partition): a statement on a pooled connection fails store.unavailable within the bound, never waits for ever; the pool recovers within 3 s', { timeout: 60_000 }, async () => {
    const db = await createTempPostgresDatabase();
    const proxy = await openRelay(db.url);
    const dialect = openPostgres(proxy.url, undefined, { statementTimeoutMs: TIMEOUT_MS });
    try {
      // a connection made and returned to the pool before the partition
      await sql`select 1`.execute(dialect.db);
      proxy.stall();
      const r = await within(sql`select 1`.execute(dialect.db), BOUND_MS);
      assert.notEqual(r, 'pending', `no answer within ${BOUND_MS} ms`);
      if (r === 'pending') return;
      const typed = storeError('query', r.error);
      assert.equal(typed.code, 'store.unavailable');
      assert.equal(typed.details?.['retryable'], true);
      proxy.restore();
      // the store was taken for down (postgres.ts, breaker.ts): statements pass again once a
      // probe reaches it; the silent connection was dropped, not handed out again
      const restored = Date.now();
      let rows: unknown;
      while (rows === undefined && Date.now() - restored < RECOVER_MS) {
        rows = await sql<{ one: number }>`select 1 as one`.execute(dialect.db).then((r) => r.rows, () => new Promise((ok) => setTimeout(ok, 100)));
      }
      assert.deepEqual(rows, [{ one: 1 }], `no statement passed within ${RECOVER_MS} ms of the link returning`);
    } finally {
      proxy.restore();
      await dialect.close();
      await proxy.close();
      await db.drop();
    }
  });
});
