/**
 * Kysely's SQLite driver, rewritten for one better-sqlite3 connection that many
 * concurrent requests share: group commit, prepared statements reused, and lock waits
 * off the event loop.
 *
 * **Group commit.** With `synchronous=FULL` every commit is an fsync, and better-sqlite3
 * runs it on the event loop: a sign-in made six of them, 0.3 ms each on an idle disk and
 * 0.8 ms under load, and nothing else ran meanwhile. Here a write outside a transaction
 * is not run at once: it joins the open group, and at the end of the loop's turn
 * (`setImmediate`) the group runs as one transaction (`BEGIN IMMEDIATE` … `COMMIT`), one
 * fsync for all. Each statement keeps its own outcome: SQLite undoes a failing statement
 * alone and the transaction goes on, so a constraint error reaches only its own caller.
 * If the transaction itself is lost (an I/O error, a failed commit), every member fails.
 * **A write's promise settles only after its group's commit returned**, so an
 * acknowledged write survives a crash exactly as before (`sqlite.crash.test.ts`).
 *
 * **Reads** run at once when nothing holds the connection: they see committed rows
 * only, since no group is ever left open across turns. While a group waits for a
 * transaction or for the write lock, reads queue in it behind the writes issued before
 * them, keeping the order callers issued them in.
 *
 * **Transactions** (`db.transaction()`) hold the connection from `BEGIN IMMEDIATE` to
 * `COMMIT` (FIFO with the groups): taking the write lock first means a transaction
 * never fails later on upgrading a read snapshot (SQLITE_BUSY_SNAPSHOT), and "read,
 * then write" cannot interleave with another process doing the same.
 *
 * **Busy.** When another process holds the write lock (a gateway-only node and an
 * identity node on one file), SQLite is told not to wait (`busy_timeout = 0`, set by
 * the caller): sleeping in its busy handler would stall every request of the node. The
 * group or the `BEGIN` is retried after 1, 2, 4 … 32 ms instead, until
 * `SQLITE_BUSY_TIMEOUT_MS` have passed.
 *
 * **The file.** A database file or -wal deleted or replaced under the connection is not
 * noticed by SQLite: it goes on writing into the unlinked inode, and every write
 * acknowledged then is gone at the next start. The caller's `checkFile` (sqlite.ts: the
 * paths still name the files opened, -shm included) runs before each group that writes
 * and at each transaction's `BEGIN` and `COMMIT`, three `stat`s each; when it throws, the
 * group or transaction fails having committed nothing.
 */
import type BetterSqlite3 from 'better-sqlite3';
import {
  SqliteAdapter,
  SqliteIntrospector,
  SqliteQueryCompiler,
  type CompiledQuery,
  type DatabaseConnection,
  type DatabaseIntrospector,
  type Dialect as KyselyDialect,
  type DialectAdapter,
  type Driver,
  type Kysely,
  type QueryCompiler,
  type QueryResult,
} from 'kysely';

export const SQLITE_BUSY_TIMEOUT_MS = 5000;

/** Statements kept prepared per connection (the most recently used). */
const STATEMENT_CACHE = 256;

/** Counters of the group commits, for tests and diagnostics. */
export interface SqliteCommitStats {
  /** Groups committed that wrote something, each one fsync (a group of one runs in autocommit and counts too). */
  groups: number;
  /** Statements run in those groups (reads queued behind their writes included). */
  statements: number;
  /** Reads run at once, outside any group. */
  directReads: number;
}

/** SQLITE_BUSY and SQLITE_BUSY_RECOVERY pass once the other connection is done. */
function isBusy(e: unknown): boolean {
  const code = (e as { code?: unknown } | null)?.code;
  return code === 'SQLITE_BUSY' || code === 'SQLITE_BUSY_RECOVERY';
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Runs `attempt`, again after 1, 2, 4 … 32 ms while it throws busy, until `SQLITE_BUSY_TIMEOUT_MS` have passed. */
async function retryWhileBusy<T>(attempt: () => T): Promise<T> {
  let deadline: number | undefined;
  for (let wait = 1; ; wait = Math.min(wait * 2, 32)) {
    try {
      return attempt();
    } catch (e) {
      if (!isBusy(e)) throw e;
      deadline ??= Date.now() + SQLITE_BUSY_TIMEOUT_MS;
      if (Date.now() + wait > deadline) throw e;
      await sleep(wait);
    }
  }
}

type Outcome = { ok: true; r: QueryResult<unknown> } | { ok: false; e: unknown };

/** Transaction control belongs to the driver: issued as plain SQL it would bypass the groups. */
const CONTROL = /^\s*(begin|commit|end|rollback|savepoint|release)\b/i;

interface Pending {
  stmt: BetterSqlite3.Statement;
  parameters: readonly unknown[];
  resolve(r: QueryResult<unknown>): void;
  reject(e: unknown): void;
}

/** FIFO lock: the connection belongs to one group or one transaction at a time. */
class Lock {
  private held = false;
  private readonly waiters: Array<() => void> = [];

  get free(): boolean {
    return !this.held;
  }

  acquire(): Promise<void> {
    if (!this.held) {
      this.held = true;
      return Promise.resolve();
    }
    return new Promise((r) => this.waiters.push(r));
  }

  /** Hands the lock to the next waiter, or frees it. */
  release(): void {
    const next = this.waiters.shift();
    if (next !== undefined) next();
    else this.held = false;
  }
}

/** The error code of a text value with NUL: refused here as PostgreSQL refuses it, so both stores accept the same input. */
export const SQLITE_NUL_IN_TEXT = 'PORTCULLIS_NUL_IN_TEXT';

/** The error code of a write refused because the database file at the path is no longer the one open (sqlite.ts). */
export const SQLITE_FILE_REPLACED = 'PORTCULLIS_SQLITE_FILE_REPLACED';

/** The error code of a write refused because the -wal file at its path is no longer the one SQLite has open (sqlite.ts). */
export const SQLITE_WAL_REPLACED = 'PORTCULLIS_SQLITE_WAL_REPLACED';

/** What a write refused for `SQLITE_WAL_REPLACED` says (store-error.ts); names no path. */
export const SQLITE_WAL_REPLACED_MESSAGE =
  'the database -wal file was removed or replaced; stop the node (a clean stop, not kill -9: closing writes the open -wal into the database file) and start it again';

/** The error code of a write refused because the -shm file (the WAL index) at its path is no longer the one SQLite has open (sqlite.ts). */
export const SQLITE_SHM_REPLACED = 'PORTCULLIS_SQLITE_SHM_REPLACED';

/** What a write refused for `SQLITE_SHM_REPLACED` says (store-error.ts); names no path. */
export const SQLITE_SHM_REPLACED_MESSAGE =
  'the database -shm file was removed or replaced; stop the node (a clean stop, not kill -9: closing writes the open -wal into the database file) and start it again';

function execute(stmt: BetterSqlite3.Statement, parameters: readonly unknown[]): QueryResult<unknown> {
  for (const p of parameters) {
    if (typeof p === 'string' && p.includes('\u0000')) throw Object.assign(new Error('a text value contains NUL'), { code: SQLITE_NUL_IN_TEXT });
  }
  if (stmt.reader) return { rows: stmt.all(parameters) as unknown[] };
  const { changes, lastInsertRowid } = stmt.run(parameters);
  return { numAffectedRows: BigInt(changes), insertId: BigInt(lastInsertRowid), rows: [] };
}

class GroupCommitDriver implements Driver {
  readonly stats: SqliteCommitStats = { groups: 0, statements: 0, directReads: 0 };
  private readonly statements = new Map<string, BetterSqlite3.Statement>();
  private readonly lock = new Lock();
  /** Statements waiting for the next group; undefined when none is open. */
  private open: Pending[] | undefined;
  private closed = false;

  constructor(
    private readonly conn: BetterSqlite3.Database,
    private readonly checkFile: () => void,
  ) {}

  async init(): Promise<void> {}

  /**
   * Kysely prepares every query afresh; SQLite parsing and planning the same SQL again
   * costs as much as running it (a sign-in runs some thirty queries on the event loop).
   */
  prepare(text: string): BetterSqlite3.Statement {
    let stmt = this.statements.get(text);
    if (stmt !== undefined) {
      this.statements.delete(text);
    } else {
      stmt = this.conn.prepare(text);
      if (this.statements.size >= STATEMENT_CACHE) this.statements.delete(this.statements.keys().next().value!);
    }
    this.statements.set(text, stmt);
    return stmt;
  }

  async acquireConnection(): Promise<DatabaseConnection> {
    return new Handle(this);
  }

  /** A statement outside a transaction: a read at once if it can be, otherwise into the open group. */
  submit(q: CompiledQuery): Promise<QueryResult<unknown>> {
    if (this.closed) return Promise.reject(new Error('the SQLite connection is closed'));
    let stmt: BetterSqlite3.Statement;
    try {
      stmt = this.prepare(q.sql);
    } catch (e) {
      return Promise.reject(e);
    }
    if (stmt.readonly && this.lock.free && this.open === undefined) {
      try {
        const r = execute(stmt, q.parameters);
        this.stats.directReads++;
        return Promise.resolve(r);
      } catch (e) {
        // a busy read waits in a group like a write; any other error is the caller's
        if (!isBusy(e)) return Promise.reject(e);
      }
    }
    return new Promise((resolve, reject) => {
      const item: Pending = { stmt, parameters: q.parameters, resolve, reject };
      if (this.open !== undefined) {
        this.open.push(item);
        return;
      }
      this.open = [item];
      this.scheduleFlush();
    });
  }

  /**
   * Runs the open group once the connection is free (newcomers join until then). The
   * group is detached in the same synchronous step that runs it, so a write issued
   * afterwards, even a microtask later, opens a new group instead of joining one that
   * already ran.
   */
  private async flush(): Promise<void> {
    await this.lock.acquire();
    let items: Pending[] | undefined;
    try {
      let outcome: Outcome[];
      try {
        outcome = await retryWhileBusy(() => {
          const group = this.open ?? [];
          try {
            // throws busy having run nothing: the group stays open and newcomers still join it
            const out = group.length === 0 ? [] : this.runGroup(group);
            this.open = undefined;
            items = group;
            return out;
          } catch (e) {
            if (!isBusy(e)) {
              this.open = undefined;
              items = group;
            }
            throw e;
          }
        });
      } catch (e) {
        // nothing of the group ran
        items ??= this.detach();
        for (const it of items) it.reject(e);
        return;
      }
      items!.forEach((it, i) => {
        const o = outcome[i];
        if (o === undefined) it.reject(new Error('the SQLite group commit lost track of a statement'));
        else if (o.ok) it.resolve(o.r);
        else it.reject(o.e);
      });
    } catch (e) {
      // a defect here must not leave a caller waiting forever (settled promises ignore this)
      for (const it of items ?? []) it.reject(e);
      throw e;
    } finally {
      this.lock.release();
    }
  }

  /** Takes the open group out, so that the next write opens a new one. */
  private detach(): Pending[] {
    const group = this.open ?? [];
    this.open = undefined;
    return group;
  }

  /** Schedules a flush; one that throws has rejected what it held, and must not crash the process. */
  private scheduleFlush(): void {
    setImmediate(() => {
      this.flush().catch(() => {});
    });
  }

  /**
   * Runs a group as one transaction and returns each member's outcome; throws, having
   * run nothing, when the write lock is busy.
   */
  private runGroup(items: Pending[]): Outcome[] {
    if (!items.every((it) => it.stmt.readonly)) this.checkFile();
    if (items.length === 1) {
      // autocommit: one statement is its own transaction
      const it = items[0]!;
      let r: QueryResult<unknown>;
      try {
        r = execute(it.stmt, it.parameters);
      } catch (e) {
        if (isBusy(e)) throw e;
        return [{ ok: false, e }];
      }
      this.count(items);
      return [{ ok: true, r }];
    }
    this.prepare('BEGIN IMMEDIATE').run();
    const out: Outcome[] = [];
    for (const it of items) {
      try {
        out.push({ ok: true, r: execute(it.stmt, it.parameters) });
      } catch (e) {
        out.push({ ok: false, e });
        // SQLite undid the statement alone unless the error ended the transaction
        if (!this.conn.inTransaction) return items.map(() => ({ ok: false, e }));
      }
    }
    try {
      this.prepare('COMMIT').run();
    } catch (e) {
      try {
        if (this.conn.inTransaction) this.prepare('ROLLBACK').run();
      } catch {
        // the commit's error is the one to report; SQLite ends the transaction on close at worst
      }
      return items.map(() => ({ ok: false, e }));
    }
    this.count(items);
    return out;
  }

  /** A committed group counts when it wrote (a group of reads alone commits nothing to disk). */
  private count(items: Pending[]): void {
    if (items.every((it) => it.stmt.readonly)) return;
    this.stats.groups++;
    this.stats.statements += items.length;
  }

  async beginTransaction(connection: DatabaseConnection): Promise<void> {
    await this.lock.acquire();
    try {
      this.checkFile();
      await retryWhileBusy(() => this.prepare('BEGIN IMMEDIATE').run());
    } catch (e) {
      this.lock.release();
      throw e;
    }
    (connection as Handle).inTransaction = true;
  }

  async commitTransaction(connection: DatabaseConnection): Promise<void> {
    const h = connection as Handle;
    try {
      // a throw leaves the transaction open: Kysely rolls it back
      this.checkFile();
      this.prepare('COMMIT').run();
    } catch (e) {
      // Kysely rolls back after a failed commit; if SQLite already ended it, let go here
      if (!this.conn.inTransaction) this.end(h);
      throw e;
    }
    this.end(h);
  }

  async rollbackTransaction(connection: DatabaseConnection): Promise<void> {
    const h = connection as Handle;
    try {
      if (this.conn.inTransaction) this.prepare('ROLLBACK').run();
    } finally {
      this.end(h);
    }
  }

  async savepoint(connection: DatabaseConnection, name: string): Promise<void> {
    await this.savepointCommand(connection, 'savepoint', name);
  }

  async rollbackToSavepoint(connection: DatabaseConnection, name: string): Promise<void> {
    await this.savepointCommand(connection, 'rollback to', name);
  }

  async releaseSavepoint(connection: DatabaseConnection, name: string): Promise<void> {
    await this.savepointCommand(connection, 'release', name);
  }

  private async savepointCommand(connection: DatabaseConnection, command: string, name: string): Promise<void> {
    if (!(connection as Handle).inTransaction) throw new Error(`${command} savepoint outside a transaction`);
    // SQLite identifiers: Kysely's savepoint names are the caller's; quote them
    this.conn.prepare(`${command} "${name.replace(/"/g, '""')}"`).run();
  }

  private end(h: Handle): void {
    if (!h.inTransaction) return;
    h.inTransaction = false;
    this.lock.release();
  }

  async releaseConnection(): Promise<void> {}

  async destroy(): Promise<void> {
    // Settle what was issued before closing, including queries still on their way
    // through Kysely's promises: wait for turns with no group open and no transaction.
    for (;;) {
      await new Promise((r) => setImmediate(r));
      if (this.open === undefined && this.lock.free) break;
    }
    this.closed = true;
    this.conn.close();
  }
}

/** One caller's view of the connection: plain queries go through the groups, a transaction's run on it directly. */
class Handle implements DatabaseConnection {
  inTransaction = false;

  constructor(private readonly driver: GroupCommitDriver) {}

  executeQuery<R>(q: CompiledQuery): Promise<QueryResult<R>> {
    // the driver owns BEGIN/COMMIT: issued as plain SQL they would bypass the groups and the lock
    if (CONTROL.test(q.sql)) return Promise.reject(new Error(`transaction control through a plain query (${q.sql.trim().split(/\s/)[0]}): use db.transaction()`));
    if (!this.inTransaction) return this.driver.submit(q) as Promise<QueryResult<R>>;
    try {
      return Promise.resolve(execute(this.driver.prepare(q.sql), q.parameters) as QueryResult<R>);
    } catch (e) {
      return Promise.reject(e);
    }
  }

  async *streamQuery<R>(q: CompiledQuery): AsyncIterableIterator<QueryResult<R>> {
    const r = await this.executeQuery<R>(q);
    for (const row of r.rows) yield { rows: [row] };
  }
}

/**
 * SQLite DDL is transactional, which Kysely's SqliteAdapter does not claim; claiming it
 * makes the Migrator run the pending migrations in one `db.transaction()`, which this
 * driver begins IMMEDIATE: the file's write lock is taken before the migrator reads which
 * migrations ran, so processes migrating one file serialise, and a crash in the middle
 * rolls the whole run back instead of leaving half a schema.
 */
class TransactionalDdlSqliteAdapter extends SqliteAdapter {
  override get supportsTransactionalDdl(): boolean {
    return true;
  }
}

/**
 * Kysely's SQLite dialect on one better-sqlite3 connection, with the group-commit driver;
 * `checkFile` throws when the connection's file can no longer take durable writes.
 */
export class GroupCommitSqliteDialect implements KyselyDialect {
  private driver: GroupCommitDriver | undefined;

  constructor(
    private readonly conn: BetterSqlite3.Database,
    private readonly checkFile: () => void = () => undefined,
  ) {}

  createDriver(): Driver {
    this.driver = new GroupCommitDriver(this.conn, this.checkFile);
    return this.driver;
  }

  createQueryCompiler(): QueryCompiler {
    return new SqliteQueryCompiler();
  }

  createAdapter(): DialectAdapter {
    return new TransactionalDdlSqliteAdapter();
  }

  createIntrospector(db: Kysely<unknown>): DatabaseIntrospector {
    return new SqliteIntrospector(db);
  }

  /** The driver's counters (undefined before Kysely created the driver). */
  get stats(): SqliteCommitStats | undefined {
    return this.driver?.stats;
  }
}
