/**
 * Fail closed when another node holds the audit lock and does not let go (a node frozen
 * inside its append, a connection half-open after a network partition): an append waits
 * at most as long as SQLite waits for a held write lock, then fails `store.unavailable`,
 * so the trail holds its events and `flush` answers `audit.unavailable` (503) instead of
 * every admin change hanging for as long as the other session lives.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import pg from 'pg';
import { chainHash } from '../../src/audit/trail.js';
import { isPortcullisError } from '../../src/core/errors.js';
import { openDurableStore } from '../../src/store/index.js';
import { AUDIT_LOCK, AUDIT_LOCK_TIMEOUT_MS } from '../../src/store/durable/postgres.js';
import { createTempPostgresDatabase, serviceDescribe } from '../support/services.js';

await serviceDescribe('postgres', 'audit lock on PostgreSQL', () => {
  test('an append behind an audit lock that is never released fails store.unavailable after the lock timeout, then works once it is released', { timeout: 30_000 }, async () => {
    const db = await createTempPostgresDatabase();
    const store = await openDurableStore(db.url);
    const other = new pg.Client({ connectionString: db.url });
    await other.connect();
    try {
      await other.query('begin');
      await other.query(`select pg_advisory_xact_lock(${0x706f7274}, ${AUDIT_LOCK})`);
      const started = Date.now();
      await assert.rejects(store.appendAudit([{ time: 1_764_000_000_000, type: 'app.created', actor: 'admin' }], chainHash), (e) => isPortcullisError(e) && e.code === 'store.unavailable');
      const waited = Date.now() - started;
      assert.ok(waited >= AUDIT_LOCK_TIMEOUT_MS - 100 && waited < AUDIT_LOCK_TIMEOUT_MS + 5000, `waited ${waited} ms`);
      await other.query('rollback');
      await store.appendAudit([{ time: 1_764_000_000_001, type: 'app.created', actor: 'admin' }], chainHash);
      assert.deepEqual((await store.listAudit(0, 10)).map((r) => r.seq), [1]);
    } finally {
      await other.end();
      await store.close();
      await db.drop();
    }
  });
});
