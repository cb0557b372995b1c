/**
 * PostgreSQL refusing the node (a changed password: 28P01) is named on the main thread's
 * `/readyz` (`details.reason: PG_AUTH_FAILED`). The gateway thread has a connection of its
 * own, and its part of `/readyz` said only "cannot read apps, revocations and keys": the
 * operator could not tell a refused password from a partition there. Its part names the
 * cause too, never the password.
 */
import assert from 'node:assert/strict';
import { PortcullisError } from '../../src/core/errors.js';
import { notReady } from '../../src/http/readiness.js';
import { openPgRefuser } from '../support/pg-refuser.js';
import { createTempPostgresDatabase, serviceTest } from '../support/services.js';
import { AUDIENCE, eventually, startPolicyNode, type PolicyNode } from './message-policy-support.js';

const PASSWORD = 'Wr0ng-pw-5c1e';

await serviceTest('postgres', 'the password changed under a node with a gateway thread → the thread’s part of /readyz is store.unavailable with reason PG_AUTH_FAILED and driverCode 28P01, never the password', async () => {
  const db = await createTempPostgresDatabase();
  const url = new URL(db.url);
  url.password = PASSWORD;
  const refuser = await openPgRefuser(url.toString());
  let p: PolicyNode | undefined;
  try {
    p = await startPolicyNode(
      `  - name: orders\n    match: { pathPrefix: /orders }\n    upstream: UPSTREAM\n    require: { token: { audience: ${AUDIENCE}, scopes: [orders:write] } }\n`,
      `store: ${refuser.url}\ngateway: { thread: true }\nrevocation: { reconcileInterval: 200ms }\n`,
    );
    const thread = p.node.gatewayThread;
    assert.ok(thread, 'the node runs its gateway on a thread');
    thread.check();

    refuser.refuse();
    let seen: PortcullisError | undefined;
    await eventually(
      'the gateway thread names the cause',
      async () => {
        try {
          thread.check();
          return false;
        } catch (e) {
          assert.ok(e instanceof PortcullisError, String(e));
          seen = e;
          return e.details?.['reason'] !== undefined;
        }
      },
      15_000,
    ).catch((e: unknown) => assert.fail(`${(e as Error).message}; last: ${seen?.code} ${seen?.message} ${JSON.stringify(seen?.details)}`));
    const e = seen!;
    assert.equal(e.code, 'store.unavailable');
    assert.equal(e.details?.['reason'], 'PG_AUTH_FAILED');
    assert.equal(e.details?.['driverCode'], '28P01');

    const wire = notReady(e);
    assert.equal(wire.status, 503);
    assert.equal(wire.body['code'], 'store.unavailable');
    assert.equal(wire.body['reason'], 'PG_AUTH_FAILED');
    assert.match(String(wire.body['detail']), /^the gateway thread cannot read apps, revocations and keys from the store: .*PG_AUTH_FAILED/);
    assert.ok(!JSON.stringify(wire.body).includes(PASSWORD), 'the password reached /readyz');

    const readyz = await fetch(`${p.node.urls.admin}/readyz`);
    const body = (await readyz.json()) as Record<string, unknown>;
    assert.equal(readyz.status, 503);
    assert.equal(body['reason'], 'PG_AUTH_FAILED');
    assert.ok(!JSON.stringify(body).includes(PASSWORD), 'the password reached /readyz');
  } finally {
    refuser.pass();
    await p?.stop();
    await refuser.close();
    await db.drop();
  }
});
