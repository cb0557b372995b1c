/**
 * A data-key switch (envelope.ts: the data key that seals secrets at rest reached its
 * AES-GCM limit) and its audit event `keys.data-key-rotated` are one transaction. A fault
 * injected between the two (every audit insert refused by a trigger, then the node gone
 * without another write, as after a crash) must leave no switch without its audit row:
 * the seal that needed the switch fails closed, and once the fault is gone the switch is
 * made and audited together. SQLite and PostgreSQL, through the node's own wiring.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import BetterSqlite3 from 'better-sqlite3';
import { openCoreServices } from '../../src/app.js';
import { loadConfig } from '../../src/core/config/load.js';
import { PortcullisError } from '../../src/core/errors.js';
import { silentLogger } from '../../src/core/logger.js';
import { CONFIG_FILE, initPortcullis } from '../../src/init.js';
import { openDurableStore } from '../../src/store/index.js';
import { testConfig } from '../support/portcullis.js';
import { postgresExec } from '../support/store-fixtures.js';
import { createTempPostgresDatabase, serviceDescribe } from '../support/services.js';

interface Database {
  store: string;
  /** Runs SQL from outside the node (another connection). */
  exec(sql: string): Promise<void>;
}

const SQLITE_FAULT = `create trigger injected_fault before insert on audit_log begin select raise(abort, 'injected fault'); end`;
const SQLITE_CLEAR = 'drop trigger injected_fault';
const PG_FAULT = `create function injected_fault() returns trigger language plpgsql as $$ begin raise exception 'injected fault'; end $$;
  create trigger injected_fault before insert on audit_log for each row execute function injected_fault()`;
const PG_CLEAR = 'drop trigger injected_fault on audit_log; drop function injected_fault()';

const successorsOf = async (url: string, dir: string): Promise<Map<string, string>> => {
  const store = await openDurableStore(url, { baseDir: dir });
  try {
    return new Map((await store.listSettings('envelope.successor.')).map((s) => [s.name.slice('envelope.successor.'.length), s.value]));
  } finally {
    await store.close();
  }
};

const auditedSwitches = async (url: string, dir: string): Promise<Set<string>> => {
  const store = await openDurableStore(url, { baseDir: dir });
  try {
    const rows = (await store.listAudit(0, 100_000)).filter((r) => r.type === 'keys.data-key-rotated');
    return new Set(rows.map((r) => `${r.data?.['from']}>${r.data?.['to']}`));
  } finally {
    await store.close();
  }
};

async function crashBetweenSwitchAndAudit(db: Database, fault: string, clear: string): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'pc-dek-crash-'));
  try {
    await initPortcullis(dir, { config: testConfig(`store: ${db.store}\nencryption: { aesGcm: { invocationLimit: 2, reserveBlock: 1 } }\n`) });
    const loaded = loadConfig(join(dir, CONFIG_FILE));
    const before = await successorsOf(loaded.config.store, dir);

    // a node seals until its data key is exhausted, while every audit insert fails
    let s = await openCoreServices(loaded, { logger: silentLogger });
    await db.exec(fault);
    let refused: unknown;
    try {
      for (let i = 0; i < 4; i++) await s.envelope.encrypt(`secret ${i}`, `test:${i}`);
    } catch (e) {
      refused = e;
    }
    // the crash: the node is gone, whatever it still held in memory with it
    await s.ephemeral.close();
    await s.store.close();
    await db.exec(clear);

    const after = await successorsOf(loaded.config.store, dir);
    const audited = await auditedSwitches(loaded.config.store, dir);
    const unaudited = [...after].filter(([from]) => !before.has(from)).map(([from, to]) => `${from}>${to}`).filter((sw) => !audited.has(sw));
    assert.deepEqual(unaudited, [], 'a data-key switch was committed without its audit event');
    assert.ok(refused instanceof PortcullisError, `the seal that needed the switch fails closed (${String(refused)})`);
    assert.equal(refused.code, 'store.unavailable');

    // the fault gone, the switch is made and audited in one go
    s = await openCoreServices(loaded, { logger: silentLogger });
    try {
      for (let i = 0; i < 4; i++) await s.envelope.encrypt(`secret ${i}`, `test:${i}`);
    } finally {
      await s.ephemeral.close();
      await s.store.close();
    }
    const later = await successorsOf(loaded.config.store, dir);
    const laterAudited = await auditedSwitches(loaded.config.store, dir);
    const made = [...later].filter(([from]) => !before.has(from)).map(([from, to]) => `${from}>${to}`);
    assert.ok(made.length > 0, 'the seals switched data keys');
    for (const sw of made) assert.ok(laterAudited.has(sw), `switch ${sw} is audited`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

test('crash between a data-key switch and its audit event (SQLite): no switch is left unaudited', async () => {
  const file = join(mkdtempSync(join(tmpdir(), 'pc-dek-db-')), 'a.db');
  try {
    await crashBetweenSwitchAndAudit(
      {
        store: `sqlite:${file}`,
        exec: async (sql) => {
          const c = new BetterSqlite3(file);
          try {
            c.exec(sql);
          } finally {
            c.close();
          }
        },
      },
      SQLITE_FAULT,
      SQLITE_CLEAR,
    );
  } finally {
    rmSync(join(file, '..'), { recursive: true, force: true });
  }
});

await serviceDescribe('postgres', 'data-key switch on PostgreSQL', () => {
  test('crash between a data-key switch and its audit event (PostgreSQL): no switch is left unaudited', async () => {
    const db = await createTempPostgresDatabase();
    try {
      await crashBetweenSwitchAndAudit(
        {
          store: db.url,
          exec: postgresExec(db.url),
        },
        PG_FAULT,
        PG_CLEAR,
      );
    } finally {
      await db.drop();
    }
  });
});
