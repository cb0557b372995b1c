/**
 * Migration 0017 adds `apps.served_audiences` (the audiences an app serves as a resource
 * server, which decide who may introspect a token). A database of the version before it,
 * with an app row, opens: the app serves nothing (introspection stays closed), and setting
 * what it serves round-trips. On SQLite and PostgreSQL.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import BetterSqlite3 from 'better-sqlite3';
import { Kysely, PostgresDialect, SqliteDialect, sql } from 'kysely';
import pg from 'pg';
import { openDurableStore } from '../../src/store/index.js';
import { portcullisMigrator } from '../../src/store/migrations/index.js';
import { createTempPostgresDatabase, serviceDescribe } from '../support/services.js';

const T0 = 1_700_000_000_000;

/** Brings `older` to 0016 and writes one app row as that version wrote it. */
async function olderDatabaseWithAnApp(older: Kysely<any>): Promise<void> {
  assert.equal((await portcullisMigrator(older).migrateTo('0016-webhook-delivery-per-subscription')).error, undefined);
  await sql`insert into apps (client_id, name, audiences, scopes, token_endpoint_auth_method, secret_verifier, jwks, status, tokens_revoked_before, created_at, updated_at)
    values ('app_old', 'old', '["orders-api"]', '["read"]', 'client_secret_basic', 'hmac-sha256$k$x', null, 'active', 0, ${T0}, ${T0})`.execute(older);
  await older.destroy();
}

async function upgradesAndRoundTrips(url: string): Promise<void> {
  const store = await openDurableStore(url);
  try {
    const before = (await store.getApp('app_old'))!;
    assert.equal(before.servedAudiences, undefined, 'an app from before 0017 serves no audience');
    assert.deepEqual(before.audiences, ['orders-api']);
    const updated = await store.updateApp('app_old', { servedAudiences: ['orders-api', 'billing-api'] }, T0 + 1);
    assert.deepEqual(updated!.servedAudiences, ['orders-api', 'billing-api']);
    assert.deepEqual((await store.getApp('app_old'))!.servedAudiences, ['orders-api', 'billing-api']);
    const cleared = await store.updateApp('app_old', { servedAudiences: [] }, T0 + 2);
    assert.equal(cleared!.servedAudiences, undefined, 'serving none reads back as the default');
  } finally {
    await store.close();
  }
}

describe('sqlite', () => {
  test('upgrade: an app row written before migration 0017 serves no audience; served audiences then round-trip', async (t) => {
    const dir = mkdtempSync(join(tmpdir(), 'portcullis-served-upgrade-'));
    t.after(() => rmSync(dir, { recursive: true, force: true }));
    const file = join(dir, 'a.db');
    await olderDatabaseWithAnApp(new Kysely<any>({ dialect: new SqliteDialect({ database: new BetterSqlite3(file) }) }));
    await upgradesAndRoundTrips(`sqlite:${file}`);
  });
});

await serviceDescribe('postgres', 'postgres', () => {
  test('upgrade: an app row written before migration 0017 serves no audience; served audiences then round-trip', async (t) => {
    const db = await createTempPostgresDatabase();
    t.after(() => db.drop());
    await olderDatabaseWithAnApp(new Kysely<any>({ dialect: new PostgresDialect({ pool: new pg.Pool({ connectionString: db.url, max: 1 }) }) }));
    await upgradesAndRoundTrips(db.url);
  });
});
