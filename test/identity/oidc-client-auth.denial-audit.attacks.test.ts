/**
 * A sign-in app (authorization code, refresh tokens) authenticates at the token, revocation
 * and introspection endpoints that oidc-provider serves for it. A failed client
 * authentication there is audited as Portcullis's own endpoints audit theirs
 * (client-auth.denial-audit.attacks.test.ts): `token.denied`, `token.revoke-refused`,
 * `token.introspect-refused`, reason `oauth.invalid-client`, with the client id the caller
 * named and never its secret or assertion, so a secret guessed against a sign-in app is as
 * visible in the trail as one guessed against any other app.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { SignJWT, generateKeyPair } from 'jose';
import { basic, postForm, type TestNode } from '../support/portcullis.js';
import { REDIRECT, startOidcNode } from '../support/oidc-node.js';
import { JWT_BEARER_ASSERTION } from '../../src/tokens/client-auth.js';

const GUESS = 'guessed-secret-7f3a9c';
let node: TestNode;
let appId: string;

before(async () => {
  node = await startOidcNode();
  appId = (await node.services.apps.create({ name: 'web', audiences: ['orders-api'], scopes: ['read'], redirectUris: [REDIRECT] }, 'test')).app.clientId;
});
after(() => node?.stop());

async function deniedRows(type: string) {
  await node.services.audit.flush();
  return (await node.services.store.tailAudit(500)).filter((r) => r.type === type && r.reason === 'oauth.invalid-client');
}

async function foreignAssertion(endpoint: string): Promise<string> {
  const { privateKey } = await generateKeyPair('ES256');
  return new SignJWT({})
    .setProtectedHeader({ alg: 'ES256' })
    .setIssuer(appId)
    .setSubject(appId)
    .setAudience(`${node.urls.identity}${endpoint}`)
    .setJti(crypto.randomUUID())
    .setIssuedAt()
    .setExpirationTime('1m')
    .sign(privateKey);
}

const cases: Array<{ name: string; path: string; type: string; secret: string; request: () => Promise<{ form: Record<string, string>; headers?: Record<string, string> }> }> = [
  { name: 'a wrong client_secret with a refresh_token grant', path: '/oauth2/token', type: 'token.denied', secret: GUESS, request: async () => ({ form: { grant_type: 'refresh_token', refresh_token: 'opaque-refresh-token', client_id: appId, client_secret: GUESS } }) },
  { name: 'a wrong Basic secret with an authorization_code grant', path: '/oauth2/token', type: 'token.denied', secret: GUESS, request: async () => ({ form: { grant_type: 'authorization_code', code: 'opaque-code', redirect_uri: REDIRECT }, headers: { authorization: basic(appId, GUESS) } }) },
  { name: 'a wrong Basic secret', path: '/oauth2/revoke', type: 'token.revoke-refused', secret: GUESS, request: async () => ({ form: { token: 'opaque-refresh-token' }, headers: { authorization: basic(appId, GUESS) } }) },
  { name: 'a wrong client_secret', path: '/oauth2/introspect', type: 'token.introspect-refused', secret: GUESS, request: async () => ({ form: { token: 'opaque-refresh-token', client_id: appId, client_secret: GUESS } }) },
];

for (const c of cases) {
  test(`attack: ${c.name} at ${c.path} (served by oidc-provider) → 401 invalid_client, audited once as ${c.type}`, async () => {
    const before = (await deniedRows(c.type)).length;
    const { form, headers } = await c.request();
    const r = await postForm(`${node.urls.identity}${c.path}`, form, headers);
    assert.equal(r.status, 401);
    assert.equal(r.body.error, 'invalid_client');
    const rows = await deniedRows(c.type);
    assert.equal(rows.length, before + 1, `no ${c.type} audit event for the failed client authentication`);
    const row = rows.at(-1)!;
    assert.equal(row.clientId, appId);
    assert.equal(row.actor, 'anonymous');
    assert.equal(row.data?.['endpoint'], c.path);
    assert.ok(!JSON.stringify(row).includes(c.secret), 'the presented secret is not audited');
  });
}

test('attack: a client assertion signed with a key the sign-in app does not have, at /oauth2/token → 401 invalid_client, audited as token.denied without the assertion', async () => {
  const before = (await deniedRows('token.denied')).length;
  const assertion = await foreignAssertion('/oauth2/token');
  const r = await postForm(`${node.urls.identity}/oauth2/token`, { grant_type: 'refresh_token', refresh_token: 'opaque-refresh-token', client_id: appId, client_assertion_type: JWT_BEARER_ASSERTION, client_assertion: assertion });
  assert.equal(r.status, 401);
  assert.equal(r.body.error, 'invalid_client');
  const rows = await deniedRows('token.denied');
  assert.equal(rows.length, before + 1);
  assert.equal(rows.at(-1)!.clientId, appId);
  const text = JSON.stringify(rows.at(-1));
  assert.ok(!text.includes(assertion.split('.')[2]!) && !text.includes(assertion.split('.')[1]!), 'the assertion is not audited');
});

test('attack: an unknown client id with a refresh_token grant → 401 invalid_client, audited as token.denied naming the id given', async () => {
  const before = (await deniedRows('token.denied')).length;
  const r = await postForm(`${node.urls.identity}/oauth2/token`, { grant_type: 'refresh_token', refresh_token: 'opaque-refresh-token', client_id: 'app_nobody', client_secret: GUESS });
  assert.equal(r.status, 401);
  assert.equal(r.body.error, 'invalid_client');
  const rows = await deniedRows('token.denied');
  assert.equal(rows.length, before + 1);
  assert.equal(rows.at(-1)!.clientId, 'app_nobody');
});
