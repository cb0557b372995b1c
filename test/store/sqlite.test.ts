/** The durable store contract on SQLite files, plus what only SQLite has (file, WAL, one writer per process). */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import BetterSqlite3 from 'better-sqlite3';
import { openDurableStore } from '../../src/store/index.js';
import { MIGRATIONS } from '../../src/store/migrations/index.js';
import { assertChain, rejectsWith, runDurableStoreSuite } from './durable-contract.js';

function tempDir(): { dir: string; rm: () => void } {
  const dir = mkdtempSync(join(tmpdir(), 'portcullis-sqlite-'));
  return { dir, rm: () => rmSync(dir, { recursive: true, force: true }) };
}

runDurableStoreSuite('sqlite', async () => {
  const { dir, rm } = tempDir();
  // multiNode: instances in one process share the file's connection (see durable/sqlite.ts);
  // separate processes are covered by the BEGIN IMMEDIATE test below.
  return { open: () => openDurableStore('sqlite:data/store.db', { baseDir: dir }), multiNode: true, dispose: async () => rm() };
});

test('sqlite: the path is resolved against baseDir and the file is in WAL mode', async () => {
  const { dir, rm } = tempDir();
  try {
    const s = await openDurableStore('sqlite:nested/dir/p.db', { baseDir: dir });
    await s.putSetting('a', 'b');
    await s.close();
    const file = join(dir, 'nested/dir/p.db');
    assert.ok(existsSync(file));
    const raw = new BetterSqlite3(file, { readonly: true });
    try {
      assert.equal(raw.pragma('journal_mode', { simple: true }), 'wal');
      const tables = raw.prepare("select name from sqlite_master where type = 'table' order by name").pluck().all();
      for (const t of ['apps', 'audit_log', 'certificate_authorities', 'certificates', 'crl_numbers', 'key_ring', 'mfa_enrollments', 'mfa_recovery_codes', 'password_hashes', 'revoked_tokens', 'settings']) {
        assert.ok(tables.includes(t), `table ${t} exists`);
      }
      const applied = raw.prepare('select name from portcullis_migration order by name').pluck().all();
      assert.deepEqual(applied, Object.keys(MIGRATIONS));
      // DER is stored as bytes, not text.
      const der = raw.prepare("select type from pragma_table_info('certificates') where name = 'der'").pluck().get();
      assert.equal(der, 'BLOB');
    } finally {
      raw.close();
    }
  } finally {
    rm();
  }
});

test('sqlite::memory: opens a private, migrated database', async () => {
  const s = await openDurableStore('sqlite::memory:');
  try {
    assert.equal(s.kind, 'sqlite');
    assert.equal(await s.setSettingIfAbsent('x', '1'), '1');
  } finally {
    await s.close();
  }
});

test('sqlite: an unopenable path rejects with store.unavailable', async () => {
  const { dir, rm } = tempDir();
  try {
    // A directory where the database file should be.
    await rejectsWith(openDurableStore(`sqlite:${dir}`), 'store.unavailable');
  } finally {
    rm();
  }
});

test('sqlite: a malformed store URL is config.invalid', async () => {
  await rejectsWith(openDurableStore('mysql://x'), 'config.invalid');
  await rejectsWith(openDurableStore('sqlite:'), 'config.invalid');
});

test('sqlite: two processes appending audit events to one file keep one linear chain (BEGIN IMMEDIATE)', async () => {
  const { dir, rm } = tempDir();
  try {
    const file = join(dir, 'shared.db');
    // Create the schema first so the two writers race on appends, not on migration.
    await (await openDurableStore(`sqlite:${file}`)).close();
    const writers = ['p1', 'p2'].map((tag) => {
      const c = spawn(process.execPath, ['--import', 'tsx', join(import.meta.dirname, 'fixtures/sqlite-writer.ts'), 'audit', file, '150', tag]);
      let out = '';
      const ready = new Promise<void>((resolve) => c.stdout.on('data', (d: Buffer) => ((out += d), out.includes('ready') && resolve())));
      const exited = new Promise<number | null>((resolve) => c.on('exit', resolve));
      return { ready, exited, out: () => out };
    });
    await Promise.all(writers.map((w) => w.ready));
    // Both processes are open and polling: release them together so their appends overlap.
    writeFileSync(`${file}.go`, '');
    assert.deepEqual(await Promise.all(writers.map((w) => w.exited)), [0, 0]);
    assert.deepEqual(writers.map((w) => w.out().trim()), ['ready\ndone', 'ready\ndone']);
    const s = await openDurableStore(`sqlite:${file}`);
    try {
      const rows = await s.listAudit(0, 1000);
      assert.equal(rows.length, 900);
      assertChain(rows);
      assert.equal(rows.filter((r) => r.actor === 'p1').length, 450);
    } finally {
      await s.close();
    }
  } finally {
    rm();
  }
});

test('sqlite: two processes on one file — CRL numbers never repeat, each recovery code and each revocation is won once', async () => {
  const { dir, rm } = tempDir();
  try {
    const file = join(dir, 'race.db');
    const setup = await openDurableStore(`sqlite:${file}`);
    await setup.replaceRecoveryCodes('u1', Array.from({ length: 10 }, (_, i) => `h${i}`), 0);
    for (let i = 0; i < 10; i++) {
      await setup.insertCertificate({
        serial: `s${i}`, issuerId: 'int-1', subject: `CN=s${i}`, owner: null, profile: 'server',
        notBefore: 0, notAfter: 1, status: 'active', revokedAt: null, reason: null, der: new Uint8Array([i]),
      });
    }
    await setup.close();
    const racers = ['p1', 'p2'].map((tag) => {
      const c = spawn(process.execPath, ['--import', 'tsx', join(import.meta.dirname, 'fixtures/sqlite-writer.ts'), 'race', file, '100', tag]);
      let out = '';
      const ready = new Promise<void>((resolve) => c.stdout.on('data', (d: Buffer) => ((out += d), out.includes('ready') && resolve())));
      const exited = new Promise<number | null>((resolve) => c.on('exit', resolve));
      return { ready, exited, out: () => out };
    });
    await Promise.all(racers.map((r) => r.ready));
    writeFileSync(`${file}.go`, '');
    assert.deepEqual(await Promise.all(racers.map((r) => r.exited)), [0, 0]);
    const results = racers.map((r) => JSON.parse(r.out().split('done ')[1]!) as { crl: string[]; codes: number[]; revoked: string[] });
    const crl = results.flatMap((r) => r.crl.map(Number)).sort((a, b) => a - b);
    assert.deepEqual(crl, Array.from({ length: 200 }, (_, i) => i + 1));
    for (const r of results) assert.deepEqual(r.crl.map(Number), [...r.crl.map(Number)].sort((a, b) => a - b), 'each process sees its numbers increase');
    assert.deepEqual(results.flatMap((r) => r.codes).sort((a, b) => a - b), [0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
    assert.deepEqual(results.flatMap((r) => r.revoked).sort(), ['s0', 's1', 's2', 's3', 's4', 's5', 's6', 's7', 's8', 's9']);
  } finally {
    rm();
  }
});

test('sqlite: a write waiting for another connection’s write lock does not block the event loop, and lands once the lock is released', async () => {
  const { dir, rm } = tempDir();
  const s = await openDurableStore('sqlite:lock.db', { baseDir: dir });
  // another process's connection (better-sqlite3 is synchronous, so one in this thread behaves the same to SQLite)
  const other = new BetterSqlite3(join(dir, 'lock.db'));
  try {
    other.prepare('begin immediate').run();
    let settled = false;
    const write = s.putSetting('waited', 'yes').then(() => (settled = true));
    // while the write waits, timers keep firing on time: the loop is not asleep in SQLite's busy handler
    const lateness: number[] = [];
    for (let i = 0; i < 10; i++) {
      const t = performance.now();
      await new Promise((r) => setTimeout(r, 10));
      lateness.push(performance.now() - t - 10);
    }
    assert.equal(settled, false, 'the write is still waiting for the lock');
    assert.ok(Math.max(...lateness) < 50, `timers ran late by ${Math.max(...lateness).toFixed(1)} ms while the write waited`);
    other.prepare('commit').run();
    await write;
    assert.equal(await s.getSetting('waited'), 'yes');
  } finally {
    if (other.inTransaction) other.prepare('rollback').run();
    other.close();
    await s.close();
    rm();
  }
});
