/**
 * The durable store contract on the machine's PostgreSQL, each test in its own fresh
 * database; plus what only a shared server has: nodes opening and migrating at once.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import pg from 'pg';
import { openDurableStore } from '../../src/store/index.js';
import { MIGRATIONS } from '../../src/store/migrations/index.js';
import { createTempPostgresDatabase, serviceDescribe } from '../support/services.js';
import { rejectsWith, runDurableStoreSuite } from './durable-contract.js';

await serviceDescribe('postgres', 'durable store on PostgreSQL', () => {
  runDurableStoreSuite('postgres', async () => {
    const db = await createTempPostgresDatabase();
    return { open: () => openDurableStore(db.url), multiNode: true, dispose: db.drop };
  });

  test('postgres: four nodes opening one fresh database at once migrate it exactly once', async () => {
    const db = await createTempPostgresDatabase();
    const stores = await Promise.all([1, 2, 3, 4].map(() => openDurableStore(db.url)));
    try {
      assert.deepEqual(stores.map((s) => s.kind), ['postgres', 'postgres', 'postgres', 'postgres']);
      await stores[0]!.putSetting('from-node-0', 'v');
      assert.equal(await stores[3]!.getSetting('from-node-0'), 'v');
      const c = new pg.Client({ connectionString: db.url });
      await c.connect();
      try {
        const r = await c.query('select name from portcullis_migration order by name');
        assert.deepEqual(r.rows.map((x: { name: string }) => x.name), Object.keys(MIGRATIONS));
        const der = await c.query("select data_type from information_schema.columns where table_name = 'certificates' and column_name = 'der'");
        assert.deepEqual(der.rows, [{ data_type: 'bytea' }]);
        const types = await c.query("select column_name, data_type from information_schema.columns where table_name = 'audit_log' and column_name in ('seq', 'time') order by column_name");
        assert.deepEqual(types.rows, [{ column_name: 'seq', data_type: 'bigint' }, { column_name: 'time', data_type: 'bigint' }]);
      } finally {
        await c.end();
      }
    } finally {
      await Promise.all(stores.map((s) => s.close()));
      await db.drop();
    }
  });

  test('postgres: an unreachable server rejects open with store.unavailable (fail closed)', async () => {
    // Port 1 on loopback: nothing listens, the connection is refused at once.
    await rejectsWith(openDurableStore('postgres://postgres@127.0.0.1:1/postgres'), 'store.unavailable');
  });

  test('postgres: a database that went away turns queries into store.unavailable', async () => {
    const db = await createTempPostgresDatabase();
    const s = await openDurableStore(db.url);
    try {
      await db.drop(); // WITH (FORCE) terminates the pool's sessions.
      await rejectsWith(s.getApp('x'), 'store.unavailable');
      await rejectsWith(s.ping(), 'store.unavailable');
    } finally {
      await s.close();
    }
  });
});
