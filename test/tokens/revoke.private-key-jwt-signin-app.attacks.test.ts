/**
 * RFC 7009 at the shared /oauth2/revoke: a sign-in app that authenticates with
 * private_key_jwt may leave out client_id (RFC 7523 §3: the assertion's sub names the
 * client). Its refresh token must then really be revoked — a 200 that leaves the refresh
 * token redeemable would be an acknowledged revocation that never happened.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import * as client from 'openid-client';
import type { CryptoKey } from 'jose';
import { signIn, startOidcNode, type OidcApp } from '../support/oidc-node.js';
import type { TestNode } from '../support/portcullis.js';
import { SIGNIN_APP_AUDIENCE, clientAssertion, clientKey, registerSignInApp } from '../identity/client-assertion-fixture.js';

const AUD = SIGNIN_APP_AUDIENCE;
const PASSWORD = 'plum tractor velvet orbit';
let node: TestNode;
let app: OidcApp;
let privateKey: CryptoKey;

before(async () => {
  node = await startOidcNode();
  const key = await clientKey();
  privateKey = key.privateKey;
  const clientId = await registerSignInApp(node, key.jwk);
  const config = await client.discovery(new URL(node.urls.identity!), clientId, { token_endpoint_auth_method: 'private_key_jwt' }, client.PrivateKeyJwt({ key: privateKey, kid: 'k1' }), { execute: [client.allowInsecureRequests] });
  app = { clientId, config };
  await node.services.identity.users.add({ email: 'pk@example.test', password: PASSWORD }, 'test');
});
after(() => node.stop());

const assertion = () => clientAssertion(privateKey, app.clientId, node.urls.identity!);

test('attack: a refresh token revoked with private_key_jwt and no client_id no longer redeems', async () => {
  const { tokens } = await signIn(node, app, AUD, 'pk@example.test', PASSWORD);
  assert.ok(tokens.refresh_token, 'a refresh token was issued');
  const introspected = await fetch(`${node.urls.identity}/oauth2/introspect`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ token: tokens.refresh_token!, client_assertion_type: 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer', client_assertion: await assertion() }),
  });
  assert.equal(((await introspected.json()) as { active: boolean }).active, true, 'introspection finds the live refresh token');
  const res = await fetch(`${node.urls.identity}/oauth2/revoke`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ token: tokens.refresh_token!, token_type_hint: 'refresh_token', client_assertion_type: 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer', client_assertion: await assertion() }),
  });
  assert.equal(res.status, 200, await res.text());
  await assert.rejects(client.refreshTokenGrant(app.config, tokens.refresh_token!, { resource: AUD }), (e: client.ResponseBodyError) => e.error === 'invalid_grant');
});
