/**
 * `/readyz` turns ready as soon as the store writes again (store/durable/write-faults.ts).
 * A storage fault used to be cleared by the probe write alone, tried every 2 s: after a
 * partition to PostgreSQL, writes passed again once the breaker closed, yet `/readyz`
 * answered 503 `store.not-writable` for up to 2 s more; on SQLite, a disk freed or a
 * connection writable again, the same. Now any write acknowledged through the store
 * (issued after the fault was noted) clears it at once, and so does the breaker closing
 * when every fault noted was a lost connection; nothing extra runs per write.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { sql } from 'kysely';
import { chainHash } from '../../src/audit/trail.js';
import { PortcullisError } from '../../src/core/errors.js';
import { openSqlite } from '../../src/store/durable/sqlite.js';
import { WriteFaults } from '../../src/store/durable/write-faults.js';
import { openDurableStore } from '../../src/store/index.js';
import type { DurableStore } from '../../src/store/types.js';
import { createTempPostgresDatabase, serviceTest } from '../support/services.js';
import { openRelay } from '../support/tcp-relay.js';
import { mountTmpfs, type Tmpfs } from '../support/tmpfs.js';
import { rejectsWith } from './store-harness.js';

async function notWritable(store: DurableStore, reason: string | RegExp): Promise<void> {
  await assert.rejects(store.ping(), (e: unknown) => {
    assert.ok(e instanceof PortcullisError, String(e));
    assert.equal(e.code, 'store.not-writable');
    if (typeof reason === 'string') assert.equal(e.details?.['reason'], reason);
    else assert.match(String(e.details?.['reason']), reason);
    return true;
  });
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
const fault = (code: string) => Object.assign(new Error(code), { code });
const reason = (f: WriteFaults): unknown => f.error?.details?.['reason'];
const event = (type: string) => ({ time: Date.now(), type, actor: 'test', data: { n: 1 } });

test('WriteFaults: a write issued after the fault and acknowledged clears it at once; one issued before it does not', () => {
  let probes = 0;
  const faults = new WriteFaults({ probe: async () => void probes++ });
  const told: Array<string | undefined> = [];
  faults.onChange((e) => told.push(e?.code));
  try {
    const before = performance.now();
    faults.note(fault('SQLITE_FULL'));
    assert.equal(faults.error?.code, 'store.not-writable');
    // issued before the fault was noted: proves nothing about the storage since
    faults.written(before);
    assert.equal(reason(faults), 'SQLITE_FULL');
    faults.written(performance.now());
    assert.equal(faults.error, undefined);
    faults.check();
    assert.deepEqual(told, ['store.not-writable', undefined]);
    assert.equal(probes, 0);
    // healthy: a write is a field read, nothing told
    faults.written(performance.now());
    assert.deepEqual(told, ['store.not-writable', undefined]);
  } finally {
    faults.stop();
  }
});

test('WriteFaults: the store reached again clears a lost connection at once; a fault of the storage (read-only, disk full) is probed at once instead', async () => {
  let probes = 0;
  let writable = false;
  const faults = new WriteFaults({
    probe: async () => {
      probes++;
      if (!writable) throw fault('25006');
    },
  });
  try {
    faults.note(fault('ETIMEDOUT'));
    faults.note(fault('08006'));
    faults.reachable();
    assert.equal(faults.error, undefined);
    assert.equal(probes, 0);

    faults.note(fault('ECONNRESET'));
    faults.note(fault('25006'));
    faults.reachable();
    await sleep(20);
    assert.equal(probes, 1, 'no probe at once');
    assert.equal(reason(faults), '25006');
    writable = true;
    faults.reachable();
    await sleep(20);
    assert.equal(probes, 2);
    assert.equal(faults.error, undefined);
  } finally {
    faults.stop();
  }
});

test('SQLite connection writable again (PRAGMA query_only off): the first write acknowledged makes ping pass at once, before any probe', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'portcullis-write-recovery-'));
  const file = join(dir, 'a.db');
  const store = await openDurableStore(`sqlite:${file}`);
  // one connection per file per process (sqlite.ts): this handle is the store's connection
  const same = openSqlite(file);
  try {
    await sql`pragma query_only = on`.execute(same.db);
    await rejectsWith(store.putSetting('k', 'v'), 'store.unavailable');
    const noted = Date.now();
    await notWritable(store, /^SQLITE_READONLY/);
    await sql`pragma query_only = off`.execute(same.db);
    await store.putSetting('k', 'v');
    await store.ping();
    assert.ok(Date.now() - noted < 1500, 'the probe may have cleared it: the test ran too slowly to tell');
  } finally {
    await same.close();
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  }
});

const mounted = mountTmpfs('4m');
const fs = typeof mounted === 'string' ? undefined : mounted;
after(() => fs?.unmount());

function onTmpfs(title: string, fn: (t: Tmpfs) => Promise<void>): void {
  if (fs === undefined) test(`${title} [skipped: ${mounted as string}]`, { skip: mounted as string }, () => undefined);
  else test(title, () => fn(fs));
}

onTmpfs('SQLite disk full then freed: an audit append acknowledged by the writer thread makes ping pass at once, before any probe', async (t) => {
  const store = await openDurableStore(`sqlite:${join(t.dir, 'audit-recovery.db')}`, { auditThread: true });
  try {
    await store.appendAudit([event('before')], chainHash);
    t.fill();
    await assert.rejects(store.appendAudit([{ ...event('big'), data: { blob: 'x'.repeat(200_000) } }], chainHash));
    const noted = Date.now();
    await notWritable(store, 'SQLITE_FULL');
    t.free();
    await store.appendAudit([event('after')], chainHash);
    await store.ping();
    assert.ok(Date.now() - noted < 1500, 'the probe may have cleared it: the test ran too slowly to tell');
  } finally {
    t.free();
    await store.close();
  }
});

await serviceTest(['postgres'], 'partition to PostgreSQL healed: the first write that passes makes ping pass at once, with no wait for the probe', async () => {
  const db = await createTempPostgresDatabase();
  const relay = await openRelay(db.url);
  const store = await openDurableStore(relay.url, { statementTimeoutMs: 1000 });
  try {
    await store.putSetting('k', 'before');
    relay.stall();
    // no answer: the statement fails at statement timeout + 1 s (ETIMEDOUT), and the store is taken for down
    await rejectsWith(store.putSetting('k', 'lost'), 'store.unavailable');
    relay.restore();
    for (let i = 0; ; i++) {
      const ok = await store.putSetting('k', `after-${i}`).then(() => true, () => false);
      if (ok) break;
      assert.ok(i < 100, 'no write passed within 5 s of the link returning');
      await sleep(50);
    }
    await store.ping();
  } finally {
    relay.restore();
    await store.close();
    await relay.close();
    await db.drop();
  }
});

await serviceTest(['postgres'], 'partition to PostgreSQL healed, no write meanwhile: ping is store.unavailable while the store is down, then ready at once, never store.not-writable', async () => {
  const db = await createTempPostgresDatabase();
  const relay = await openRelay(db.url);
  const store = await openDurableStore(relay.url, { statementTimeoutMs: 1000 });
  try {
    await store.putSetting('k', 'before');
    relay.stall();
    await rejectsWith(store.putSetting('k', 'lost'), 'store.unavailable');
    await assert.rejects(store.ping(), (e: unknown) => e instanceof PortcullisError && e.code === 'store.unavailable');
    relay.restore();
    const restored = Date.now();
    const seen: string[] = [];
    for (;;) {
      const code = await store.ping().then(
        () => 'ready',
        (e: unknown) => (e instanceof PortcullisError ? e.code : String(e)),
      );
      if (seen.at(-1) !== code) seen.push(code);
      if (code === 'ready') break;
      assert.ok(Date.now() - restored < 5000, `not ready within 5 s of the link returning: ${seen.join(' → ')}`);
      await sleep(20);
    }
    assert.deepEqual(seen.filter((c) => c !== 'store.unavailable'), ['ready'], seen.join(' → '));
  } finally {
    relay.restore();
    await store.close();
    await relay.close();
    await db.drop();
  }
});
