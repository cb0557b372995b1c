/**
 * PostgreSQL connection for the durable store (node-postgres pool). `bigint`
 * columns hold epoch ms and sequence numbers; they are parsed to JS numbers here
 * (and refused when beyond 2^53, which no timestamp reaches).
 */
import pg from 'pg';
import { Kysely, PostgresDialect, sql } from 'kysely';
import { PortcullisError } from '../../core/errors.js';
import type { Logger } from '../../core/logger.js';
import { BREAKER_PROBE_TIMEOUT_MS, StoreBreaker } from './breaker.js';
import { classifyPostgresFailure } from './postgres-failure.js';
import { AcknowledgedWrites } from './acknowledged-writes.js';
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
 * through storeError) and pg-pool drops the client on release. Such a timeout, and a
 * connect that fails (refused, reset, or cut at the pool's connect timeout), are told to
 * `lost`: the store is then taken for down (breaker.ts).
 */
function timedClient(readTimeoutMs: number, lost: (e: Error) => void): typeof pg.Client {
  return class TimedClient extends pg.Client {
    override connect(...args: unknown[]): any {
      const cb = args[0] as ((err?: Error) => void) | undefined;
      if (typeof cb === 'function') {
        return (super.connect as (c: (err?: Error) => void) => void)((err) => {
          if (err) lost(err);
          cb(err);
        });
      }
      return (super.connect as () => Promise<unknown>)().catch((err: Error) => {
        lost(err);
        throw err;
      });
    }

    override query(...args: unknown[]): any {
      const result = (super.query as (...a: unknown[]) => unknown)(...args);
      if (!(result instanceof Promise)) return result;
      const timer = setTimeout(() => {
        const e = Object.assign(new Error(`no answer from PostgreSQL within ${readTimeoutMs} ms`), { code: 'ETIMEDOUT' });
        lost(e);
        (this as unknown as { connection: { stream: { destroy(e: Error): void } } }).connection.stream.destroy(e);
      }, readTimeoutMs);
      return result.finally(() => clearTimeout(timer));
    }
  };
}

/** Ends a client's socket at once (no goodbye: the server may not be reached). */
function destroyClient(client: pg.Client, e?: Error): void {
  (client as unknown as { connection?: { stream?: { destroy(e?: Error): void } } }).connection?.stream?.destroy(e);
}

/**
 * A pool whose connections' failures are logged, never thrown. node-postgres emits
 * `error` on a client whose connection ends while it is checked out (a query in flight
 * when the server or the network goes away) after failing its queries, and pg-pool
 * listens only while a client is idle: unheard, that event is an uncaught exception that
 * ends the process. The failed query rejects (`store.unavailable`) and the pool drops the
 * broken client when it is released, so the next query makes a new connection. With
 * `client`, a statement without an answer in `readTimeoutMs` ends its connection, and
 * that or a failed connect is told to `lost`.
 */
function newPool(config: pg.PoolConfig, logger: Logger | undefined, client?: { readTimeoutMs: number; lost: (e: Error) => void }): pg.Pool {
  const pool = new pg.Pool(client === undefined ? config : { ...config, Client: timedClient(client.readTimeoutMs, client.lost) });
  const warn = (e: Error & { code?: string }): void => logger?.warn({ code: e.code, err: e.message }, 'postgres connection lost');
  pool.on('error', warn);
  pool.on('connect', (c) => c.on('error', warn));
  return pool;
}

/** Runtime connections per node. */
export const POOL_MAX = 10;
/** Longest wait for a connection: a free one from the pool, or a new one made. */
export const CONNECT_TIMEOUT_MS = 5000;
/**
 * Most statements that may wait for a connection at once. pg-pool queues waiters without
 * a bound (each for at most CONNECT_TIMEOUT_MS); past this many the next is refused
 * `store.unavailable` at once: they could not all be served within that time anyway.
 */
export const POOL_MAX_WAITING = 500;

/**
 * The pool as Kysely sees it, behind the store's breaker: while the store is taken for
 * down a connection is refused at once (`store.unavailable`), and the statements already
 * waiting for one are refused when it goes down (a connection they get later is given
 * back). A connection made before the store last went down is not handed out again (it
 * may be half-open after a partition): it is dropped and another taken.
 */
class GuardedPool {
  private waiting = 0;
  private readonly waiters = new Set<(e: Error) => void>();
  /** Bumped each time the store goes down; a client remembers the one it connected in. */
  private epoch = 0;
  private readonly epochOf = new WeakMap<pg.PoolClient, number>();

  constructor(
    private readonly pool: pg.Pool,
    private readonly breaker: StoreBreaker,
  ) {
    pool.on('connect', (c) => this.epochOf.set(c as pg.PoolClient, this.epoch));
    breaker.onChange((down) => {
      if (!down) return;
      this.epoch++;
      // on the next turn: the waiter whose connect failed (and tripped the breaker) gets that failure, not a refusal
      setImmediate(() => {
        if (!breaker.isOpen) return;
        const refusal = breaker.refusal();
        for (const reject of [...this.waiters]) reject(refusal);
      });
    });
  }

  async connect(): Promise<pg.PoolClient> {
    this.breaker.check();
    if (this.waiting >= POOL_MAX_WAITING) {
      throw new PortcullisError('store.unavailable', `${POOL_MAX_WAITING} statements already wait for a PostgreSQL connection`, { details: { retryable: true, retryAfterMs: 1000 } });
    }
    this.waiting++;
    try {
      for (;;) {
        const client = await this.acquire();
        if ((this.epochOf.get(client) ?? this.epoch) >= this.epoch) return client;
        client.release(true);
      }
    } finally {
      this.waiting--;
    }
  }

  private acquire(): Promise<pg.PoolClient> {
    return new Promise<pg.PoolClient>((resolve, reject) => {
      let refused = false;
      const refuse = (e: Error): void => {
        refused = true;
        this.waiters.delete(refuse);
        reject(e);
      };
      this.waiters.add(refuse);
      this.pool.connect().then(
        (client) => {
          this.waiters.delete(refuse);
          if (refused) client.release();
          else resolve(client);
        },
        (e: unknown) => {
          this.waiters.delete(refuse);
          if (!refused) reject(e);
        },
      );
    });
  }

  end(): Promise<void> {
    this.breaker.close();
    return this.pool.end();
  }
}

/**
 * One connect and `select 1` on a connection of its own, within `timeoutMs`: whether the
 * server is reached again. It stays in `inFlight` while it runs (the store ends it when closing).
 */
function probeOnce(connectionString: string, timeoutMs: number, inFlight: Set<pg.Client>): Promise<void> {
  const client = new pg.Client({ connectionString, connectionTimeoutMillis: timeoutMs });
  client.on('error', () => undefined);
  inFlight.add(client);
  const timer = setTimeout(() => destroyClient(client, Object.assign(new Error(`no answer within ${timeoutMs} ms`), { code: 'ETIMEDOUT' })), timeoutMs);
  return (async () => {
    try {
      await client.connect();
      await client.query('select 1');
      await client.end();
    } finally {
      clearTimeout(timer);
      destroyClient(client);
      inFlight.delete(client);
    }
  })();
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
  const probes = new Set<pg.Client>();
  const breaker = new StoreBreaker({ probe: () => probeOnce(connectionString, BREAKER_PROBE_TIMEOUT_MS, probes), logger, classify: classifyPostgresFailure });
  const raw = newPool(
    { connectionString, types, max: POOL_MAX, connectionTimeoutMillis: CONNECT_TIMEOUT_MS, idleTimeoutMillis: 30_000, statement_timeout: statementTimeout },
    logger,
    { readTimeoutMs: statementTimeout + READ_TIMEOUT_MARGIN_MS, lost: (e) => breaker.trip(e) },
  );
  const pool = new GuardedPool(raw, breaker);
  const writes = new AcknowledgedWrites();
  const db = new Kysely<Database>({ dialect: writes.wrap(new PostgresDialect({ pool })) });
  return {
    kind: 'postgres',
    db,
    onWrite: (fn) => writes.on(fn),
    onReachable: (fn) => breaker.onChange((down) => void (down || fn())),
    downReason: () => (breaker.isOpen ? breaker.refusal({ expose: true }) : undefined),
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
    async synchronousCommit() {
      const { rows } = await sql<{ synchronous_commit: string }>`show synchronous_commit`.execute(db);
      return rows[0]!.synchronous_commit;
    },
    async unbounded(fn) {
      const own = newPool({ connectionString, types, max: 1, connectionTimeoutMillis: CONNECT_TIMEOUT_MS }, logger);
      const unboundedDb = new Kysely<Database>({ dialect: new PostgresDialect({ pool: own }) });
      try {
        return await fn(unboundedDb);
      } finally {
        await unboundedDb.destroy();
      }
    },
    async close() {
      breaker.close();
      for (const c of probes) destroyClient(c);
      await db.destroy();
    },
  };
}
