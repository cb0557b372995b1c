/**
 * PostgreSQL refusing the node itself (a wrong or changed password, a role that may not log
 * in, a database that does not exist) is a misconfiguration, not a partition: start must
 * refuse with the cause named (`reason: PG_AUTH_FAILED`, the user, never the password); at
 * run time the store stays taken for down (fail closed) but `/readyz` and the log name the
 * cause instead of a generic "unreachable", and the probe backs off (to 30 s) instead of
 * trying a failing login every 0.5 s for ever.
 */
import assert from 'node:assert/strict';
import { PassThrough } from 'node:stream';
import { test } from 'node:test';
import pg from 'pg';
import { PortcullisError } from '../../src/core/errors.js';
import { createLogger } from '../../src/core/logger.js';
import { StoreBreaker } from '../../src/store/durable/breaker.js';
import { classifyPostgresFailure } from '../../src/store/durable/postgres-failure.js';
import { openDurableStore, type DurableStore } from '../../src/store/index.js';
import { notReady } from '../../src/http/readiness.js';
import { openPgRefuser } from '../support/pg-refuser.js';
import { createTempPostgresDatabase, postgresUrl, serviceTest } from '../support/services.js';

const PASSWORD = 'Wr0ng-pw-7f3a';

function capturingLogger(): { logger: ReturnType<typeof createLogger>; text: () => string } {
  const out = new PassThrough();
  let text = '';
  out.on('data', (d: Buffer) => (text += d.toString('utf8')));
  return { logger: createLogger('info', out), text: () => text };
}

async function failure(p: Promise<unknown>): Promise<PortcullisError> {
  try {
    await p;
  } catch (e) {
    assert.ok(e instanceof PortcullisError, String(e));
    assert.ok(!e.message.includes(PASSWORD), `the password leaked: ${e.message}`);
    return e;
  }
  assert.fail('expected a failure');
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

async function admin<T>(fn: (c: pg.Client) => Promise<T>): Promise<T> {
  const c = new pg.Client({ connectionString: postgresUrl(), connectionTimeoutMillis: 5000 });
  await c.connect();
  try {
    return await fn(c);
  } finally {
    await c.end();
  }
}

test('start: PostgreSQL refuses the password (28P01) → store.unavailable 503 with reason PG_AUTH_FAILED, naming the user, never the password (error and log)', async () => {
  const refuser = await openPgRefuser(`postgres://portcullis:${PASSWORD}@127.0.0.1:5432/portcullis`);
  refuser.refuse();
  const log = capturingLogger();
  try {
    const e = await failure(openDurableStore(refuser.url, { logger: log.logger }));
    assert.equal(e.code, 'store.unavailable');
    assert.equal(e.status, 503);
    assert.equal(e.details?.['reason'], 'PG_AUTH_FAILED');
    assert.equal(e.details?.['driverCode'], '28P01');
    assert.match(e.message, /^store: cannot use postgres:\/\/portcullis@127\.0\.0\.1:\d+\/portcullis: password authentication failed for user "portcullis"$/);
    assert.match(log.text(), /PG_AUTH_FAILED/);
    assert.doesNotMatch(log.text(), /unreachable/);
    assert.ok(!log.text().includes(PASSWORD), 'the password reached the log');
  } finally {
    await refuser.close();
  }
});

await serviceTest('postgres', 'start: a role that may not log in (28000) → PG_AUTH_FAILED; a database that does not exist (3D000) → PG_DATABASE_MISSING', async () => {
  const role = `pc_t_nologin_${Math.random().toString(16).slice(2, 8)}`;
  await admin((c) => c.query(`create role ${role} nologin password '${PASSWORD}'`));
  try {
    const nologin = await failure(openDurableStore(`postgres://${role}:${PASSWORD}@127.0.0.1:5432/postgres`));
    assert.equal(nologin.code, 'store.unavailable');
    assert.equal(nologin.details?.['reason'], 'PG_AUTH_FAILED');
    assert.equal(nologin.details?.['driverCode'], '28000');
    assert.match(nologin.message, new RegExp(`: role "${role}" is not permitted to log in$`));

    const missing = await failure(openDurableStore(`postgres://postgres:${PASSWORD}@127.0.0.1:5432/portcullis_no_such_db`));
    assert.equal(missing.code, 'store.unavailable');
    assert.equal(missing.details?.['reason'], 'PG_DATABASE_MISSING');
    assert.equal(missing.details?.['driverCode'], '3D000');
  } finally {
    await admin((c) => c.query(`drop role if exists ${role}`));
  }
});

await serviceTest('postgres', 'runtime: the password changed under a running node → /readyz 503 store.unavailable names PG_AUTH_FAILED, the log too, and failed logins back off (≤ 5 in 3.5 s, not one every 0.5 s)', async () => {
  const db = await createTempPostgresDatabase();
  const url = new URL(db.url);
  url.password = PASSWORD;
  const refuser = await openPgRefuser(url.toString());
  const log = capturingLogger();
  let store: DurableStore | undefined;
  try {
    store = await openDurableStore(refuser.url, { logger: log.logger });
    await store.ping();

    refuser.refuse();
    await failure(store.ping());
    const e = await failure(store.ping());
    assert.equal(e.code, 'store.unavailable');
    assert.equal(e.details?.['reason'], 'PG_AUTH_FAILED');
    assert.equal(e.details?.['driverCode'], '28P01');

    const wire = notReady(e);
    assert.equal(wire.status, 503);
    assert.equal(wire.body['code'], 'store.unavailable');
    assert.equal(wire.body['reason'], 'PG_AUTH_FAILED');
    assert.match(String(wire.body['detail']), /PG_AUTH_FAILED/);
    assert.ok(!JSON.stringify(wire.body).includes(PASSWORD), 'the password reached /readyz');

    const start = refuser.attempts;
    await sleep(3500);
    const tried = refuser.attempts - start;
    assert.ok(tried <= 5, `${tried} failed logins in 3.5 s`);
    assert.match(log.text(), /"reason":"PG_AUTH_FAILED"/);
    assert.match(log.text(), /password authentication failed for user/);
    assert.doesNotMatch(log.text(), /unreachable/);
    assert.ok(!log.text().includes(PASSWORD), 'the password reached the log');
  } finally {
    await store?.close();
    await refuser.close();
    await db.drop();
  }
});

await serviceTest('postgres', 'runtime: the role may no longer log in (ALTER ROLE … NOLOGIN, sessions ended) → PG_AUTH_FAILED with 28000 on the real server', async () => {
  const db = await createTempPostgresDatabase();
  const role = `pc_t_role_${Math.random().toString(16).slice(2, 8)}`;
  await admin(async (c) => {
    await c.query(`create role ${role} login password '${PASSWORD}'`);
    await c.query(`alter database ${db.name} owner to ${role}`);
  });
  const url = new URL(db.url);
  url.username = role;
  url.password = PASSWORD;
  let store: DurableStore | undefined;
  try {
    store = await openDurableStore(url.toString());
    await store.ping();
    await admin(async (c) => {
      await c.query(`alter role ${role} nologin`);
      await c.query('select pg_terminate_backend(pid) from pg_stat_activity where usename = $1', [role]);
    });
    let e: PortcullisError | undefined;
    for (let i = 0; i < 20 && e?.details?.['reason'] === undefined; i++) {
      e = await failure(store.ping());
      await sleep(50);
    }
    assert.equal(e?.code, 'store.unavailable');
    assert.equal(e?.details?.['reason'], 'PG_AUTH_FAILED');
    assert.equal(e?.details?.['driverCode'], '28000');
  } finally {
    await store?.close();
    await db.drop();
    await admin((c) => c.query(`drop role if exists ${role}`));
  }
});

test('store breaker: an auth-class failure backs the probe off (doubling to maxIntervalMs); a network failure probes at the interval again; the new cause is logged', async () => {
  const at: number[] = [];
  let fail: Error | undefined = Object.assign(new Error('password authentication failed for user "portcullis"'), { code: '28P01' });
  const log = capturingLogger();
  const breaker = new StoreBreaker({
    intervalMs: 20,
    maxIntervalMs: 160,
    classify: classifyPostgresFailure,
    logger: log.logger,
    probe: async () => {
      at.push(Date.now());
      if (fail) throw fail;
    },
  });
  try {
    breaker.trip(fail);
    assert.throws(() => breaker.check(), (e: unknown) => e instanceof PortcullisError && e.code === 'store.unavailable' && e.details?.['reason'] === 'PG_AUTH_FAILED');
    await sleep(1000);
    const gaps = at.slice(1).map((t, i) => t - at[i]!);
    assert.ok(at.length <= 10, `${at.length} probes in 1 s (gaps ${gaps.join(', ')})`);
    assert.ok(gaps.length >= 4, `gaps ${gaps.join(', ')}`);
    assert.ok(gaps[1]! >= 35 && gaps[2]! >= 75 && gaps[3]! >= 150, `gaps ${gaps.join(', ')}`);
    assert.ok(Math.max(...gaps) < 160 + 100, `gaps ${gaps.join(', ')}`);

    fail = Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:5432'), { code: 'ECONNREFUSED' });
    await sleep(200);
    assert.throws(() => breaker.check(), (e: unknown) => e instanceof PortcullisError && e.details?.['reason'] === 'PG_UNREACHABLE');
    const n = at.length;
    await sleep(200);
    assert.ok(at.length - n >= 4, `${at.length - n} probes in 200 ms after a network failure`);
    assert.match(log.text(), /"reason":"PG_UNREACHABLE"/);

    fail = undefined;
    await sleep(100);
    breaker.check();
  } finally {
    breaker.close();
  }
});
