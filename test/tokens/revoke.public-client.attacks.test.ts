/**
 * RFC 7009 §2.1 at the shared /oauth2/revoke for a public sign-in app (no client secret,
 * `token_endpoint_auth_method: none`, PKCE): the server validates the client credentials "in
 * case of a confidential client"; a public client is identified by its `client_id`. Such an app
 * revoking its own JWT access token (what oidc-client-ts does at sign-out) was answered 401
 * `invalid_client`, as TokenService required client authentication for every caller. It
 * revokes it now, audited; another app's token named with the app's client_id is refused as a
 * confidential app's attempt is (400 `unauthorized_client`, `token.revoke-refused`), and that
 * token keeps working at the gateway.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import * as client from 'openid-client';
import { REDIRECT, signIn, startOidcNode, type OidcApp } from '../support/oidc-node.js';
import { basic, postForm, type TestNode } from '../support/portcullis.js';

const AUD = 'https://orders.example.test';
const PASSWORD = 'plum tractor velvet orbit';
let node: TestNode;
let upstream: Server;
let spaA: OidcApp;
let spaB: OidcApp;

async function publicApp(name: string): Promise<OidcApp> {
  const { app, clientSecret } = await node.services.apps.create({ name, audiences: [AUD], scopes: ['read'], type: 'public', redirectUris: [REDIRECT] }, 'test');
  assert.equal(clientSecret, null, 'a public app has no secret');
  const config = await client.discovery(new URL(node.urls.identity!), app.clientId, { token_endpoint_auth_method: 'none' }, client.None(), { execute: [client.allowInsecureRequests] });
  return { clientId: app.clientId, config };
}

before(async () => {
  upstream = createServer((_req, res) => res.end('ok'));
  await new Promise<void>((r) => upstream.listen(0, '127.0.0.1', r));
  const port = (upstream.address() as AddressInfo).port;
  node = await startOidcNode(`routes:\n  - name: orders\n    match: { pathPrefix: /orders }\n    upstream: http://127.0.0.1:${port}\n    require:\n      token: { audience: '${AUD}' }\n`);
  spaA = await publicApp('spa-a');
  spaB = await publicApp('spa-b');
  await node.services.identity.users.add({ email: 'spa@example.test', password: PASSWORD }, 'test');
});
after(async () => {
  await node.stop();
  upstream.close();
});

const revoke = (form: Record<string, string>, headers: Record<string, string> = {}) => postForm(`${node.urls.identity}/oauth2/revoke`, form, headers);
async function atGateway(token: string): Promise<{ status: number; code?: string }> {
  const r = await fetch(`${node.urls.gateway}/orders/1`, { headers: { authorization: `Bearer ${token}` } });
  const text = await r.text();
  return r.status === 200 ? { status: 200 } : { status: r.status, code: (JSON.parse(text) as { code: string }).code };
}
async function auditRows(type: string) {
  await node.services.audit.flush();
  return (await node.services.store.tailAudit(500)).filter((r) => r.type === type);
}

test('a public app revokes its own JWT access token by client_id: 200, audited, and the gateway refuses it (token.revoked)', async () => {
  const { tokens } = await signIn(node, spaA, AUD, 'spa@example.test', PASSWORD);
  const at = tokens.access_token;
  assert.equal(at.split('.').length, 3, 'a JWT access token');
  assert.equal((await atGateway(at)).status, 200);
  const before = (await auditRows('token.revoked')).length;
  const r = await revoke({ token: at, token_type_hint: 'access_token', client_id: spaA.clientId });
  assert.equal(r.status, 200, JSON.stringify(r.body));
  const rows = await auditRows('token.revoked');
  assert.equal(rows.length, before + 1, 'the revocation is audited');
  assert.equal(rows.at(-1)!.actor, `client:${spaA.clientId}`);
  assert.equal(rows.at(-1)!.clientId, spaA.clientId);
  assert.equal((rows.at(-1)!.data as { clientAuthentication?: string }).clientAuthentication, 'none', 'identified by client_id, not authenticated');
  assert.doesNotMatch(JSON.stringify(rows.at(-1)), new RegExp(at.slice(-16)), 'the token is not in the audit event');
  assert.deepEqual(await atGateway(at), { status: 401, code: 'token.revoked' });
});

test("attack: public app A sends app B's access token with A's client_id → 400 unauthorized_client, audited, and B's token keeps working", async () => {
  const { tokens } = await signIn(node, spaB, AUD, 'spa@example.test', PASSWORD);
  const at = tokens.access_token;
  const before = (await auditRows('token.revoke-refused')).length;
  const r = await revoke({ token: at, client_id: spaA.clientId });
  assert.equal(r.status, 400, JSON.stringify(r.body));
  assert.equal(r.body.error, 'unauthorized_client');
  const rows = (await auditRows('token.revoke-refused'));
  assert.equal(rows.length, before + 1, 'the refused revocation is audited');
  assert.equal(rows.at(-1)!.reason, 'oauth.unauthorized-client');
  assert.equal(rows.at(-1)!.actor, `client:${spaA.clientId}`);
  assert.equal((await atGateway(at)).status, 200, "B's token still works at the gateway");
});

test('attack: no client_id, or a confidential app named without its secret, is still 401 invalid_client; the token keeps working', async () => {
  const { tokens } = await signIn(node, spaA, AUD, 'spa@example.test', PASSWORD);
  const at = tokens.access_token;
  const anonymous = await revoke({ token: at });
  assert.equal(anonymous.status, 401, JSON.stringify(anonymous.body));
  assert.equal(anonymous.body.error, 'invalid_client');
  const { app: confidential } = await node.services.apps.create({ name: 'web', audiences: [AUD], scopes: ['read'], redirectUris: [REDIRECT] }, 'test');
  const unauthenticated = await revoke({ token: at, client_id: confidential.clientId });
  assert.equal(unauthenticated.status, 401, JSON.stringify(unauthenticated.body));
  assert.equal(unauthenticated.body.error, 'invalid_client');
  const wrongSecret = await revoke({ token: at }, { authorization: basic(spaA.clientId, 'guess') });
  assert.equal(wrongSecret.status, 401, 'a public app presenting a secret has none to match');
  assert.equal(wrongSecret.body.error, 'invalid_client');
  assert.equal((await atGateway(at)).status, 200);
});

test('attack: a disabled public app cannot revoke by client_id (401 invalid_client)', async () => {
  const spaC = await publicApp('spa-c');
  const { tokens } = await signIn(node, spaC, AUD, 'spa@example.test', PASSWORD);
  await node.services.apps.disable(spaC.clientId, 'test');
  const r = await revoke({ token: tokens.access_token, client_id: spaC.clientId });
  assert.equal(r.status, 401, JSON.stringify(r.body));
  assert.equal(r.body.error, 'invalid_client');
});
