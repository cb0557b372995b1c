/**
 * `token.revoked` webhooks for the access tokens of a user sign-in revoked with their
 * grant, on a whole node: a reused refresh token (RFC 9700 reuse detection) revokes the
 * family, and each of its live JWT access tokens reaches the subscriber, signed.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import * as client from 'openid-client';
import { decodeJwt } from 'jose';
import { verifyWebhook } from '../../src/sdk/index.js';
import { registerOidcApp, signIn, startOidcNode, type OidcApp } from '../support/oidc-node.js';
import type { TestNode } from '../support/portcullis.js';
import { startReceiver, type Receiver } from './helpers.js';

const AUD = 'https://api.example.test';
const PASSWORD = 'plum tractor velvet orbit';
let node: TestNode;
let app: OidcApp;
let rx: Receiver;

before(async () => {
  rx = await startReceiver('/hooks/oidc');
  // the receiver is on 127.0.0.1: the explicit opt-in
  node = await startOidcNode('webhooks: { allowPrivateTargets: true }');
  app = await registerOidcApp(node, AUD);
});
after(async () => {
  await node?.stop();
  await rx?.close();
});

test('refresh-token reuse revokes the family: a token.revoked webhook for each live access token of the grant, naming the user', async () => {
  const sub = await fetch(`${node.urls.admin}/v1/webhooks`, {
    method: 'POST',
    headers: { authorization: `Bearer ${node.adminToken}`, 'content-type': 'application/json' },
    body: JSON.stringify({ url: rx.url, events: ['token.revoked'] }),
  });
  assert.equal(sub.status, 201);
  const u = await node.services.identity.users.add({ email: 'family@example.test', password: PASSWORD }, 'test');
  const { tokens: t0 } = await signIn(node, app, AUD, 'family@example.test', PASSWORD);
  const t1 = await client.refreshTokenGrant(app.config, t0.refresh_token!, { resource: AUD });
  await assert.rejects(client.refreshTokenGrant(app.config, t0.refresh_token!, { resource: AUD }), (e: client.ResponseBodyError) => e.error === 'invalid_grant');

  const want = new Set([decodeJwt(t0.access_token).jti, decodeJwt(t1.access_token).jti]);
  const start = Date.now();
  while (Date.now() - start < 5000 && rx.received.length < want.size) await new Promise((r) => setTimeout(r, 50));
  assert.equal(rx.received.length, want.size, 'one delivery per revoked access token');
  for (const r of rx.received) {
    const { event } = await verifyWebhook(rx.asRequest(r), { jwksUrl: `${node.urls.identity}/jwks` });
    assert.equal(event.type, 'token.revoked');
    assert.equal(event.client_id, app.clientId);
    assert.equal(event.data['reason'], 'grant-revoked');
    assert.equal(event.data['userId'], u.id);
    assert.ok(want.delete(String(event.data['jti'])), `an access token of the family: ${String(event.data['jti'])}`);
  }
  assert.equal(want.size, 0);
});
