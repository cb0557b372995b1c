/**
 * A stuck query on PostgreSQL (a lock never granted, a query that never ends) does not
 * hold its request for ever: runtime queries run under `statement_timeout`
 * (`postgres.statementTimeout`) and fail `store.unavailable` (503), never a 500.
 * Schema migrations run without it, so waiting for another node's migration at start is
 * not cut short.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import pg from 'pg';
import { sql } from 'kysely';
import { openDurableStore } from '../../src/store/index.js';
import { openPostgres } from '../../src/store/durable/postgres.js';
import { storeError } from '../../src/store/durable/store-error.js';
import { createTempPostgresDatabase, serviceDescribe } from '../support/services.js';
import { startTestNode, testConfig } from '../support/portcullis.js';

const TIMEOUT_MS = 1000;
/** Loose: the query is cancelled after TIMEOUT_MS; without the timeout it runs for 20 s. */
const BOUND_MS = 8000;

await serviceDescribe('postgres', 'PostgreSQL statement timeout', () => {
  test('a runtime query of pg_sleep(20) is cancelled after the statement timeout and reads as store.unavailable', { timeout: 60_000 }, async () => {
    const db = await createTempPostgresDatabase();
    const dialect = openPostgres(db.url, undefined, { statementTimeoutMs: TIMEOUT_MS });
    try {
      const started = Date.now();
      const failure = await sql`select pg_sleep(20)`.execute(dialect.db).then(
        () => undefined,
        (e: unknown) => e,
      );
      const took = Date.now() - started;
      assert.ok(failure !== undefined, 'the query was cancelled');
      assert.ok(took < BOUND_MS, `cancelled after ${took} ms`);
      const typed = storeError('query', failure);
      assert.equal(typed.code, 'store.unavailable');
      assert.equal(typed.status, 503);
    } finally {
      await dialect.close();
      await db.drop();
    }
  });

  test('a migration may outlast the statement timeout: pg_sleep beyond it on the migration connection completes', { timeout: 60_000 }, async () => {
    const db = await createTempPostgresDatabase();
    const dialect = openPostgres(db.url, undefined, { statementTimeoutMs: TIMEOUT_MS });
    try {
      const r = await dialect.unbounded((u) => sql<{ done: number }>`select 1 as done from pg_sleep(${(TIMEOUT_MS * 1.5) / 1000})`.execute(u));
      assert.deepEqual(r.rows, [{ done: 1 }]);
    } finally {
      await dialect.close();
      await db.drop();
    }
  });

  test('a node opening while another node holds the migration lock past the statement timeout waits and opens', { timeout: 60_000 }, async () => {
    const db = await createTempPostgresDatabase();
    const other = new pg.Client({ connectionString: db.url });
    await other.connect();
    try {
      // Kysely's migration lock (PostgresAdapter.acquireMigrationLock)
      await other.query('select pg_advisory_lock(3853314791062309107)');
      const release = setTimeout(() => void other.query('select pg_advisory_unlock(3853314791062309107)'), TIMEOUT_MS * 2);
      const store = await openDurableStore(db.url, { statementTimeoutMs: TIMEOUT_MS });
      clearTimeout(release);
      assert.deepEqual(await store.listApps(), []);
      await store.close();
    } finally {
      await other.end();
      await db.drop();
    }
  });

  test('attack: a request whose query is stuck behind a held table lock answers 503 store.unavailable within the bound, never a 500 or a hang', { timeout: 120_000 }, async () => {
    const db = await createTempPostgresDatabase();
    const node = await startTestNode({ config: testConfig(`store: ${db.url}\nplanes: [identity, admin]\npostgres: { statementTimeout: 1s }\n`) });
    const other = new pg.Client({ connectionString: db.url });
    await other.connect();
    try {
      await other.query('begin');
      await other.query('lock table apps in access exclusive mode');
      const started = Date.now();
      const res = await fetch(`${node.urls.admin}/v1/apps`, { headers: { authorization: `Bearer ${node.adminToken}` }, signal: AbortSignal.timeout(30_000) });
      const took = Date.now() - started;
      assert.equal(res.status, 503);
      assert.equal(((await res.json()) as { code: string }).code, 'store.unavailable');
      assert.ok(took < BOUND_MS, `answered after ${took} ms`);
      await other.query('rollback');
      assert.equal((await fetch(`${node.urls.admin}/v1/apps`, { headers: { authorization: `Bearer ${node.adminToken}` } })).status, 200);
    } finally {
      await other.end();
      await node.stop();
      await db.drop();
    }
  });
});
