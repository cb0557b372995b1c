/**
 * A node whose `store` or `ephemeral` URL is wrong (nothing listens there, no such
 * database or role) must say at start which setting failed and why, in the driver's
 * words, without the password of the URL: "durable store ping failed" left the operator
 * to guess between a typo in the port, the database name and the credentials.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { PortcullisError } from '../../src/core/errors.js';
import { openDurableStore, openEphemeralStore } from '../../src/store/index.js';
import { serviceTest } from '../support/services.js';

const PASSWORD = 's3cret-pw';

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

test('store: nothing listens at the PostgreSQL address → store.unavailable naming the setting, the address and ECONNREFUSED', async () => {
  const e = await failure(openDurableStore(`postgres://portcullis:${PASSWORD}@127.0.0.1:1/portcullis`));
  assert.equal(e.code, 'store.unavailable');
  assert.match(e.message, /^store: cannot use postgres:\/\/portcullis@127\.0\.0\.1:1\/portcullis: connect ECONNREFUSED 127\.0\.0\.1:1$/);
});

await serviceTest('postgres', 'store: a database that does not exist → store.unavailable with PostgreSQL\'s reason', async () => {
  const e = await failure(openDurableStore(`postgres://postgres:${PASSWORD}@127.0.0.1:5432/portcullis_no_such_db`));
  assert.equal(e.code, 'store.unavailable');
  assert.match(e.message, /^store: cannot use postgres:\/\/postgres@127\.0\.0\.1:5432\/portcullis_no_such_db: database "portcullis_no_such_db" does not exist$/);
});

test('ephemeral: nothing listens at the Redis address → unavailable naming the setting, the address and ECONNREFUSED', async () => {
  const e = await failure(openEphemeralStore(`redis://:${PASSWORD}@127.0.0.1:1/0`, { prefix: 'x:' }));
  assert.equal(e.code, 'unavailable');
  assert.match(e.message, /^ephemeral: cannot use redis:\/\/127\.0\.0\.1:1\/0: connect ECONNREFUSED 127\.0\.0\.1:1$/);
});
