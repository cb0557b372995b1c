/**
 * A flush while another writer holds the audit lock (a node frozen inside its append, a
 * half-open connection, another process inside a SQLite write transaction) fails within
 * about one lock wait (5 s) with `audit.unavailable`, not after one wait per event tried
 * (the batch, then each event twice and its marker: ~20 s). The events are kept and land
 * once the lock is released.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import BetterSqlite3 from 'better-sqlite3';
import pg from 'pg';
import { AuditTrail } from '../../src/audit/trail.js';
import { isPortcullisError } from '../../src/core/errors.js';
import { silentLogger } from '../../src/core/logger.js';
import { openDurableStore, type DurableStore } from '../../src/store/index.js';
import { AUDIT_LOCK } from '../../src/store/durable/postgres.js';
import { createTempPostgresDatabase, serviceDescribe } from '../support/services.js';

/** Loose: one lock wait is 5 s; the old behaviour took four of them. */
const BOUND_MS = 10_000;

async function flushFailsWithinBound(store: DurableStore, hold: () => Promise<void>, release: () => Promise<void>): Promise<void> {
  const trail = new AuditTrail(store, silentLogger, { flushIntervalMs: 60_000 });
  trail.record({ time: 1_764_000_000_000, type: 'certificate.revoked', actor: 'admin', data: { serial: '01' } });
  await hold();
  const started = Date.now();
  await assert.rejects(trail.flush(), (e) => isPortcullisError(e) && e.code === 'audit.unavailable');
  const took = Date.now() - started;
  assert.ok(took < BOUND_MS, `the flush failed after ${took} ms`);
  assert.equal(trail.stats.unstorable, 0, 'a held lock is not mistaken for a poison event');
  assert.equal(trail.pending, 1, 'the event is kept');
  await release();
  await trail.flush();
  assert.deepEqual((await store.listAudit(0, 10)).map((r) => r.type), ['certificate.revoked']);
}

for (const auditThread of [false, true]) {
  test(`SQLite${auditThread ? ' (audit writer thread)' : ''}: a flush while another connection holds the write lock fails audit.unavailable within ${BOUND_MS} ms`, { timeout: 60_000 }, async () => {
    const dir = mkdtempSync(join(tmpdir(), 'portcullis-audit-lock-'));
    const file = join(dir, 'a.db');
    const store = await openDurableStore(`sqlite:${file}`, { auditThread });
    const other = new BetterSqlite3(file);
    try {
      await flushFailsWithinBound(
        store,
        async () => void other.exec('begin immediate'),
        async () => void other.exec('commit'),
      );
    } finally {
      other.close();
      await store.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });
}

await serviceDescribe('postgres', 'audit lock held on PostgreSQL', () => {
  test(`a flush while another session holds the audit lock fails audit.unavailable within ${BOUND_MS} ms`, { timeout: 60_000 }, async () => {
    const db = await createTempPostgresDatabase();
    const store = await openDurableStore(db.url);
    const other = new pg.Client({ connectionString: db.url });
    await other.connect();
    try {
      await flushFailsWithinBound(
        store,
        async () => {
          await other.query('begin');
          await other.query(`select pg_advisory_xact_lock(${0x706f7274}, ${AUDIT_LOCK})`);
        },
        async () => void (await other.query('rollback')),
      );
    } finally {
      await other.end();
      await store.close();
      await db.drop();
    }
  });
});
