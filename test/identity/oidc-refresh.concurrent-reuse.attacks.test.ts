/**
 * RFC 9700 §4.14.2: a refresh token used twice means it leaked, and the whole grant is
 * revoked. Used twice at the same moment (the thief and the app racing), exactly one use
 * wins the compare-and-set and a loser revokes the grant — but the winner goes on issuing
 * after the loser's revocation read the grant's rows: on PostgreSQL its new refresh token
 * and its new access token were stored after the revocation, so the winner (perhaps the
 * thief) kept a working family. Now the loser also destroys the grant (a refresh token
 * stored late finds no grant: invalid_grant), and an access token whose id is recorded
 * after its grant was marked revoked is revoked at once (token.revoked at the gateway).
 */
import { after } from 'node:test';
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { registerOidcApp, signIn, startOidcNode } from '../support/oidc-node.js';
import { basic, postForm } from '../support/portcullis.js';
import { createTempPostgresDatabase, randomRedisPrefix, redisUrl, serviceTest } from '../support/services.js';

const AUD = 'https://orders.example.test';
const PASSWORD = 'plum tractor velvet orbit';
const ROUNDS = 8;

await serviceTest(['postgres', 'redis'], 'attack: one refresh token used three times at once → the losers get invalid_grant, and the winner\'s tokens are revoked too (token.revoked, invalid_grant)', async () => {
  const db = await createTempPostgresDatabase();
  const upstream = createServer((_req, res) => res.end('ok'));
  await new Promise<void>((r) => upstream.listen(0, '127.0.0.1', r));
  const port = (upstream.address() as AddressInfo).port;
  const node = await startOidcNode(
    `store: ${db.url}\nephemeral: ${redisUrl()}\nephemeralPrefix: "${randomRedisPrefix()}"\nroutes:\n  - name: orders\n    match: { pathPrefix: /orders }\n    upstream: http://127.0.0.1:${port}\n    require:\n      token: { audience: '${AUD}' }\n`,
  );
  after(async () => {
    await node.stop();
    upstream.close();
    await db.drop();
  });
  const app = await registerOidcApp(node, AUD);
  const auth = basic(app.clientId, app.config.clientMetadata().client_secret as string);
  const refresh = (rt: string) => postForm(`${node.urls.identity}/oauth2/token`, { grant_type: 'refresh_token', refresh_token: rt }, { authorization: auth });
  const atGateway = async (token: string) => {
    const r = await fetch(`${node.urls.gateway}/orders/1`, { headers: { authorization: `Bearer ${token}` } });
    const text = await r.text();
    return { status: r.status, code: r.status === 200 ? undefined : (JSON.parse(text) as { code: string }).code };
  };
  await node.services.identity.users.add({ email: 'racer@example.test', password: PASSWORD }, 'test');

  const escaped: string[] = [];
  for (let round = 0; round < ROUNDS; round++) {
    const { tokens } = await signIn(node, app, AUD, 'racer@example.test', PASSWORD);
    const answers = await Promise.all([refresh(tokens.refresh_token!), refresh(tokens.refresh_token!), refresh(tokens.refresh_token!)]);
    for (const a of answers) {
      if (a.status !== 200) {
        assert.equal(a.status, 400, JSON.stringify(a.body));
        assert.equal(a.body.error, 'invalid_grant');
        continue;
      }
      const gw = await atGateway(a.body.access_token as string);
      if (gw.status !== 401 || gw.code !== 'token.revoked') escaped.push(`round ${round}: the winner's access token → ${gw.status} ${gw.code ?? ''}`);
      const next = await refresh(a.body.refresh_token as string);
      if (next.status !== 400 || next.body.error !== 'invalid_grant') escaped.push(`round ${round}: the winner's refresh token → ${next.status} ${next.body.error ?? ''}`);
    }
  }
  assert.deepEqual(escaped, [], 'every token of a grant whose refresh token was reused is revoked');
});
