/**
 * PostgreSQL with `synchronous_commit = off` acknowledges a commit before its WAL is
 * flushed, so a server crash loses writes Portcullis has already acknowledged. The store
 * reads the setting at start and warns, naming it and the risk, whether it comes from the
 * connection's options or from the database (or role, or server); `/metrics` shows it
 * (`portcullis_postgres_synchronous_commit{setting}`). `on` and `local` (a local flush
 * before the acknowledgement) give no warning.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Writable } from 'node:stream';
import pg from 'pg';
import { createLogger } from '../../src/core/logger.js';
import { openDurableStore } from '../../src/store/index.js';
import { createTempPostgresDatabase, serviceDescribe } from '../support/services.js';
import { startTestNode, testConfig } from '../support/portcullis.js';

function capture() {
  const lines: Array<{ level: number; msg: string; synchronousCommit?: string }> = [];
  const logger = createLogger('info', new Writable({ write: (c, _e, cb) => (lines.push(JSON.parse(String(c))), cb()) }));
  const warnings = () => lines.filter((l) => l.level === 40 && /synchronous_commit/.test(l.msg));
  return { logger, warnings };
}

function withOptions(url: string, options: string): string {
  const u = new URL(url);
  u.searchParams.set('options', options);
  return u.toString();
}

await serviceDescribe('postgres', 'PostgreSQL synchronous_commit', () => {
  test('synchronous_commit=off in the connection options: a warning at start names the setting and the risk', { timeout: 60_000 }, async () => {
    const db = await createTempPostgresDatabase();
    const { logger, warnings } = capture();
    const store = await openDurableStore(withOptions(db.url, '-c synchronous_commit=off'), { logger });
    try {
      const [w, ...more] = warnings();
      assert.equal(more.length, 0);
      assert.equal(w?.synchronousCommit, 'off');
      assert.match(w!.msg, /synchronous_commit is off/);
      assert.match(w!.msg, /a crash of the PostgreSQL server loses writes Portcullis already acknowledged/);
    } finally {
      await store.close();
      await db.drop();
    }
  });

  test('synchronous_commit=off set on the database (ALTER DATABASE): the same warning', { timeout: 60_000 }, async () => {
    const db = await createTempPostgresDatabase();
    const admin = new pg.Client({ connectionString: db.url });
    await admin.connect();
    await admin.query(`alter database ${db.name} set synchronous_commit = off`);
    await admin.end();
    const { logger, warnings } = capture();
    const store = await openDurableStore(db.url, { logger });
    try {
      assert.equal(warnings().length, 1);
      assert.equal(warnings()[0]!.synchronousCommit, 'off');
    } finally {
      await store.close();
      await db.drop();
    }
  });

  test('synchronous_commit on (the default) or local: no warning', { timeout: 60_000 }, async () => {
    const db = await createTempPostgresDatabase();
    try {
      for (const url of [db.url, withOptions(db.url, '-c synchronous_commit=local')]) {
        const { logger, warnings } = capture();
        const store = await openDurableStore(url, { logger });
        await store.close();
        assert.deepEqual(warnings(), [], url);
      }
    } finally {
      await db.drop();
    }
  });

  test('/metrics names the setting: portcullis_postgres_synchronous_commit{setting="off"} 1', { timeout: 120_000 }, async () => {
    const db = await createTempPostgresDatabase();
    const node = await startTestNode({ config: testConfig(`store: "${withOptions(db.url, '-c synchronous_commit=off')}"\nplanes: [identity, admin]\n`) });
    try {
      const metrics = await (await fetch(`${node.urls.admin}/metrics`)).text();
      assert.match(metrics, /^portcullis_postgres_synchronous_commit\{setting="off"\} 1$/m);
    } finally {
      await node.stop();
      await db.drop();
    }
  });
});
