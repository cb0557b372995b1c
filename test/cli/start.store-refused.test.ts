/**
 * `portcullis start` on a PostgreSQL that refuses the node (a changed password: 28P01)
 * fails with `store.unavailable`; the error names the cause (`reason`, `driverCode`), as
 * `/readyz` and the log do, so the operator reading the terminal of a failed start sees a
 * refused password, not what could be a partition. One line, no stack, never the password.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { initDir, TEST_CONFIG } from '../admin/node.js';
import { openPgRefuser, type PgRefuser } from '../support/pg-refuser.js';
import { runCli } from './run.js';

const PASSWORD = 'Wr0ng-pw-9d2b';
let dir: string;
let refuser: PgRefuser;
before(async () => {
  ({ dir } = await initDir());
  // no server behind it: every login is refused as a server whose role's password changed would
  refuser = await openPgRefuser(`postgres://portcullis:${PASSWORD}@127.0.0.1:5432/portcullis`);
  refuser.refuse();
});
after(async () => {
  await refuser?.close();
  rmSync(dir, { recursive: true, force: true });
});

test('start: PostgreSQL refuses the password → exit 1, one line "error: store.unavailable: … (reason PG_AUTH_FAILED, driverCode 28P01)", no stack, no password', async () => {
  const config = join(dir, 'refused.yaml');
  writeFileSync(config, TEST_CONFIG.replace('store: sqlite:./portcullis.db', `store: ${refuser.url}`));
  const r = await runCli(['start', '--config', config], {}, 60_000);
  assert.equal(r.code, 1, r.stderr);
  const stderr = r.stderr.replace(/^oidc-provider WARNING.*\n/m, '');
  const port = new URL(refuser.url).port;
  assert.equal(stderr, `error: store.unavailable: store: cannot use postgres://portcullis@127.0.0.1:${port}/portcullis: password authentication failed for user "portcullis" (reason PG_AUTH_FAILED, driverCode 28P01)\n`);
  assert.ok(!(r.stdout + r.stderr).includes(PASSWORD), 'the password was printed');
});
