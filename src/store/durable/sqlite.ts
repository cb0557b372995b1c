/**
 * SQLite connection for the durable store (better-sqlite3, one file, WAL).
 * `synchronous=FULL` makes every acknowledged commit survive a crash of the process
 * or the machine. When another process holds the write lock (a gateway-only node and
 * an identity node on one file), a statement waits for it up to
 * `SQLITE_BUSY_TIMEOUT_MS` — but not inside SQLite's busy handler, which would sleep
 * on the event loop and stall every request of the node (measured: a gateway-only
 * process's p99 went from 3 to 54 ms during a sign-in storm in another process, from
 * its sampled audit writes). SQLite is told not to wait (`busy_timeout = 0`) and the
 * statement is retried after a timer instead, so the loop serves others meanwhile.
 */
import { mkdirSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import BetterSqlite3 from 'better-sqlite3';
import { Kysely, SqliteDialect, sql, type CompiledQuery, type DatabaseConnection, type Driver, type QueryResult, type SqliteDatabase } from 'kysely';
import type { Database } from './schema.js';
import type { Dialect } from './store.js';

export const SQLITE_BUSY_TIMEOUT_MS = 5000;

interface Shared {
  db: Kysely<Database>;
  refs: number;
}

/**
 * One connection per file per process. better-sqlite3 is synchronous: a second
 * connection in the same process waiting on the first one's write lock would block
 * the very thread that has to release it. Instances on one file share a connection,
 * whose Kysely mutex serialises them instead.
 */
const open = new Map<string, Shared>();

/** Statements kept prepared per connection (the most recently used). */
const STATEMENT_CACHE = 256;

/**
 * The connection as Kysely sees it, with prepared statements reused: Kysely prepares
 * every query afresh, and SQLite parsing and planning the same SQL again cost as much
 * as running it (a sign-in runs some thirty queries on the event loop).
 */
function reusingStatements(conn: BetterSqlite3.Database): SqliteDatabase {
  const cache = new Map<string, BetterSqlite3.Statement>();
  return {
    close: () => conn.close(),
    prepare(text: string) {
      let stmt = cache.get(text);
      if (stmt !== undefined) {
        cache.delete(text);
      } else {
        stmt = conn.prepare(text);
        if (cache.size >= STATEMENT_CACHE) cache.delete(cache.keys().next().value!);
      }
      cache.set(text, stmt);
      return stmt;
    },
  };
}

/** SQLITE_BUSY and SQLITE_BUSY_RECOVERY pass once the other connection is done; SQLITE_BUSY_SNAPSHOT never does (the transaction must restart). */
function isBusy(e: unknown): boolean {
  const code = (e as { code?: unknown } | null)?.code;
  return code === 'SQLITE_BUSY' || code === 'SQLITE_BUSY_RECOVERY';
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Runs each statement, and on a busy database retries it after 1, 2, 4 … 32 ms until `SQLITE_BUSY_TIMEOUT_MS` have passed. */
function yieldingOnBusy(c: DatabaseConnection): DatabaseConnection {
  return {
    async executeQuery<R>(q: CompiledQuery): Promise<QueryResult<R>> {
      let deadline: number | undefined;
      for (let wait = 1; ; wait = Math.min(wait * 2, 32)) {
        try {
          return await c.executeQuery<R>(q);
        } catch (e) {
          if (!isBusy(e)) throw e;
          deadline ??= Date.now() + SQLITE_BUSY_TIMEOUT_MS;
          if (Date.now() + wait > deadline) throw e;
          await sleep(wait);
        }
      }
    },
    streamQuery: (q, chunkSize) => c.streamQuery(q, chunkSize),
  };
}

/** Kysely's SQLite dialect with `yieldingOnBusy` around its one connection. */
class YieldingSqliteDialect extends SqliteDialect {
  override createDriver(): Driver {
    const driver = super.createDriver();
    const acquire = driver.acquireConnection.bind(driver);
    let wrapped: DatabaseConnection | undefined;
    let inner: DatabaseConnection | undefined;
    driver.acquireConnection = async () => {
      const c = await acquire();
      if (c !== inner) {
        inner = c;
        wrapped = yieldingOnBusy(c);
      }
      return wrapped!;
    };
    return driver;
  }
}

function connect(path: string): Kysely<Database> {
  if (path !== ':memory:') mkdirSync(dirname(path), { recursive: true });
  const conn = new BetterSqlite3(path);
  try {
    // at open, waiting inside SQLite is fine (nothing else runs yet; another node may be switching the file to WAL)
    conn.pragma(`busy_timeout = ${SQLITE_BUSY_TIMEOUT_MS}`);
    conn.pragma('journal_mode = WAL');
    conn.pragma('synchronous = FULL');
    conn.pragma('foreign_keys = ON');
    // from now on lock waits are retried off the event loop (yieldingOnBusy), never slept in SQLite
    conn.pragma('busy_timeout = 0');
  } catch (e) {
    conn.close();
    throw e;
  }
  return new Kysely<Database>({ dialect: new YieldingSqliteDialect({ database: reusingStatements(conn) }) });
}

/** Opens (creating if needed) the file at `path`, or a private in-memory database for `:memory:`. */
export function openSqlite(path: string): Dialect {
  const key = path === ':memory:' ? undefined : resolve(path);
  let shared = key === undefined ? undefined : open.get(key);
  if (shared === undefined) {
    shared = { db: connect(key ?? path), refs: 0 };
    if (key !== undefined) open.set(key, shared);
  }
  shared.refs++;
  const { db } = shared;
  let closed = false;
  return {
    kind: 'sqlite',
    db,
    // BEGIN IMMEDIATE takes the write lock before the first read, so "read the head,
    // then append" cannot interleave with another process doing the same.
    async serialized(fn) {
      return db.connection().execute(async (c) => {
        await sql`begin immediate`.execute(c);
        try {
          const result = await fn(c);
          await sql`commit`.execute(c);
          return result;
        } catch (e) {
          await sql`rollback`.execute(c).catch(() => undefined);
          throw e;
        }
      });
    },
    async close() {
      if (closed) return;
      closed = true;
      if (--shared.refs > 0) return;
      if (key !== undefined && open.get(key) === shared) open.delete(key);
      await db.destroy();
    },
  };
}
