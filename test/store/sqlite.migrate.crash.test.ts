/**
 * SQLite schema migrations run in one BEGIN IMMEDIATE transaction: a node killed in the
 * middle leaves the file as it was (the next start migrates it), and two processes
 * migrating one fresh file serialise on the write lock instead of racing.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import BetterSqlite3 from 'better-sqlite3';
import { openDurableStore } from '../../src/store/index.js';
import { MIGRATIONS } from '../../src/store/migrations/index.js';

const FIXTURE = join(import.meta.dirname, 'fixtures/sqlite-migrator.ts');

function child(args: string[]): Promise<{ out: string; signal: NodeJS.Signals | null }> {
  return new Promise((resolve) => {
    const c = spawn(process.execPath, ['--import', 'tsx', FIXTURE, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    c.stdout.on('data', (d: Buffer) => (out += d));
    c.stderr.on('data', (d: Buffer) => (out += d));
    c.on('exit', (_code, signal) => resolve({ out: out.trim(), signal }));
  });
}

function tempFile(t: { after(fn: () => void): void }, name: string): string {
  const dir = mkdtempSync(join(tmpdir(), 'portcullis-migrate-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  return join(dir, name);
}

for (const n of [3, 12]) {
  test(`sqlite migrations: a node killed after DDL statement ${n} of a fresh file leaves no half schema; the next start migrates it`, async (t) => {
    const file = tempFile(t, 'crash.db');
    const { out, signal } = await child(['crash', file, String(n)]);
    assert.equal(signal, 'SIGKILL', `the child was killed mid-migration (${out})`);
    const raw = new BetterSqlite3(file, { readonly: true });
    const tables = raw.prepare("select name from sqlite_master where type = 'table' and name not like 'portcullis_migration%' order by name").all();
    raw.close();
    assert.deepEqual(tables, [], 'the killed migration left nothing behind');
    const s = await openDurableStore(`sqlite:${file}`);
    try {
      await s.putSetting('after-crash', 'v');
      assert.equal(await s.getSetting('after-crash'), 'v');
    } finally {
      await s.close();
    }
    const check = new BetterSqlite3(file, { readonly: true });
    const applied = check.prepare('select name from portcullis_migration order by name').all().map((r) => (r as { name: string }).name);
    check.close();
    assert.deepEqual(applied, Object.keys(MIGRATIONS));
  });
}

test('sqlite migrations: two processes starting at once on a fresh file both succeed and migrate it once', async (t) => {
  for (let trial = 0; trial < 3; trial++) {
    const file = tempFile(t, `race-${trial}.db`);
    const at = Date.now() + 1500;
    const outs = await Promise.all([child(['open', file, String(at)]), child(['open', file, String(at)])]);
    assert.deepEqual(outs.map((o) => o.out), ['ok', 'ok'], `trial ${trial}`);
    const raw = new BetterSqlite3(file, { readonly: true });
    const applied = raw.prepare('select name from portcullis_migration order by name').all().map((r) => (r as { name: string }).name);
    raw.close();
    assert.deepEqual(applied, Object.keys(MIGRATIONS), `trial ${trial}: each migration recorded once`);
  }
});
