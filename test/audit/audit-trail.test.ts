/**
 * The audit trail's writer (src/audit/trail.ts) on the real stores: an event the store
 * refuses on its own does not stop the trail (it is stored as an `audit.unstorable`
 * marker, logged and counted); while the store cannot write, `flush()` rejects with
 * `audit.unavailable` and the events are kept, in order, until it can.
 */
import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { describe, test } from 'node:test';
import { AuditTrail, verifyAuditChain } from '../../src/audit/trail.js';
import type { AuditEventInput, AuditStore } from '../../src/audit/store.js';
import { isPortcullisError } from '../../src/core/errors.js';
import { createLogger, silentLogger } from '../../src/core/logger.js';
import { serviceDescribe } from '../support/services.js';
import { postgresStoreFixture, sqliteStoreFixture, type StoreFixture } from '../support/store-fixtures.js';

type Fixture = StoreFixture;

function logs(): { lines: Array<{ level: number; msg: string; event?: string }>; logger: ReturnType<typeof createLogger> } {
  const lines: Array<{ level: number; msg: string; event?: string }> = [];
  const logger = createLogger('info', new Writable({ write(c, _e, cb) { lines.push(JSON.parse(String(c))); cb(); } }));
  return { lines, logger };
}

const ev = (type: string, over: Partial<AuditEventInput> = {}): AuditEventInput => ({ time: 1_764_000_000_000, type, actor: 'admin', ...over });
const types = async (s: AuditStore) => (await s.listAudit(0, 100)).map((r) => r.type);

function suite(name: string, make: () => Promise<Fixture>): void {
  test(`${name}: an event the store refuses (poison) is stored as an audit.unstorable marker, reported, and later events still land`, async () => {
    const f = await make();
    try {
      const { lines, logger } = logs();
      const trail = new AuditTrail(f.store, logger);
      trail.record(ev('before'));
      // time NaN: PostgreSQL refuses it as a bigint, SQLite binds NULL into a NOT NULL column
      trail.record(ev('poison', { time: Number.NaN }));
      trail.record(ev('after'));
      await trail.flush();
      trail.record(ev('later'));
      await trail.flush();
      assert.deepEqual(await types(f.store), ['before', 'audit.unstorable', 'after', 'later']);
      const marker = (await f.store.listAudit(0, 100))[1]!;
      assert.equal(marker.actor, 'system');
      assert.equal((marker.data as { type: string }).type, 'poison');
      assert.deepEqual(trail.stats, { written: 4, unstorable: 1, failedWrites: 0, dropped: 0 });
      assert.equal(trail.pending, 0);
      assert.ok(lines.some((l) => l.level === 50 && l.event === 'poison' && /audit\.unstorable marker/.test(l.msg)), 'logged at error level');
      assert.deepEqual(await verifyAuditChain(f.store, f.headKey), { ok: true, rows: 4, head: { seq: 4, hash: (await f.store.tailAudit(1))[0]!.hash } });
    } finally {
      await f.dispose();
    }
  });

  test(`${name}: an unauthenticated client_id with a NUL is stored and does not stop the trail`, async () => {
    const f = await make();
    try {
      const trail = new AuditTrail(f.store, silentLogger);
      trail.record(ev('token.denied', { actor: 'anonymous', clientId: 'x\u0000', reason: 'oauth.invalid-client' }));
      await trail.flush();
      trail.record(ev('app.created', { clientId: 'app_1' }));
      await trail.flush();
      const rows = await f.store.listAudit(0, 10);
      assert.deepEqual(rows.map((r) => [r.type, r.clientId]), [['token.denied', 'x\ufffd'], ['app.created', 'app_1']]);
      assert.equal(trail.stats.unstorable, 0);
    } finally {
      await f.dispose();
    }
  });

  test(`${name}: while the store cannot write, flush rejects with audit.unavailable; the events land in order once it can`, async () => {
    const f = await make();
    try {
      const { lines, logger } = logs();
      const trail = new AuditTrail(f.store, logger);
      await f.exec('alter table audit_log rename to audit_log_away');
      trail.record(ev('first'));
      await assert.rejects(trail.flush(), (e) => isPortcullisError(e) && e.code === 'audit.unavailable' && e.status === 503);
      trail.record(ev('second'));
      await assert.rejects(trail.flush(), (e) => isPortcullisError(e) && e.code === 'audit.unavailable');
      assert.equal(trail.pending, 2);
      assert.ok(lines.some((l) => l.level === 50 && /kept in order/.test(l.msg)));
      await f.exec('alter table audit_log_away rename to audit_log');
      trail.record(ev('third'));
      await trail.flush();
      assert.deepEqual(await types(f.store), ['first', 'second', 'third']);
      assert.equal(trail.stats.unstorable, 0, 'an unreachable table is not mistaken for poison events');
      assert.equal(trail.stats.failedWrites, 2);
      assert.deepEqual(await verifyAuditChain(f.store, f.headKey), { ok: true, rows: 3, head: { seq: 3, hash: (await f.store.tailAudit(1))[0]!.hash } });
    } finally {
      await f.dispose();
    }
  });
}

test('a transient write failure keeps the order: the failed batch is written before a batch taken after it', async () => {
  const stored: string[] = [];
  let calls = 0;
  const store = {
    async appendAudit(events: AuditEventInput[]) {
      await new Promise((r) => setTimeout(r, 5));
      if (calls++ < 4) throw Object.assign(new Error('connection reset'), { code: 'ECONNRESET' });
      stored.push(...events.map((e) => e.type));
    },
    listAudit: async () => [],
    tailAudit: async () => [],
    auditHead: async () => null,
    auditedObjects: async () => [],
    auditRowsBeforeChain: async () => 0,
    useAuditHeadKey: () => undefined,
  } satisfies AuditStore;
  const trail = new AuditTrail(store, silentLogger);
  trail.record(ev('first'));
  const a = trail.flush();
  trail.record(ev('second'));
  const b = trail.flush();
  const settled = await Promise.allSettled([a, b]);
  assert.equal(settled[0].status, 'rejected');
  assert.equal(settled[1].status, 'fulfilled');
  assert.deepEqual(stored, ['first', 'second']);
});

suite('sqlite', () => sqliteStoreFixture('portcullis-audit-'));
suite('sqlite, appends on the writer thread', () => sqliteStoreFixture('portcullis-audit-', { auditThread: true }));

await serviceDescribe('postgres', 'audit trail on PostgreSQL', () => {
  describe('postgres', () => {
    suite('postgres', postgresStoreFixture);
  });
});
