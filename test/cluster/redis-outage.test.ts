/**
 * Two nodes on one PostgreSQL and one Redis; node A's Redis connections (its main
 * thread's and its gateway thread's) run through a relay the test cuts or makes silent.
 * Revocations made on node B while A cannot hear them on pub/sub hold on A's gateway,
 * during the outage and after it: A re-reads the store every second while its subscription
 * is down and once more when it is back, not only at the next reconcile (here a minute
 * away); then pub/sub works again. A cut link is noticed at once (the connection resets);
 * a silent one (no reset, no answer) by the subscription's heartbeat: a PING unanswered
 * within the command timeout.
 */
import { after } from 'node:test';
import assert from 'node:assert/strict';
import { SignJWT } from 'jose';
import { createTempPostgresDatabase, randomRedisPrefix, redisUrl, serviceTest } from '../support/services.js';
import { startTestNode, testConfig, basic, postForm, type TestNode } from '../support/portcullis.js';
import { openRelay } from '../support/tcp-relay.js';
import { COMMAND_TIMEOUT_MS, DEFAULT_HEARTBEAT_MS } from '../../src/store/redis/ephemeral.js';
import { startPeer, upstream, waitFor } from './helpers.js';

const config = (store: string, ephemeral: string, prefix: string, upstreamUrl: string): string =>
  testConfig(`store: ${store}
ephemeral: ${ephemeral}
ephemeralPrefix: "${prefix}"
revocation: { reconcileInterval: 60s }
routes:
  - name: orders
    match: { pathPrefix: /orders }
    upstream: ${upstreamUrl}
    require:
      token: { audience: orders-api, scopes: [orders:read] }
`);

/** How long after the revocations node A refuses the tokens: the loss noticed, then a re-read (every second) and room for a slow machine. */
const REFUSED_WITHIN_MS = { cut: 2500, stall: DEFAULT_HEARTBEAT_MS + COMMAND_TIMEOUT_MS + 2500 };

for (const outage of ['cut', 'stall'] as const) {
  const name = `attack: revocations made while a node's Redis link was down (${outage}) hold on that node within ${REFUSED_WITHIN_MS[outage]} ms, during the outage and after it (token revoked, app disabled, user sessions ended)`;
  await serviceTest(['postgres', 'redis'], name, async () => {
    const db = await createTempPostgresDatabase();
    const up = await upstream();
    const relay = await openRelay(redisUrl());
    const prefix = randomRedisPrefix();
    let a: TestNode | undefined;
    let b: TestNode | undefined;
    after(async () => {
      await a?.stop();
      await b?.stop();
      await relay.close();
      up.server.close();
      await db.drop();
    });
    a = await startTestNode({ config: config(db.url, relay.url, prefix, up.url) });
    b = await startPeer(a, config(db.url, redisUrl(), prefix, up.url));

    const created = async (n: string) => {
      const r = await a!.services.apps.create({ name: n, audiences: ['orders-api'], scopes: ['orders:read'] }, 'test');
      return { id: r.app.clientId, secret: r.clientSecret! };
    };
    const [revoked, disabled, signIn] = [await created('revoked-client'), await created('disabled-client'), await created('sign-in-app')];
    const token = async (c: { id: string; secret: string }) => (await postForm(`${a!.urls.identity}/oauth2/token`, { grant_type: 'client_credentials' }, { authorization: basic(c.id, c.secret) })).body.access_token as string;
    const user = await a.services.identity.users.add({ email: 'outage@example.com' }, 'test');
    const key = a.services.keys.signingKey();
    const iat = Math.floor(Date.now() / 1000) - 5;
    const userToken = await new SignJWT({ client_id: signIn.id, scope: 'orders:read' })
      .setProtectedHeader({ alg: key.alg, kid: key.kid, typ: 'at+jwt' })
      .setIssuer(a.services.config.issuer)
      .setSubject(user.id)
      .setAudience('orders-api')
      .setJti('jti-outage-user')
      .setIssuedAt(iat)
      .setExpirationTime(iat + 600)
      .sign(key.privateKey);
    const tRevoked = await token(revoked);
    const tDisabled = await token(disabled);
    const call = async (t: string) => (await fetch(`${a!.urls.gateway}/orders/1`, { headers: { authorization: `Bearer ${t}` } })).status;
    for (const t of [tRevoked, tDisabled, userToken]) assert.equal(await call(t), 200);

    relay[outage]();
    const rv = await postForm(`${b.urls.identity}/oauth2/revoke`, { token: tRevoked }, { authorization: basic(revoked.id, revoked.secret) });
    assert.equal(rv.status, 200);
    await b.services.apps.disable(disabled.id, 'test');
    await b.services.identity.users.endAllSessions(user.id, 'test');
    // while the link is down, node A re-reads the store every second
    const within = REFUSED_WITHIN_MS[outage];
    await waitFor('the revoked token refused on node A during the outage', async () => (await call(tRevoked)) === 401, within);
    await waitFor('the disabled app\'s token refused on node A during the outage', async () => (await call(tDisabled)) === 401, within);
    await waitFor('the user\'s token refused on node A during the outage', async () => (await call(userToken)) === 401, within);
    relay.restore();

    // once it is back, the subscription is live again: a revocation reaches A by pub/sub (the reconcile is a minute away)
    const later = await created('later-client');
    const tLater = await token(later);
    await waitFor('a token of a new app accepted on node A', async () => (await call(tLater)) === 200, 5000);
    for (const t of [tRevoked, tDisabled, userToken]) assert.equal(await call(t), 401);
    await b.services.apps.revokeTokens(later.id, 'test');
    await waitFor('a revocation made after the link is back refused on node A', async () => (await call(tLater)) === 401, 1000);
  });
}
