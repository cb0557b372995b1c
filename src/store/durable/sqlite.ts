/**
 * SQLite connection for the durable store (better-sqlite3, one file, WAL).
 * `synchronous=FULL` makes every acknowledged commit survive a crash of the process
 * or the machine; `busy_timeout` makes a second process wait for the write lock
 * instead of failing at once.
 */
import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import BetterSqlite3 from 'better-sqlite3';
import { Kysely, SqliteDialect, sql } from 'kysely';
import type { Database } from './schema.js';
import type { Dialect } from './store.js';

export const SQLITE_BUSY_TIMEOUT_MS = 5000;

/** Opens (creating if needed) the file at `path`, or an in-memory database for `:memory:`. */
export function openSqlite(path: string): Dialect {
  if (path !== ':memory:') mkdirSync(dirname(path), { recursive: true });
  const conn = new BetterSqlite3(path);
  conn.pragma('journal_mode = WAL');
  conn.pragma('synchronous = FULL');
  conn.pragma(`busy_timeout = ${SQLITE_BUSY_TIMEOUT_MS}`);
  conn.pragma('foreign_keys = ON');
  const db = new Kysely<Database>({ dialect: new SqliteDialect({ database: conn }) });
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
  };
}
