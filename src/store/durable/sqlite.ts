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
 * Writes outside a transaction are group-committed: see `sqlite-driver.ts`.
 *
 * The file's identity (device and inode) is taken at open, and every commit first checks
 * that the path still names that file (`checkFile`): deleted, or another file renamed
 * over it, the connection would write into an unlinked inode whose content the next
 * start never sees. Such writes are refused (`SQLITE_FILE_REPLACED`) for as long as the
 * path names another file; only a restart on the right file mends it. The -wal alike
 * (`SQLITE_WAL_REPLACED`): SQLite keeps it open (and the same file: a checkpoint, even
 * TRUNCATE, rewinds or truncates it in place) until the last connection to the database
 * closes, which copies it into the database file and deletes it; so a -wal path that
 * names another file, or none, while the connection is open means it was deleted or
 * replaced, and the commits it holds survive only a clean close.
 *
 * The -shm alike (`SQLITE_SHM_REPLACED`): SQLite's WAL index, shared through that file by
 * every process on the database. A process opening the database after it was deleted
 * builds an index of its own, unknown to this one, and the two write over each other's
 * frames in the one -wal. (Within a process SQLite keeps one index per database file, so
 * the harm is another process's; the fix is the same clean restart.) One more `stat`.
 *
 * The identities belong to the first connection of the process, and later connections
 * check those, not what the paths name when they open (`registry`): a connection opened
 * after the -wal was deleted (the audit writer thread, a gateway thread's store) would
 * otherwise have SQLite create a new -wal, pass its own check, and read through the shared
 * WAL index into the wrong file (an I/O error, or wrong pages: a corrupt database); and if
 * it closed last, it would checkpoint its own empty -wal, losing every commit of the
 * first one's despite the clean stop. A later connection whose paths no longer name the
 * first one's files is refused before SQLite opens anything.
 *
 * At open, a -wal next to a missing or empty database file is refused: it is what is left
 * of a database file deleted (while the node ran, then died, or while it was stopped),
 * and SQLite would delete it and start a new, empty database without a word.
 *
 * The database holds sealed secrets, password hashes and the audit trail: it is created
 * 0600, and a file (or -wal, -shm) found readable or writable by group or others (put back
 * by `cp` under umask 022, made by another tool) is narrowed to owner-only before SQLite
 * opens it, since SQLite gives the -wal and -shm it creates the database file's mode.
 */
import { chmodSync, closeSync, existsSync, openSync, statSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { getEnvironmentData, setEnvironmentData } from 'node:worker_threads';
import BetterSqlite3 from 'better-sqlite3';
import { Kysely } from 'kysely';
import { PortcullisError } from '../../core/errors.js';
import type { Database } from './schema.js';
import { makeDirectorySync } from '../../core/files.js';
import { GroupCommitSqliteDialect, SQLITE_BUSY_TIMEOUT_MS, SQLITE_FILE_REPLACED, SQLITE_SHM_REPLACED, SQLITE_SHM_REPLACED_MESSAGE, SQLITE_WAL_REPLACED, SQLITE_WAL_REPLACED_MESSAGE, type SqliteCommitStats } from './sqlite-driver.js';
import { storeError } from './store-error.js';
import { AcknowledgedWrites } from './acknowledged-writes.js';
import type { Dialect } from './store.js';

export { SQLITE_BUSY_TIMEOUT_MS };

const STATS = new WeakMap<Kysely<Database>, GroupCommitSqliteDialect>();

/** The group-commit counters of a SQLite store's connection (undefined for another kind of database). */
export function sqliteCommitStats(db: Kysely<Database>): SqliteCommitStats | undefined {
  return STATS.get(db)?.stats;
}

interface Shared {
  db: Kysely<Database>;
  writes: AcknowledgedWrites;
  checkFile(): void;
  refs: number;
  /** This thread put the identities in the registry (it removes them at its last close). */
  registered: boolean;
}

interface FileId {
  dev: number;
  ino: number;
}

/** The files a first connection opened: the database file, and in WAL mode its -wal and -shm. */
interface Opened {
  db: FileId;
  wal: FileId | undefined;
  shm: FileId | undefined;
}

const fileId = (path: string): FileId => {
  const { dev, ino } = statSync(path);
  return { dev, ino };
};

/** Throws an error with `code` unless `path` names the file `opened` (gone, another file, or not to be looked at: fail closed). */
function assertSameFile(path: string, opened: FileId, message: string, code: string): void {
  let now: FileId | undefined;
  let cause: unknown;
  try {
    now = statSync(path);
  } catch (e) {
    cause = e;
  }
  if (now !== undefined && now.dev === opened.dev && now.ino === opened.ino) return;
  throw Object.assign(new Error(message, { cause }), { code });
}

/**
 * A check that `path` still names the database file `opened.db` (taken right after the
 * first open), `path`-wal the -wal SQLite opened and `path`-shm its WAL index (none when
 * the database is not in WAL mode); throws `SQLITE_FILE_REPLACED`, `SQLITE_WAL_REPLACED`
 * or `SQLITE_SHM_REPLACED`.
 */
function fileCheck(path: string, opened: Opened): () => void {
  return () => {
    assertSameFile(path, opened.db, 'the database file was removed or replaced; restart the node on the right file', SQLITE_FILE_REPLACED);
    if (opened.wal !== undefined) assertSameFile(`${path}-wal`, opened.wal, SQLITE_WAL_REPLACED_MESSAGE, SQLITE_WAL_REPLACED);
    if (opened.shm !== undefined) assertSameFile(`${path}-shm`, opened.shm, SQLITE_SHM_REPLACED_MESSAGE, SQLITE_SHM_REPLACED);
  };
}

/**
 * The process-wide registry of the files each database path's first connection opened,
 * by resolved path: worker_threads' environment data, which every thread started later
 * gets a copy of (the audit writer thread, a gateway thread, and the threads they start).
 * A thread started before the first open does not see it (none of Portcullis's opens a
 * SQLite file before the main thread has).
 */
const registryKey = (path: string): string => `portcullis:sqlite-opened:${path}`;

function registered(path: string): Opened | undefined {
  return getEnvironmentData(registryKey(path)) as Opened | undefined;
}

/**
 * Refuses to open `path` when it is missing or empty and a -wal is next to it: SQLite would
 * delete that -wal (its only trace of the lost file's last commits) and start a new,
 * empty database, and a node would then start as a new one. Any other failure to look is
 * left to SQLite's open to report.
 */
function refuseStaleWal(path: string): void {
  let size: number | undefined;
  try {
    size = statSync(path).size;
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'ENOENT') return;
  }
  if ((size !== undefined && size > 0) || !existsSync(`${path}-wal`)) return;
  const state = size === undefined ? 'missing' : 'empty';
  throw new PortcullisError(
    'store.unavailable',
    `store: ${path}-wal is left from a database file that is gone (${path} is ${state}); SQLite would delete it and start a new, empty database. Put back the database file it belongs to, or move ${path}-wal and ${path}-shm out of the way (not next to another copy of the database, such as a backup: it would be replayed onto it), and start again`,
  );
}

/**
 * One connection per file per process. better-sqlite3 is synchronous: a second
 * connection in the same process waiting on the first one's write lock would block
 * the very thread that has to release it. Instances on one file share a connection,
 * whose driver serialises them instead.
 */
const open = new Map<string, Shared>();

/**
 * Opens `path`. `first`: the files an earlier connection of the process opened, which this
 * one must share: checked before SQLite opens anything (it would create a -wal of its own),
 * and by every commit after.
 */
/**
 * `PRAGMA journal_mode = WAL`, retried while another process holds the file: two processes
 * switching a fresh (rollback-journal) file at once both read it under a shared lock and
 * both ask for the exclusive one, and SQLite answers the second SQLITE_BUSY at once, without
 * its busy handler (which would deadlock there). At open nothing else runs yet, so the wait
 * is a plain sleep, up to SQLITE_BUSY_TIMEOUT_MS in all.
 */
function switchToWal(conn: BetterSqlite3.Database): boolean {
  const deadline = Date.now() + SQLITE_BUSY_TIMEOUT_MS;
  for (let pause = 5; ; pause = Math.min(pause * 2, 100)) {
    try {
      return conn.pragma('journal_mode = WAL', { simple: true }) === 'wal';
    } catch (e) {
      if ((e as { code?: unknown }).code !== 'SQLITE_BUSY' || Date.now() + pause > deadline) throw e;
      Atomics.wait(SLEEP, 0, 0, pause);
    }
  }
}

/**
 * Takes group and other permissions off `file` when it is a regular file that has some. Best
 * effort: a file this process may not change (another owner, a read-only mount) is left to
 * the operator, as before.
 */
function ownerOnly(file: string): void {
  if (process.platform === 'win32') return;
  try {
    const st = statSync(file);
    if (st.isFile() && (st.mode & 0o077) !== 0) chmodSync(file, st.mode & 0o700);
  } catch {
    /* missing (no -wal yet), or not ours to change */
  }
}

/** A cell nothing ever notifies: `Atomics.wait` on it is a synchronous sleep. */
const SLEEP = new Int32Array(new SharedArrayBuffer(4));

function connect(path: string, first: Opened | undefined): Omit<Shared, 'refs' | 'registered'> & { opened: Opened | undefined } {
  if (first !== undefined) fileCheck(path, first)();
  if (path !== ':memory:') {
    refuseStaleWal(path);
    makeDirectorySync(dirname(path));
    // Sealed secrets, password hashes and the audit log live in it: created owner-only, like the key files
    // (SQLite gives the -wal and -shm files the database file's mode)
    if (!existsSync(path)) closeSync(openSync(path, 'a', 0o600));
    else for (const file of [path, `${path}-wal`, `${path}-shm`]) ownerOnly(file);
  }
  const conn = new BetterSqlite3(path);
  let checkFile = (): void => undefined;
  let opened: Opened | undefined;
  try {
    const db = path === ':memory:' ? undefined : fileId(path);
    // at open, waiting inside SQLite is fine (nothing else runs yet; another node may be switching the file to WAL)
    conn.pragma(`busy_timeout = ${SQLITE_BUSY_TIMEOUT_MS}`);
    const wal = switchToWal(conn);
    conn.pragma('synchronous = FULL');
    conn.pragma('foreign_keys = ON');
    if (db !== undefined) {
      // a read opens the -wal and the -shm (creating them for a new database): the files SQLite uses from now on
      conn.pragma('schema_version');
      opened = first ?? { db, wal: wal ? fileId(`${path}-wal`) : undefined, shm: wal ? fileId(`${path}-shm`) : undefined };
      checkFile = fileCheck(path, opened);
      // deleted while this connection opened: refused now rather than at its first write
      if (first !== undefined) checkFile();
    }
    // from now on lock waits are retried off the event loop (sqlite-driver.ts), never slept in SQLite
    conn.pragma('busy_timeout = 0');
  } catch (e) {
    conn.close();
    throw e;
  }
  const dialect = new GroupCommitSqliteDialect(conn, checkFile);
  const writes = new AcknowledgedWrites();
  const db = new Kysely<Database>({ dialect: writes.wrap(dialect) });
  STATS.set(db, dialect);
  return { db, writes, checkFile, opened };
}

/** Opens (creating if needed) the file at `path`, or a private in-memory database for `:memory:`. */
export function openSqlite(path: string): Dialect {
  const key = path === ':memory:' ? undefined : resolve(path);
  let shared = key === undefined ? undefined : open.get(key);
  if (shared === undefined) {
    const first = key === undefined ? undefined : registered(key);
    let conn: ReturnType<typeof connect>;
    try {
      conn = connect(key ?? path, first);
    } catch (e) {
      // a file, -wal or -shm replaced says so (it names no path); anything else is left to the caller
      const code = (e as { code?: unknown } | null)?.code;
      if (code === SQLITE_FILE_REPLACED || code === SQLITE_WAL_REPLACED || code === SQLITE_SHM_REPLACED) throw storeError('open', e);
      throw e;
    }
    const { opened, ...rest } = conn;
    shared = { ...rest, refs: 0, registered: key !== undefined && first === undefined && opened !== undefined };
    if (key !== undefined) open.set(key, shared);
    if (shared.registered) setEnvironmentData(registryKey(key!), opened);
  }
  shared.refs++;
  const { db, writes, checkFile } = shared;
  let closed = false;
  return {
    kind: 'sqlite',
    db,
    checkFile,
    onWrite: (fn) => writes.on(fn),
    // Every transaction begins IMMEDIATE (sqlite-driver.ts): the write lock comes before the first read, so "read the head,
    // then append" cannot interleave with another process doing the same.
    async serialized(fn) {
      return db.transaction().execute(fn);
    },
    // SQLite runs no statement timeout
    unbounded: (fn) => fn(db),
    async close() {
      if (closed) return;
      closed = true;
      if (--shared.refs > 0) return;
      if (key !== undefined && open.get(key) === shared) {
        open.delete(key);
        // closed here: the next open in this thread takes the files afresh (the last close deletes the -wal)
        if (shared.registered) setEnvironmentData(registryKey(key), undefined);
      }
      await db.destroy();
    },
  };
}
