/**
 * Tells listeners of every write the database acknowledged on a Kysely instance: a write
 * outside a transaction once it returned (on SQLite's group-commit driver, once its group
 * committed), a transaction that wrote once its COMMIT returned. Each is told with when
 * it was issued (`performance.now()`, a transaction's at its BEGIN), so that a write
 * issued before a fault was noted proves nothing about the storage after it. The store's
 * write-fault tracking (write-faults.ts) clears on it: a write that succeeded is the
 * proof of writability the probe would have given, at no extra statement.
 *
 * Only statements Kysely built as writes count (insert, update, delete, merge); raw SQL,
 * whatever it does, is not told. Per write the cost is a `performance.now()` and a call.
 */
import type { CompiledQuery, DatabaseConnection, Dialect, Driver, QueryResult, TransactionSettings } from 'kysely';

const WRITES = new Set(['InsertQueryNode', 'UpdateQueryNode', 'DeleteQueryNode', 'MergeQueryNode']);

export class AcknowledgedWrites {
  private readonly listeners = new Set<(issuedAt: number) => void>();

  /** Calls `fn` on each acknowledged write until the returned function is called. */
  on(fn: (issuedAt: number) => void): () => void {
    this.listeners.add(fn);
    return () => void this.listeners.delete(fn);
  }

  /** `dialect`, its driver watched. */
  wrap(dialect: Dialect): Dialect {
    return {
      createDriver: () => new WatchedDriver(dialect.createDriver(), (at) => this.emit(at)),
      createQueryCompiler: () => dialect.createQueryCompiler(),
      createAdapter: () => dialect.createAdapter(),
      createIntrospector: (db) => dialect.createIntrospector(db),
    };
  }

  private emit(issuedAt: number): void {
    for (const fn of this.listeners) {
      try {
        fn(issuedAt);
      } catch {
        // a listener's failure is its own
      }
    }
  }
}

class WatchedConnection implements DatabaseConnection {
  /** The transaction open on it: when it began, and whether it wrote. */
  tx: { since: number; wrote: boolean } | undefined;

  constructor(
    readonly inner: DatabaseConnection,
    private readonly acknowledged: (issuedAt: number) => void,
  ) {}

  async executeQuery<R>(q: CompiledQuery): Promise<QueryResult<R>> {
    if (!WRITES.has(q.query.kind)) return this.inner.executeQuery<R>(q);
    const issuedAt = performance.now();
    const r = await this.inner.executeQuery<R>(q);
    if (this.tx !== undefined) this.tx.wrote = true;
    else this.acknowledged(issuedAt);
    return r;
  }

  streamQuery<R>(q: CompiledQuery, chunkSize?: number): AsyncIterableIterator<QueryResult<R>> {
    return this.inner.streamQuery<R>(q, chunkSize);
  }
}

const inner = (c: DatabaseConnection): DatabaseConnection => (c as WatchedConnection).inner;

class WatchedDriver implements Driver {
  savepoint?: Driver['savepoint'];
  rollbackToSavepoint?: Driver['rollbackToSavepoint'];
  releaseSavepoint?: Driver['releaseSavepoint'];

  constructor(
    private readonly driver: Driver,
    private readonly acknowledged: (issuedAt: number) => void,
  ) {
    // Kysely refuses savepoints when the driver has none: so does this one
    if (driver.savepoint) this.savepoint = (c, name, compile) => driver.savepoint!(inner(c), name, compile);
    if (driver.rollbackToSavepoint) this.rollbackToSavepoint = (c, name, compile) => driver.rollbackToSavepoint!(inner(c), name, compile);
    if (driver.releaseSavepoint) this.releaseSavepoint = (c, name, compile) => driver.releaseSavepoint!(inner(c), name, compile);
  }

  init(): Promise<void> {
    return this.driver.init();
  }

  async acquireConnection(): Promise<DatabaseConnection> {
    return new WatchedConnection(await this.driver.acquireConnection(), this.acknowledged);
  }

  async beginTransaction(c: DatabaseConnection, settings: TransactionSettings): Promise<void> {
    const since = performance.now();
    await this.driver.beginTransaction(inner(c), settings);
    (c as WatchedConnection).tx = { since, wrote: false };
  }

  async commitTransaction(c: DatabaseConnection): Promise<void> {
    const w = c as WatchedConnection;
    // a failed commit leaves it to the rollback Kysely issues next
    await this.driver.commitTransaction(w.inner);
    const tx = w.tx;
    w.tx = undefined;
    if (tx?.wrote) this.acknowledged(tx.since);
  }

  async rollbackTransaction(c: DatabaseConnection): Promise<void> {
    try {
      await this.driver.rollbackTransaction(inner(c));
    } finally {
      (c as WatchedConnection).tx = undefined;
    }
  }

  releaseConnection(c: DatabaseConnection): Promise<void> {
    return this.driver.releaseConnection(inner(c));
  }

  destroy(): Promise<void> {
    return this.driver.destroy();
  }
}
