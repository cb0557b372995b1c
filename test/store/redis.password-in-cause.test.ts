/**
 * ioredis puts the command it failed on into its error (`command: { name: 'auth', args:
 * [user, password] }`), so an error that kept it as its `cause` printed the Redis password
 * to whoever logged or inspected it (`console.error(e)`, `util.inspect(e)`, pino's `err`).
 * Every Redis error Portcullis wraps carries a sanitized cause instead: message and code only.
 *
 * The refusal is real and needs no change to the shared Redis: AUTH names a user that does
 * not exist there (WRONGPASS, as for a wrong password).
 */
import assert from 'node:assert/strict';
import { appendFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { inspect } from 'node:util';
import { Redis } from 'ioredis';
import { startPortcullis } from '../../src/app.js';
import { PortcullisError } from '../../src/core/errors.js';
import { silentLogger } from '../../src/core/logger.js';
import { CONFIG_FILE, initPortcullis } from '../../src/init.js';
import { openEphemeralStore } from '../../src/store/index.js';
import { tempDir, testConfig } from '../support/portcullis.js';
import { randomRedisPrefix, redisUrl, serviceTest } from '../support/services.js';

const PASSWORD = 'Wr0ng-redis-pw-5c1e';

/** The shared Redis's address with a user and password it refuses. */
function refusedUrl(): string {
  const u = new URL(redisUrl());
  u.username = 'portcullis-no-such-user';
  u.password = PASSWORD;
  return u.toString();
}

function assertNoCommandArgs(e: unknown): void {
  const shown = inspect(e, { depth: 10 });
  assert.ok(!shown.includes(PASSWORD), `the password leaked:\n${shown}`);
  for (let c: unknown = e; c !== undefined; c = (c as { cause?: unknown }).cause) {
    assert.ok(c instanceof Error, String(c));
    for (const member of ['command', 'args', 'previousErrors', 'lastNodeError']) assert.ok(!(member in c), `the cause keeps ${member}:\n${shown}`);
  }
}

await serviceTest('redis', 'ephemeral store: Redis refuses the password → unavailable whose causes (util.inspect, depth 10) carry no password and no AUTH arguments', async () => {
  let caught: unknown;
  try {
    await openEphemeralStore(refusedUrl(), { prefix: randomRedisPrefix() });
  } catch (e) {
    caught = e;
  }
  assert.ok(caught instanceof PortcullisError, String(caught));
  assert.equal(caught.code, 'unavailable');
  assert.match(caught.message, /WRONGPASS/);
  assertNoCommandArgs(caught);
});

await serviceTest('redis', 'startPortcullis: Redis refuses the password → the start-up error carries no password at any depth', async () => {
  const dir = tempDir();
  try {
    await initPortcullis(dir, { config: testConfig() });
    appendFileSync(join(dir, CONFIG_FILE), `ephemeral: "${refusedUrl()}"\nephemeralPrefix: "${randomRedisPrefix()}"\n`);
    let caught: unknown;
    try {
      const node = await startPortcullis({ configFile: join(dir, CONFIG_FILE), ephemeralPorts: true, logger: silentLogger, env: {} });
      await node.close();
    } catch (e) {
      caught = e;
    }
    assert.ok(caught instanceof PortcullisError, String(caught));
    assert.equal(caught.code, 'unavailable');
    assertNoCommandArgs(caught);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

await serviceTest('redis', 'ephemeral store: a command Redis refuses at run time → unavailable whose cause keeps no command arguments', async () => {
  const prefix = randomRedisPrefix();
  const raw = new Redis(redisUrl());
  const store = await openEphemeralStore(redisUrl(), { prefix });
  try {
    await raw.zadd(`${prefix}${PASSWORD}`, 1, 'm');
    let caught: unknown;
    try {
      await store.get(PASSWORD);
    } catch (e) {
      caught = e;
    }
    assert.ok(caught instanceof PortcullisError, String(caught));
    assert.equal(caught.code, 'unavailable');
    assert.match((caught.cause as Error).message, /WRONGTYPE/);
    assertNoCommandArgs(caught);
  } finally {
    await raw.del(`${prefix}${PASSWORD}`);
    raw.disconnect();
    await store.close();
  }
});

/** A password with a `/` or `#` not percent-encoded: the URL parser refuses the URL, and its TypeError keeps the whole URL as `input`. */
const UNPARSEABLE_PASSWORD = 'Sekr/et-redis-pw-7d2a';

test('attack: a Redis URL whose password holds an unencoded / → unavailable, and neither the error nor its causes (util.inspect, depth 10) carry the password', async () => {
  let caught: unknown;
  try {
    await openEphemeralStore(`redis://:${UNPARSEABLE_PASSWORD}@127.0.0.1:6379`, { prefix: randomRedisPrefix() });
  } catch (e) {
    caught = e;
  }
  assert.ok(caught instanceof PortcullisError, String(caught));
  assert.equal(caught.code, 'unavailable');
  assert.match(caught.message, /^ephemeral: cannot use \(unparseable URL\): Invalid URL$/);
  const shown = inspect(caught, { depth: 10 });
  for (const part of [UNPARSEABLE_PASSWORD, 'Sekr', 'et-redis-pw']) assert.ok(!shown.includes(part), `the password leaked:\n${shown}`);
  for (let c: unknown = caught; c !== undefined; c = (c as { cause?: unknown }).cause) assert.ok(!('input' in (c as object)), `a cause keeps the URL as input:\n${shown}`);
});
