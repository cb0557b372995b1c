/**
 * The SQLite driver's group commit (src/store/durable/sqlite-driver.ts): concurrent
 * writes share one transaction and one fsync, yet each keeps its own outcome, settles
 * only after the commit, and keeps the order callers issued it in; transactions exclude
 * the groups; nothing queued is lost on close.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import BetterSqlite3 from 'better-sqlite3';
import { sql, type Kysely } from 'kysely';
import { openSqlite, sqliteCommitStats } from '../../src/store/durable/sqlite.js';

function fixture(t: { after(fn: () => Promise<void> | void): void }) {
  const dir = mkdtempSync(join(tmpdir(), 'portcullis-group-'));
  const file = join(dir, 'g.db');
  const d = openSqlite(file);
  t.after(async () => {
    await d.close();
    rmSync(dir, { recursive: true, force: true });
  });
  const db = d.db as unknown as Kysely<Record<string, never>>;
  const stats = () => ({ ...sqliteCommitStats(d.db)! });
  return { d, db, file, stats };
}

async function table(db: Kysely<Record<string, never>>): Promise<void> {
  await sql`create table t (id text primary key, v text)`.execute(db);
}
const insert = (db: Kysely<Record<string, never>>, id: string, v = 'x') => sql`insert into t (id, v) values (${id}, ${v})`.execute(db);
const ids = async (db: Kysely<Record<string, never>>) => (await sql<{ id: string }>`select id from t order by id`.execute(db)).rows.map((r) => r.id);

test('concurrent writes commit as one transaction, one fsync for all', async (t) => {
  const { db, stats } = fixture(t);
  await table(db);
  const before = stats();
  await Promise.all(Array.from({ length: 20 }, (_, i) => insert(db, `k${String(i).padStart(2, '0')}`)));
  const after = stats();
  assert.equal(after.groups - before.groups, 1, 'one commit for the twenty writes issued in one turn');
  assert.equal(after.statements - before.statements, 20);
  assert.equal((await ids(db)).length, 20);
  // written one after another, each is its own commit
  for (let i = 0; i < 3; i++) await insert(db, `s${i}`);
  assert.equal(stats().groups - after.groups, 3);
});

test('a failing statement fails alone: the others of its group commit', async (t) => {
  const { db } = fixture(t);
  await table(db);
  await insert(db, 'taken');
  const results = await Promise.allSettled([insert(db, 'a'), insert(db, 'taken'), insert(db, 'b')]);
  assert.equal(results[0]!.status, 'fulfilled');
  assert.equal(results[2]!.status, 'fulfilled');
  assert.equal(results[1]!.status, 'rejected');
  assert.equal(((results[1] as PromiseRejectedResult).reason as { code?: string }).code, 'SQLITE_CONSTRAINT_PRIMARYKEY');
  assert.deepEqual(await ids(db), ['a', 'b', 'taken']);
});

test('a statement that ends the transaction fails its whole group: nothing of it is committed or acknowledged', async (t) => {
  const { db } = fixture(t);
  await table(db);
  // RAISE(ROLLBACK) undoes the whole transaction, not just its statement
  await sql`create trigger boom before insert on t when new.id = 'boom' begin select raise(rollback, 'boom'); end`.execute(db);
  const results = await Promise.allSettled([insert(db, 'a'), insert(db, 'boom'), insert(db, 'b')]);
  assert.deepEqual(
    results.map((r) => r.status),
    ['rejected', 'rejected', 'rejected'],
  );
  for (const r of results) assert.match(String((r as PromiseRejectedResult).reason), /boom/);
  assert.deepEqual(await ids(db), []);
  // the connection is usable afterwards, and alone the statement fails alone
  await insert(db, 'c');
  await assert.rejects(insert(db, 'boom'), /boom/);
  assert.deepEqual(await ids(db), ['c']);
});

test('a write settles only after its commit, and a read issued after it in the same turn sees it', async (t) => {
  const { db, file } = fixture(t);
  await table(db);
  const other = new BetterSqlite3(file, { readonly: true });
  t.after(() => other.close());
  const order: string[] = [];
  const committed = () => (other.prepare('select count(*) as n from t').get() as { n: number }).n;
  const w = insert(db, 'w').then(() => {
    // acknowledged: another connection (another process) already sees it committed
    order.push(`write settled, committed rows: ${committed()}`);
  });
  const r = ids(db).then((rows) => {
    order.push(`read settled: ${rows.join(',')}`);
  });
  // before the turn ends nothing is committed
  assert.equal(committed(), 0);
  await Promise.all([w, r]);
  assert.deepEqual(order, ['write settled, committed rows: 1', 'read settled: w']);
});

test('a transaction holds the connection: a plain write issued meanwhile lands after it, and survives its rollback', async (t) => {
  const { d, db } = fixture(t);
  await table(db);
  let plain: Promise<unknown> | undefined;
  const tx = d.db.transaction().execute(async (trx) => {
    await insert(trx as unknown as Kysely<Record<string, never>>, 'in-tx');
    plain = insert(db, 'plain');
    await new Promise((r) => setTimeout(r, 30));
    // the plain write waits for the transaction: it is not in it
    const seen = (await sql<{ id: string }>`select id from t order by id`.execute(trx)).rows.map((r) => r.id);
    assert.deepEqual(seen, ['in-tx']);
    throw new Error('abort the transaction');
  });
  await assert.rejects(tx, /abort the transaction/);
  await plain;
  assert.deepEqual(await ids(db), ['plain']);
});

test('transaction control through a plain query is refused with a clear error, and changes nothing', async (t) => {
  const { d, db } = fixture(t);
  await table(db);
  for (const stmt of ['begin', 'BEGIN IMMEDIATE', ' commit', 'rollback', 'savepoint x', 'release x', 'end']) {
    await assert.rejects(sql.raw(stmt).execute(db), /transaction control through a plain query .*: use db\.transaction\(\)/);
  }
  // inside a transaction too: it stays the driver's to end
  await d.db.transaction().execute(async (trx) => {
    await insert(trx as unknown as Kysely<Record<string, never>>, 'in-tx');
    await assert.rejects(sql.raw('commit').execute(trx), /transaction control through a plain query/);
  });
  await insert(db, 'after');
  assert.deepEqual(await ids(db), ['after', 'in-tx']);
});

test('writes queued when the store closes are committed, not dropped', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'portcullis-group-close-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const file = join(dir, 'c.db');
  const d = openSqlite(file);
  const db = d.db as unknown as Kysely<Record<string, never>>;
  await table(db);
  const pending = Array.from({ length: 5 }, (_, i) => insert(db, `q${i}`));
  await d.close();
  await Promise.all(pending);
  const check = new BetterSqlite3(file, { readonly: true });
  try {
    assert.equal((check.prepare('select count(*) as n from t').get() as { n: number }).n, 5);
  } finally {
    check.close();
  }
});

test('a group waiting for another connection’s write lock keeps taking writes, and all land once it is released', async (t) => {
  const { db, file, stats } = fixture(t);
  await table(db);
  const other = new BetterSqlite3(file);
  t.after(() => {
    if (other.inTransaction) other.prepare('rollback').run();
    other.close();
  });
  other.prepare('begin immediate').run();
  const before = stats();
  const first = [insert(db, 'a'), insert(db, 'b')];
  await new Promise((r) => setTimeout(r, 20));
  // joins the group still waiting for the lock
  const later = [insert(db, 'c'), ids(db)];
  await new Promise((r) => setTimeout(r, 20));
  assert.equal(stats().groups, before.groups, 'nothing committed while the other connection holds the lock');
  other.prepare('commit').run();
  const [, , , seen] = await Promise.all([...first, ...later]);
  assert.deepEqual(seen, ['a', 'b', 'c']);
  assert.equal(stats().groups - before.groups, 1);
});


/** Unhandled rejections seen while `fn` runs (a flush that throws would crash the node). */
async function unhandledDuring(fn: () => Promise<void>): Promise<string[]> {
  const seen: string[] = [];
  const on = (e: unknown) => void seen.push(String(e));
  process.on('unhandledRejection', on);
  try {
    await fn();
    await new Promise((r) => setTimeout(r, 20));
  } finally {
    process.off('unhandledRejection', on);
  }
  return seen;
}

const within = <T>(p: Promise<T>, ms: number): Promise<T | 'never settled'> =>
  Promise.race([p, new Promise<'never settled'>((r) => setTimeout(() => r('never settled'), ms))]);

test('a write issued between a group’s run and its settlement starts a new group: it runs and settles (driver)', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'portcullis-group-'));
  const file = join(dir, 'race.db');
  const conn = new BetterSqlite3(file);
  conn.pragma('journal_mode = WAL');
  conn.pragma('busy_timeout = 0');
  conn.exec('create table t (id text primary key)');
  t.after(() => {
    if (conn.open) conn.close();
    rmSync(dir, { recursive: true, force: true });
  });
  const { GroupCommitSqliteDialect } = await import('../../src/store/durable/sqlite-driver.js');
  const { CompiledQuery } = await import('kysely');
  const driver = new GroupCommitSqliteDialect(conn).createDriver() as import('kysely').Driver;
  const ins = (id: string) => CompiledQuery.raw('insert into t (id) values (?)', [id]);
  let a: Promise<string> | undefined;
  let b: Promise<string> | undefined;
  const unhandled = await unhandledDuring(async () => {
    const tx = await driver.acquireConnection();
    await driver.beginTransaction(tx, {});
    await tx.executeQuery(ins('in-tx'));
    const plain = await driver.acquireConnection();
    a = plain.executeQuery(ins('a')).then(() => 'settled', (e) => `rejected ${e}`);
    await new Promise((r) => setImmediate(r)); // the group's flush now waits for the transaction
    void driver.commitTransaction(tx); // frees the lock: the flush runs its group a microtask later
    queueMicrotask(() => {
      b = plain.executeQuery(ins('b')).then(() => 'settled', (e) => `rejected ${e}`);
    });
    assert.equal(await within(a, 2000), 'settled');
    assert.equal(await within(b!, 2000), 'settled');
  });
  assert.deepEqual(unhandled, []);
  assert.deepEqual(
    conn.prepare('select id from t order by id').all().map((r) => (r as { id: string }).id),
    ['a', 'b', 'in-tx'],
  );
});

test('a write issued a few microtasks before a transaction commits never joins a group that already ran (Kysely)', async (t) => {
  const { db } = fixture(t);
  await table(db);
  const unhandled = await unhandledDuring(async () => {
    for (let ticks = 0; ticks < 12; ticks++) {
      let stray: Promise<unknown> | undefined;
      const queued = insert(db, `queued-${ticks}`);
      await db.transaction().execute(async (trx) => {
        await sql`insert into t (id, v) values (${`tx-${ticks}`}, 'x')`.execute(trx);
        await new Promise((r) => setTimeout(r, 5)); // the group's flush waits for this transaction
        void (async () => {
          for (let i = 0; i < ticks; i++) await null;
          stray = insert(db, `stray-${ticks}`);
        })();
      });
      await queued;
      while (stray === undefined) await new Promise((r) => setImmediate(r));
      assert.equal(await within(stray.then(() => 'settled', (e) => `rejected ${e}`), 1000), 'settled', `offset ${ticks}`);
    }
  });
  assert.deepEqual(unhandled, []);
  assert.equal((await ids(db)).filter((id) => id.startsWith('stray-')).length, 12);
});
