/**
 * An error Portcullis throws or keeps for a PostgreSQL store (start-up, `openDurableStore`, the
 * breaker's refusal at run time) keeps the driver's error as its `cause`. That cause must not
 * carry the password of the store URL to whoever logs or inspects it (`util.inspect`, depth 10),
 * as ioredis's did (redis.password-in-cause.test.ts). node-postgres keeps the password of a
 * client non-enumerable, pg-connection-string redacts the `input` of an unparseable URL, and
 * the server's refusals (28P01, 3D000, a role that does not exist) name the user at most; this
 * pins that for every way a store URL is refused here.
 *
 * The machine's PostgreSQL trusts 127.0.0.1 (any password is accepted), so a refused password
 * comes from the refuser stand-in (test/support/pg-refuser.ts), which speaks the real protocol.
 */
import assert from 'node:assert/strict';
import { appendFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { inspect } from 'node:util';
import { startPortcullis } from '../../src/app.js';
import { PortcullisError } from '../../src/core/errors.js';
import { silentLogger } from '../../src/core/logger.js';
import { CONFIG_FILE, initPortcullis } from '../../src/init.js';
import { openDurableStore, type DurableStore } from '../../src/store/index.js';
import { openPgRefuser } from '../support/pg-refuser.js';
import { tempDir, testConfig } from '../support/portcullis.js';
import { createTempPostgresDatabase, serviceTest } from '../support/services.js';

const PASSWORD = 'Wr0ng-pg-pw-3d9b';

function assertNoPassword(e: unknown): void {
  assert.ok(e instanceof PortcullisError, String(e));
  assert.equal(e.code, 'store.unavailable');
  const shown = inspect(e, { depth: 10 });
  assert.ok(!shown.includes(PASSWORD), `the password leaked:\n${shown}`);
  for (let c: unknown = e; c !== undefined; c = (c as { cause?: unknown }).cause) {
    assert.ok(c instanceof Error, String(c));
    for (const member of ['client', 'connectionParameters', 'connectionString', 'config']) assert.ok(!(member in c), `the cause keeps ${member}:\n${shown}`);
  }
}

async function failure(p: Promise<unknown>): Promise<unknown> {
  try {
    await p;
  } catch (e) {
    return e;
  }
  assert.fail('expected a failure');
}

await serviceTest('postgres', 'openDurableStore: a refused password (28P01), a database or role that does not exist, an unparseable URL, a password in the query → store.unavailable whose causes carry no password', async () => {
  const refuser = await openPgRefuser(`postgres://portcullis:${PASSWORD}@127.0.0.1:5432/portcullis`);
  refuser.refuse();
  try {
    for (const url of [
      refuser.url,
      `postgres://postgres:${PASSWORD}@127.0.0.1:5432/portcullis_no_such_db`,
      `postgres://portcullis_no_such_role:${PASSWORD}@127.0.0.1:5432/postgres`,
      `postgres://postgres:${PASSWORD}@127.0.0.1:99999/postgres`,
      `postgres://postgres:${PASSWORD}@[127.0.0.1/postgres`,
      `postgres://postgres@127.0.0.1:5432/portcullis_no_such_db?password=${PASSWORD}`,
    ]) {
      assertNoPassword(await failure(openDurableStore(url)));
    }
  } finally {
    await refuser.close();
  }
});

await serviceTest('postgres', 'runtime: the password is refused under a running node → the failed statement and the breaker refusal keep no password in their causes', async () => {
  const db = await createTempPostgresDatabase();
  const url = new URL(db.url);
  url.password = PASSWORD;
  const refuser = await openPgRefuser(url.toString());
  let store: DurableStore | undefined;
  try {
    store = await openDurableStore(refuser.url);
    await store.ping();
    refuser.refuse();
    assertNoPassword(await failure(store.ping()));
    assertNoPassword(await failure(store.ping()));
  } finally {
    await store?.close();
    await refuser.close();
    await db.drop();
  }
});

await serviceTest('postgres', 'startPortcullis: PostgreSQL refuses the password → the start-up error carries no password at any depth', async () => {
  const dir = tempDir();
  const refuser = await openPgRefuser(`postgres://portcullis:${PASSWORD}@127.0.0.1:5432/portcullis`);
  refuser.refuse();
  try {
    await initPortcullis(dir, { config: testConfig() });
    appendFileSync(join(dir, CONFIG_FILE), `store: "${refuser.url}"\n`);
    let caught: unknown;
    try {
      const node = await startPortcullis({ configFile: join(dir, CONFIG_FILE), ephemeralPorts: true, logger: silentLogger, env: {} });
      await node.close();
    } catch (e) {
      caught = e;
    }
    assertNoPassword(caught);
  } finally {
    await refuser.close();
    rmSync(dir, { recursive: true, force: true });
  }
});
