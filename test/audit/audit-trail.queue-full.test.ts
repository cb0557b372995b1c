/**
 * An event dropped because the audit queue was full (a long store outage) must not be
 * acknowledged as stored: a flush awaited by a change rejects with `audit.unavailable`
 * when an event recorded before it was dropped, even once the store is back and the held
 * events (and the `audit.dropped` marker) are written. Recording itself never fails
 * (the gateway records its refusals without waiting), and a later flush, after no further
 * drop, resolves again.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { AuditTrail } from '../../src/audit/trail.js';
import type { AuditEventInput, AuditStore } from '../../src/audit/store.js';
import { isPortcullisError, PortcullisError } from '../../src/core/errors.js';
import { silentLogger } from '../../src/core/logger.js';
import { createHttpServer } from '../../src/http/server.js';

const ev = (type: string): AuditEventInput => ({ time: 1_764_000_000_000, type, actor: 'admin' });

/** A store that fails as a whole while `down` (its events held, in order). */
function switchableStore(): { store: AuditStore; stored: string[]; setDown(v: boolean): void } {
  const stored: string[] = [];
  let down = false;
  const store = {
    async appendAudit(events: AuditEventInput[]) {
      await new Promise((r) => setImmediate(r));
      if (down) throw new PortcullisError('store.unavailable', 'the store is unreachable', { details: { retryable: true } });
      stored.push(...events.map((e) => e.type));
    },
    listAudit: async () => [],
    tailAudit: async () => [],
    auditHead: async () => null,
    auditedObjects: async () => [],
    auditRowsBeforeChain: async () => 0,
    useAuditHeadKey: () => undefined,
  } satisfies AuditStore;
  return { store, stored, setDown: (v) => void (down = v) };
}

const droppedRejection = (e: unknown): boolean => isPortcullisError(e) && e.code === 'audit.unavailable' && e.status === 503 && /dropped/.test(e.message) && /queue was full/.test(e.message);

test('a change whose audit event was dropped (queue full) is not acknowledged: its flush rejects audit.unavailable once the store is back', async () => {
  const s = switchableStore();
  const trail = new AuditTrail(s.store, silentLogger, { maxQueue: 3, flushIntervalMs: 60_000 });
  s.setDown(true);
  for (const t of ['a', 'b', 'c']) trail.record(ev(t));
  await assert.rejects(trail.flush(), (e) => isPortcullisError(e) && e.code === 'audit.unavailable');
  assert.equal(trail.pending, 3, 'held');
  s.setDown(false);
  trail.record(ev('app.created'));
  assert.equal(trail.stats.dropped, 1, 'the change event was dropped');
  await assert.rejects(trail.flush(), droppedRejection);
  assert.deepEqual(s.stored, ['audit.dropped', 'a', 'b', 'c'], 'what was held is written, with the marker, all the same');
  // bounded: a later change, with nothing dropped since, is acknowledged
  trail.record(ev('app.updated'));
  await trail.flush();
  assert.deepEqual(s.stored.slice(-1), ['app.updated']);
});

test('every flush already under way or started before one of them finished answers for the drop; a flush begun before the drop does not', async () => {
  const s = switchableStore();
  const trail = new AuditTrail(s.store, silentLogger, { maxQueue: 2, flushIntervalMs: 60_000 });
  s.setDown(true);
  trail.record(ev('a'));
  trail.record(ev('b'));
  await assert.rejects(trail.flush());
  s.setDown(false);
  const before = trail.flush();
  trail.record(ev('dropped-change')); // pending is still 2: the write is under way
  assert.equal(trail.stats.dropped, 1);
  // another caller's flush starts first, then the dropping caller's, before either finished
  const other = trail.flush();
  const own = trail.flush();
  await before;
  await assert.rejects(other, droppedRejection);
  await assert.rejects(own, droppedRejection);
  await trail.flush();
});

test('a change whose own event was dropped is refused even when another flush, begun after the drop, finished before its own began', async () => {
  const s = switchableStore();
  const trail = new AuditTrail(s.store, silentLogger, { maxQueue: 2, flushIntervalMs: 60_000 });
  s.setDown(true);
  trail.record(ev('a'));
  trail.record(ev('b'));
  await assert.rejects(trail.flush());
  s.setDown(false);
  // a plane's change as the admin routes make it: record, more awaited work (a read for the answer), then flush
  let release!: () => void;
  const more = new Promise<void>((r) => (release = r));
  const app = createHttpServer(silentLogger);
  app.post('/change/:type', async (req) => {
    const { type } = req.params as { type: string };
    trail.record(ev(type));
    if (type === 'app.created') await more;
    await trail.flush();
    return { ok: true };
  });
  try {
    const dropping = app.inject({ method: 'POST', url: '/change/app.created' });
    while (trail.stats.dropped === 0) await new Promise((r) => setImmediate(r));
    // another caller's flush starts after the drop and finishes before the dropping change flushes
    await assert.rejects(trail.flush(), droppedRejection);
    release();
    const res = await dropping;
    assert.equal(res.statusCode, 503, 'the change whose event was dropped is not acknowledged');
    assert.equal((res.json() as { code: string }).code, 'audit.unavailable');
    assert.deepEqual(s.stored, ['audit.dropped', 'a', 'b'], 'its event was never stored');
    // a change whose own event is stored is acknowledged, the earlier drop being another's
    const stored = await app.inject({ method: 'POST', url: '/change/app.updated' });
    assert.equal(stored.statusCode, 200);
    assert.deepEqual(s.stored.slice(-1), ['app.updated']);
  } finally {
    await app.close();
  }
});

test('record never throws when the queue is full (the gateway records refusals without waiting)', () => {
  const s = switchableStore();
  const trail = new AuditTrail(s.store, silentLogger, { maxQueue: 1, flushIntervalMs: 60_000 });
  trail.record(ev('a'));
  assert.doesNotThrow(() => trail.record(ev('b')));
  assert.equal(trail.stats.dropped, 1);
});
