/**
 * PostgreSQL connection for the durable store (node-postgres pool). `bigint`
 * columns hold epoch ms and sequence numbers; they are parsed to JS numbers here
 * (and refused when beyond 2^53, which no timestamp reaches).
 */
import pg from 'pg';
import { Kysely, PostgresDialect, sql } from 'kysely';
import type { Logger } from '../../core/logger.js';
import type { Database } from './schema.js';
import type { Dialect } from './store.js';

/** pg_advisory_xact_lock(classid, objid): 'port' as int32, then the resource. */
const LOCK_CLASS = 0x706f7274;
export const AUDIT_LOCK = 1;

/**
 * How long an audit append waits for another session's audit lock before it fails
 * `store.unavailable` (as SQLite waits for a held write lock: SQLITE_BUSY_TIMEOUT_MS).
 */
export const AUDIT_LOCK_TIMEOUT_MS = 5000;

function parseInt8(text: string): number {
  const n = Number(text);
  if (!Number.isSafeInteger(n)) throw new RangeError('bigint column value is beyond Number.MAX_SAFE_INTEGER');
  return n;
}

const types = {
  getTypeParser(oid: number, format?: 'text' | 'binary') {
    if (oid === pg.types.builtins.INT8 && format !== 'binary') return parseInt8;
    return pg.types.getTypeParser(oid, format as 'text');
  },
} as pg.CustomTypesConfig;

/**
 * How much longer than `statement_timeout` a runtime statement may wait for its answer
 * before its connection is taken for lost: the server cancels a slow statement itself at
 * `statement_timeout`; an answer that has not come by then plus this margin is not coming
 * (a network partition, a frozen server).
 */
export const READ_TIMEOUT_MARGIN_MS = 1000;

/**
 * A client class whose statements wait at most `readTimeoutMs` for an answer, then end
 * their connection (ETIMEDOUT): statement_timeout is the server's and cannot end a wait
 * for a server that is not reached. The statements in flight fail (`store.unavailable`
 * through storeError) and pg-pool drops the client on release.
 */
function timedClient(readTimeoutMs: number): typeof pg.Client {
  return class TimedClient extends pg.Client {
    override query(...args: unknown[]): any {
      const result = (super.query as (...a: unknown[]) => unknown)(...args);
      if (!(result instanceof Promise)) return result;
      const timer = setTimeout(() => {
        const lost = Object.assign(new Error(`no answer from PostgreSQL within ${readTimeoutMs} ms`), { code: 'ETIMEDOUT' });
        (this as unknown as { connection: { stream: { destroy(e: Error): void } } }).connection.stream.destroy(lost);
      }, readTimeoutMs);
      return result.finally(() => clearTimeout(timer));
    }
  };
}

/**
 * A pool whose connections' failures are logged, never thrown. node-postgres emits
 * `error` on a client whose connection ends while it is checked out (a query in flight
 * when the server or the network goes away) after failing its queries, and pg-pool
 * listens only while a client is idle: unheard, that event is an uncaught exception that
 * ends the process. The failed query rejects (`store.unavailable`) and the pool drops the
 * broken client when it is released, so the next query makes a new connection. With
 * `readTimeoutMs`, a statement without an answer in that time ends its connection.
 */
function newPool(config: pg.PoolConfig, logger: Logger | undefined, readTimeoutMs?: number): pg.Pool {
  const pool = new pg.Pool(readTimeoutMs === undefined ? config : { ...config, Client: timedClient(readTimeoutMs) });
  const warn = (e: Error & { code?: string }): void => logger?.warn({ code: e.code, err: e.message }, 'postgres connection lost');
  pool.on('error', warn);
  pool.on('connect', (client) => client.on('error', warn));
  return pool;
}

/** `postgres.statementTimeout` when none is given. */
export const DEFAULT_STATEMENT_TIMEOUT_MS = 10_000;

/**
 * `statementTimeoutMs`: PostgreSQL's `statement_timeout` on every runtime connection, so a
 * stuck query (a lock never granted, a runaway plan) is cancelled by the server and fails
 * `store.unavailable` (57014) instead of holding its request for ever; a statement whose
 * answer does not come `READ_TIMEOUT_MARGIN_MS` later (the connection went silent) fails
 * the same way and its connection is dropped. Migrations run on a connection of their
 * own without either bound (`unbounded`).
 */
export function openPostgres(connectionString: string, logger?: Logger, opts: { statementTimeoutMs?: number } = {}): Dialect {
  const statementTimeout = opts.statementTimeoutMs ?? DEFAULT_STATEMENT_TIMEOUT_MS;
  const pool = newPool({ connectionString, types, max: 10, connectionTimeoutMillis: 5000, idleTimeoutMillis: 30_000, statement_timeout: statementTimeout }, logger, statementTimeout + READ_TIMEOUT_MARGIN_MS);
  const db = new Kysely<Database>({ dialect: new PostgresDialect({ pool }) });
  return {
    kind: 'postgres',
    db,
    // A transaction-scoped advisory lock serialises appenders on every node; in
    // READ COMMITTED each later statement sees what the previous holder committed.
    // A holder that never lets go (a frozen node, a half-open connection) fails the wait
    // after AUDIT_LOCK_TIMEOUT_MS (lock_not_available → store.unavailable) instead of
    // stalling every append of every node for as long as its session lives.
    async serialized(fn) {
      return db.transaction().execute(async (trx) => {
        await sql`set local lock_timeout = ${sql.lit(`${AUDIT_LOCK_TIMEOUT_MS}ms`)}`.execute(trx);
        await sql`select pg_advisory_xact_lock(${sql.lit(LOCK_CLASS)}, ${sql.lit(AUDIT_LOCK)})`.execute(trx);
        return fn(trx);
      });
    },
    async unbounded(fn) {
      const own = newPool({ connectionString, types, max: 1, connectionTimeoutMillis: 5000 }, logger);
      const unboundedDb = new Kysely<Database>({ dialect: new PostgresDialect({ pool: own }) });
      try {
        return await fn(unboundedDb);
      } finally {
        await unboundedDb.destroy();
      }
    },
    close: () => db.destroy(),
  };
}
