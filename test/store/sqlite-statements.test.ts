/** SQLite connection: prepared statements are reused, stay bounded, and follow schema changes. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { sql } from 'kysely';
import { openSqlite } from '../../src/store/durable/sqlite.js';

test('statements are reused across hundreds of distinct queries, and a cached one sees a later schema change', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'portcullis-sqlite-stmt-'));
  const d = openSqlite(join(dir, 'x.db'));
  t.after(async () => {
    await d.close();
    rmSync(dir, { recursive: true, force: true });
  });
  const db = d.db;
  await sql`create table t (id integer primary key, v text)`.execute(db);
  await sql`insert into t (v) values (${'a'})`.execute(db);
  const all = () => sql<Record<string, unknown>>`select * from t`.execute(db);
  assert.deepEqual((await all()).rows, [{ id: 1, v: 'a' }]);
  // The cached `select *` is prepared again by SQLite after the table changed.
  await sql`alter table t add column w text default 'x'`.execute(db);
  assert.deepEqual((await all()).rows, [{ id: 1, v: 'a', w: 'x' }]);
  // More distinct statements than the cache holds: the oldest are dropped and prepared again when needed.
  for (let i = 0; i < 300; i++) assert.equal((await sql.raw<{ n: number }>(`select ${i} as n`).execute(db)).rows[0]!.n, i);
  for (let i = 0; i < 3; i++) await sql`insert into t (v) values (${String(i)})`.execute(db);
  assert.equal((await all()).rows.length, 4);
});
