/**
 * Two nodes on one PostgreSQL and one Redis: tokens issued by one node work on the
 * other's gateway, and a revocation on one node reaches the other within a second
 * (pub/sub), or at the next reconcile when the message is lost.
 */
import { after } from 'node:test';
import assert from 'node:assert/strict';
import { createTempPostgresDatabase, randomRedisPrefix, redisUrl, serviceTest } from '../support/services.js';
import { startTestNode, testConfig, basic, postForm, type TestNode } from '../support/portcullis.js';
import { startPeer, upstream, waitFor } from './helpers.js';

const name = 'scale-out: two nodes share PostgreSQL and Redis; revocation reaches the other node within 1 s, and reconcile covers a lost message';
await serviceTest(['postgres', 'redis'], name, async () => {
  const db = await createTempPostgresDatabase();
  const up = await upstream();
  const prefix = randomRedisPrefix();
  const cfg = testConfig(`store: ${db.url}
ephemeral: ${redisUrl()}
ephemeralPrefix: "${prefix}"
revocation: { reconcileInterval: 500ms }
routes:
- name: orders
  match: { pathPrefix: /orders }
  upstream: ${up.url}
  require:
    token: { audience: orders-api, scopes: [orders:read] }
`);
  let a: TestNode | undefined;
  let b: TestNode | undefined;
  after(async () => {
    await a?.stop();
    await b?.stop();
    up.server.close();
    await db.drop();
  });
  a = await startTestNode({ config: cfg });
  b = await startPeer(a, cfg);

  const { app, clientSecret } = await a.services.apps.create({ name: 'orders-client', audiences: ['orders-api'], scopes: ['orders:read'] }, 'test');
  const other = await a.services.apps.create({ name: 'other-client', audiences: ['orders-api'], scopes: ['orders:read'] }, 'test');
  const token = async (id: string, secret: string) => (await postForm(`${a!.urls.identity}/oauth2/token`, { grant_type: 'client_credentials' }, { authorization: basic(id, secret) })).body.access_token as string;
  const call = async (node: TestNode, t: string) => (await fetch(`${node.urls.gateway}/orders/1`, { headers: { authorization: `Bearer ${t}` } })).status;

  // A token issued by node A works on node B's gateway (and on A's).
  const t1 = await token(app.clientId, clientSecret!);
  const tOther = await token(other.app.clientId, other.clientSecret!);
  assert.equal(await call(b, t1), 200);
  assert.equal(await call(a, t1), 200);
  assert.equal(await call(a, tOther), 200);

  // revoke-tokens on node B: node A's gateway rejects within one second; the other app keeps working.
  await b.services.apps.revokeTokens(app.clientId, 'test');
  const took = await waitFor('revocation on node A', async () => (await call(a!, t1)) === 401, 1000);
  assert.ok(took < 1000, `took ${took} ms`);
  assert.equal(await call(a, tOther), 200);
  assert.equal(await call(b, tOther), 200);

  // A revocation whose pub/sub message is lost (written to the store only) still arrives, at the next reconcile.
  await b.services.store.updateApp(other.app.clientId, { tokensRevokedBefore: Date.now() }, Date.now());
  await waitFor('reconcile on node A', async () => (await call(a!, tOther)) === 401, 3000);

  // One token revoked through RFC 7009 on node B is rejected by node A.
  await new Promise((r) => setTimeout(r, 1100));
  const t2 = await token(app.clientId, clientSecret!);
  assert.equal(await call(a, t2), 200);
  const rv = await postForm(`${b.urls.identity}/oauth2/revoke`, { token: t2 }, { authorization: basic(app.clientId, clientSecret!) });
  assert.equal(rv.status, 200);
  await waitFor('single-token revocation on node A', async () => (await call(a!, t2)) === 401, 1000);
});
