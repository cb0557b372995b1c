/**
 * A durable store on each backend for tests that must also touch the database from
 * outside the store (another process's view: deleting rows, writing raw SQL).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import BetterSqlite3 from 'better-sqlite3';
import pg from 'pg';
import { randomBytes } from 'node:crypto';
import { openAuditHeadKey, type AuditHeadKey } from '../../src/audit/head-key.js';
import { Envelope } from '../../src/crypto/envelope.js';
import { openDurableStore } from '../../src/store/index.js';
import type { DurableStore } from '../../src/store/types.js';
import { test } from 'node:test';
import { createTempPostgresDatabase } from './services.js';

export interface StoreFixture {
  store: DurableStore;
  /** The store's audit key, opened as a node opens it (`keyedLikeANode`). */
  headKey: AuditHeadKey;
  /** Runs SQL on another connection (another process's view of the database). */
  exec(sql: string): Promise<void>;
  dispose(): Promise<void>;
}

/** A SQLite file store in a fresh temporary directory, removed by `dispose` (`auditThread`: as a node opens it). */
export async function sqliteStoreFixture(prefix = 'portcullis-store-', opts: { auditThread?: boolean } = {}): Promise<StoreFixture> {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  const file = join(dir, 'a.db');
  const store = await openDurableStore(`sqlite:${file}`, opts);
  const headKey = await keyedLikeANode(store);
  const other = new BetterSqlite3(file);
  return {
    store,
    headKey,
    exec: async (sql) => void other.exec(sql),
    dispose: async () => {
      other.close();
      await store.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

const masterKeys = new WeakMap<DurableStore, Buffer>();

/**
 * Opens (or makes) the store's audit key as a node does, under an envelope with a master
 * key of its own (the same each time for one store object, or `masterKey`), and sets it on the store.
 */
export async function keyedLikeANode(store: DurableStore, masterKey?: Buffer): Promise<AuditHeadKey> {
  masterKey ??= masterKeys.get(store) ?? randomBytes(32);
  masterKeys.set(store, masterKey);
  const headKey = await openAuditHeadKey(store, await Envelope.open(store, masterKey));
  store.useAuditHeadKey(headKey);
  return headKey;
}

/** Runs SQL on the PostgreSQL database at `url` over a connection of its own (another process's view). */
export function postgresExec(url: string): (sql: string) => Promise<void> {
  return async (sql) => {
    const c = new pg.Client({ connectionString: url });
    await c.connect();
    try {
      await c.query(sql);
    } finally {
      await c.end();
    }
  };
}

/** A store on a fresh PostgreSQL database, dropped by `dispose` (call under `serviceDescribe('postgres', …)`). */
export async function postgresStoreFixture(): Promise<StoreFixture> {
  const db = await createTempPostgresDatabase();
  const store = await openDurableStore(db.url);
  const headKey = await keyedLikeANode(store);
  return {
    store,
    headKey,
    exec: postgresExec(db.url),
    dispose: async () => {
      await store.close();
      await db.drop();
    },
  };
}

/**
 * A `test` factory whose tests each run on a fresh store from `make`, disposed after it,
 * titled `<name>: <title>` (one suite per backend).
 *
 * @example
 * const withStore = storeTests('SQLite', () => sqliteStoreFixture());
 * withStore('verifies', async (f) => { ... });
 */
export function storeTests(name: string, make: () => Promise<StoreFixture>): (title: string, fn: (f: StoreFixture) => Promise<void>) => void {
  return (title, fn) => {
    test(`${name}: ${title}`, async () => {
      const f = await make();
      try {
        await fn(f);
      } finally {
        await f.dispose();
      }
    });
  };
}
