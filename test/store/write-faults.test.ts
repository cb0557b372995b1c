/**
 * `/readyz` tells the truth when the durable store cannot write (store/durable/write-faults.ts):
 * a statement that fails for a reason of the storage itself (disk full, read-only, I/O
 * error, on the main connection or the SQLite audit writer thread's) makes `ping` — the
 * readiness round trip — fail `store.not-writable` naming the driver code, until a probe
 * write, tried every 2 s while faulted and never otherwise, succeeds.
 *
 * The faults are real where the machine allows: a full tmpfs (ENOSPC → SQLITE_FULL;
 * tests run as root, whom a chmod would not stop), a PostgreSQL database switched to
 * read-only (25006, as a standby answers). `PRAGMA query_only` on the store's own
 * connection is SQLite's read-only refusal (SQLITE_READONLY), for a run without mount.
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { after, test } from 'node:test';
import { sql } from 'kysely';
import { PortcullisError } from '../../src/core/errors.js';
import { chainHash } from '../../src/audit/trail.js';
import { openDurableStore } from '../../src/store/index.js';
import { openSqlite } from '../../src/store/durable/sqlite.js';
import { storageFault } from '../../src/store/durable/write-faults.js';
import type { KyselyDurableStore } from '../../src/store/durable/store.js';
import type { DurableStore } from '../../src/store/types.js';
import type { StoredKey } from '../../src/crypto/store.js';
import { createTempPostgresDatabase, postgresUrl, serviceTest } from '../support/services.js';
import { postgresExec } from '../support/store-fixtures.js';
import { mountTmpfs, type Tmpfs } from '../support/tmpfs.js';
import { rejectsWith } from './store-harness.js';

async function notWritable(store: DurableStore, reason: string | RegExp): Promise<void> {
  await assert.rejects(store.ping(), (e: unknown) => {
    assert.ok(e instanceof PortcullisError, String(e));
    assert.equal(e.code, 'store.not-writable');
    assert.equal(e.status, 503);
    if (typeof reason === 'string') assert.equal(e.details?.['reason'], reason);
    else assert.match(String(e.details?.['reason']), reason);
    return true;
  });
}

async function eventuallyReady(store: DurableStore, ms = 8000): Promise<void> {
  const until = Date.now() + ms;
  for (;;) {
    try {
      await store.ping();
      return;
    } catch (e) {
      if (Date.now() > until) throw e;
      await sleep(100);
    }
  }
}

const event = (type: string) => ({ time: Date.now(), type, actor: 'test', data: { n: 1 } });

const mounted = mountTmpfs('4m');
const fs = typeof mounted === 'string' ? undefined : mounted;
after(() => fs?.unmount());

function onTmpfs(title: string, fn: (t: Tmpfs) => Promise<void>): void {
  if (fs === undefined) test(`${title} [skipped: ${mounted as string}]`, { skip: mounted as string }, () => undefined);
  else test(title, () => fn(fs));
}

onTmpfs('SQLite on a full file system: a write fails SQLITE_FULL, ping fails store.not-writable; once space is freed the probe write clears it', async (t) => {
  const store = await openDurableStore(`sqlite:${join(t.dir, 'full.db')}`);
  try {
    await store.ping();
    t.fill();
    await rejectsWith(store.putSetting('big', 'x'.repeat(200_000)), 'store.unavailable');
    await notWritable(store, 'SQLITE_FULL');
    // the disk stays full: the probe (a committed write) keeps failing
    await sleep(2500);
    await notWritable(store, 'SQLITE_FULL');
    t.free();
    await eventuallyReady(store);
    await store.putSetting('big', 'x'.repeat(200_000));
  } finally {
    t.free();
    await store.close();
  }
});

onTmpfs('SQLite: an audit append that fails SQLITE_FULL on the audit writer thread alone makes the store not writable', async (t) => {
  const store = await openDurableStore(`sqlite:${join(t.dir, 'audit.db')}`, { auditThread: true });
  try {
    await store.appendAudit([event('before')], chainHash);
    t.fill();
    await assert.rejects(store.appendAudit([{ ...event('big'), data: { blob: 'x'.repeat(200_000) } }], chainHash));
    await notWritable(store, 'SQLITE_FULL');
    t.free();
    await eventuallyReady(store);
  } finally {
    t.free();
    await store.close();
  }
});

test('SQLite connection made read-only (PRAGMA query_only): SQLITE_READONLY, the probe write fails while it lasts, then clears it', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'portcullis-write-faults-'));
  const file = join(dir, 'a.db');
  const store = await openDurableStore(`sqlite:${file}`);
  // one connection per file per process (sqlite.ts): this handle is the store's connection
  const same = openSqlite(file);
  try {
    await sql`pragma query_only = on`.execute(same.db);
    await rejectsWith(store.putSetting('k', 'v'), 'store.unavailable');
    await notWritable(store, /^SQLITE_READONLY/);
    await sleep(2500);
    await notWritable(store, /^SQLITE_READONLY/);
    await sql`pragma query_only = off`.execute(same.db);
    await eventuallyReady(store);
    await store.putSetting('k', 'v');
  } finally {
    await same.close();
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a healthy store runs no probe: ping and time write nothing; a failure of the statement (a constraint) is no storage fault', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'portcullis-write-faults-'));
  const store = (await openDurableStore(`sqlite:${join(dir, 'a.db')}`)) as KyselyDurableStore;
  try {
    await store.putSetting('k', 'v');
    const before = store.commitStats()!.groups;
    for (let i = 0; i < 20; i++) await store.ping();
    await sleep(2300);
    assert.equal(store.commitStats()!.groups, before, 'no write while healthy');
    await store.insertKey(key('k1'));
    await rejectsWith(store.insertKey(key('k1')), 'conflict');
    await store.ping();
  } finally {
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  }
});

test('storageFault: the driver codes of a storage that cannot write, on the error or its causes; nothing else', () => {
  const wrapped = (code: string) => new PortcullisError('store.unavailable', 'durable store x failed', { cause: Object.assign(new Error('x'), { code }) });
  for (const code of ['SQLITE_FULL', 'SQLITE_IOERR', 'SQLITE_IOERR_WRITE', 'SQLITE_IOERR_FSYNC', 'SQLITE_READONLY', 'SQLITE_READONLY_DBMOVED', 'SQLITE_CANTOPEN', '25006', '53100', '58030', '08006', '57P01', 'ECONNREFUSED']) {
    assert.equal(storageFault(wrapped(code)), code, code);
  }
  for (const code of ['SQLITE_CONSTRAINT_UNIQUE', 'SQLITE_BUSY', '23505', '57014', '55P03', '22021']) assert.equal(storageFault(wrapped(code)), undefined, code);
  assert.equal(storageFault(new PortcullisError('store.unavailable', 'durable store is closed (x)')), undefined);
});

await serviceTest('postgres', 'PostgreSQL database switched to read-only (default_transaction_read_only): a write fails 25006, ping fails store.not-writable; switched back, the probe clears it', async () => {
  const db = await createTempPostgresDatabase();
  const store = await openDurableStore(db.url);
  const admin = postgresExec(postgresUrl());
  // the setting applies to sessions that start after it: the pool's sessions are ended, as a failover would end them
  const reconnect = () => admin(`select pg_terminate_backend(pid) from pg_stat_activity where datname = '${db.name}' and pid <> pg_backend_pid()`);
  try {
    await store.putSetting('k', 'v');
    await admin(`alter database ${db.name} set default_transaction_read_only = on`);
    await reconnect();
    await eventuallyFails(() => store.putSetting('k', 'w'));
    await notWritable(store, '25006');
    await sleep(2500);
    await notWritable(store, '25006');
    await admin(`alter database ${db.name} reset default_transaction_read_only`);
    await reconnect();
    await eventuallyReady(store);
    await store.putSetting('k', 'w');
  } finally {
    await store.close();
    await db.drop();
  }
});

/** A write on a pool whose sessions were just ended may first meet a dead connection (57P01): it fails either way. */
async function eventuallyFails(write: () => Promise<unknown>): Promise<void> {
  await assert.rejects(write());
  await assert.rejects(write());
}

function key(kid: string): StoredKey {
  return { kid, use: 'sig', alg: 'ES256', publicJwk: '{}', privateJwk: 'sealed', status: 'next', createdAt: 1, activatesAt: 2, retiresAt: null, expiresAt: null };
}
