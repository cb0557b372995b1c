/**
 * Opens the stores named in the configuration. `app.ts` is the only caller; domains
 * see the interfaces (DurableStore, EphemeralStore), never these adapters. The
 * PostgreSQL and Redis adapters (and `pg`, `ioredis`) are imported only when the
 * configuration names them: together ~170 ms of start-up for every process, the
 * gateway thread's and the CLI's included, that an embedded node does not need.
 */
import { statSync } from 'node:fs';
import { isAbsolute, resolve } from 'node:path';
import { PortcullisError } from '../core/errors.js';
import { MakeDirectoryError } from '../core/files.js';
import type { EphemeralStore } from '../core/ephemeral.js';
import type { Logger } from '../core/logger.js';
import { openSqlite } from './durable/sqlite.js';
import { KyselyDurableStore } from './durable/store.js';
import { SqliteAuditWriter } from './durable/audit-writer.js';
import { MemoryEphemeralStore } from './memory/ephemeral.js';
import type { DurableStore } from './types.js';

export type { DurableStore } from './types.js';

export const DEFAULT_EPHEMERAL_PREFIX = 'portcullis:';

/**
 * Opens the durable store and brings its schema up to date.
 *
 * @example
 * const store = await openDurableStore('sqlite:./portcullis.db', { baseDir: configDir, logger, auditThread: true });
 * const store = await openDurableStore('postgres://portcullis@db:5432/portcullis', { logger, statementTimeoutMs: 10_000 });
 */
export async function openDurableStore(url: string, opts: { baseDir?: string; logger?: Logger; auditThread?: boolean; statementTimeoutMs?: number } = {}): Promise<DurableStore> {
  let store: KyselyDurableStore;
  if (url.startsWith('sqlite:')) {
    const path = url.slice('sqlite:'.length);
    if (path === '') throw new PortcullisError('config.invalid', 'store: sqlite: needs a file path');
    const file = path === ':memory:' || isAbsolute(path) ? path : resolve(opts.baseDir ?? process.cwd(), path);
    try {
      // a node's audit appends (and their commits' fsyncs) run off its event loop; an in-memory database has one connection only
      const auditWriter = opts.auditThread === true && file !== ':memory:' ? new SqliteAuditWriter(file) : undefined;
      store = new KyselyDurableStore(openSqlite(file), { ...(auditWriter ? { auditWriter } : {}), ...(opts.logger ? { logger: opts.logger } : {}) });
    } catch (e) {
      // already says what is wrong and what to do (a stale -wal: sqlite.ts)
      if (e instanceof PortcullisError) throw e;
      throw new PortcullisError('store.unavailable', `cannot open the SQLite database file${e instanceof MakeDirectoryError ? `: ${e.message}` : ''}`, { cause: e });
    }
    if (file !== ':memory:' && process.platform !== 'win32') {
      const mode = statSync(file).mode & 0o777;
      if ((mode & 0o077) !== 0) opts.logger?.warn({ file, mode: mode.toString(8) }, 'the SQLite database holds sealed secrets and the audit log but is readable by group or others; chmod 600 it (and its -wal and -shm files)');
    }
  } else if (/^postgres(ql)?:\/\//.test(url)) {
    const { openPostgres } = await import('./durable/postgres.js');
    store = new KyselyDurableStore(openPostgres(url, opts.logger, opts.statementTimeoutMs !== undefined ? { statementTimeoutMs: opts.statementTimeoutMs } : {}), opts.logger ? { logger: opts.logger } : {});
  } else {
    throw new PortcullisError('config.invalid', 'store: expected sqlite:<path> or postgres://…');
  }
  try {
    try {
      await store.ping();
    } catch (e) {
      throw unreachable('store', 'store.unavailable', url, e);
    }
    const applied = await store.migrate();
    if (applied.length > 0) opts.logger?.info({ migrations: applied, kind: store.kind }, 'store schema migrated');
    // PostgreSQL: a warning when synchronous_commit = off, under which an acknowledged write does not survive a server crash
    await store.checkCommitDurability();
  } catch (e) {
    await store.close().catch(() => undefined);
    throw e;
  }
  return store;
}

/** A store URL as it may be shown: scheme, user, host, port and path; never a password or the query (which may carry one). */
function shownUrl(url: string): string {
  try {
    const u = new URL(url);
    return `${u.protocol}//${u.username ? `${u.username}@` : ''}${u.host}${u.pathname}`;
  } catch {
    return '(unparseable URL)';
  }
}

/**
 * A store that cannot be used at start, with the driver's reason ("connect ECONNREFUSED …",
 * "database "x" does not exist"): the operator must learn which setting is wrong and how.
 * The password of the URL is removed from the reason should a driver repeat it.
 */
function unreachable(setting: 'store' | 'ephemeral', code: 'store.unavailable' | 'unavailable', url: string, e: unknown): PortcullisError {
  let cause: unknown = e;
  // the reason the store was taken for down (PG_AUTH_FAILED…: breaker.ts), for a supervisor to tell a setting to fix from an outage
  let named: Record<string, unknown> | undefined;
  while (cause instanceof PortcullisError && cause.cause !== undefined) {
    if (named === undefined && typeof cause.details?.['reason'] === 'string') named = { reason: cause.details['reason'], ...(cause.details['driverCode'] !== undefined ? { driverCode: cause.details['driverCode'] } : {}) };
    cause = cause.cause;
  }
  let reason = cause instanceof Error && cause.message !== '' ? cause.message : 'no answer';
  let password = '';
  try {
    password = decodeURIComponent(new URL(url).password);
  } catch {
    // unparseable: nothing to remove
  }
  if (password !== '') reason = reason.replaceAll(password, '[redacted]');
  return new PortcullisError(code, `${setting}: cannot use ${shownUrl(url)}: ${reason}`, { cause: e, ...(named !== undefined ? { details: named } : {}) });
}

/**
 * Opens the ephemeral store: `memory` (this process only) or `redis://…` (shared by
 * every node). Every Redis key and channel is under `prefix` (default `portcullis:`).
 *
 * @example
 * const eph = await openEphemeralStore('redis://127.0.0.1:6379', { prefix: 'portcullis:' });
 * if (!(await eph.consumeOnce(`nonce:${nonce}`, 300_000))) deny('signature.replayed');
 */
export async function openEphemeralStore(url: string, opts: { prefix?: string } = {}): Promise<EphemeralStore> {
  if (url === 'memory') return new MemoryEphemeralStore();
  if (/^rediss?:\/\//.test(url)) {
    const { openRedisEphemeralStore } = await import('./redis/ephemeral.js');
    try {
      return await openRedisEphemeralStore(url, { prefix: opts.prefix ?? DEFAULT_EPHEMERAL_PREFIX });
    } catch (e) {
      throw unreachable('ephemeral', 'unavailable', url, e);
    }
  }
  throw new PortcullisError('config.invalid', 'ephemeral: expected memory or redis://host:port');
}
