/**
 * RFC 7009 revocation of a sign-in app's tokens (served by oidc-provider at the shared
 * /oauth2/revoke) is an acknowledged security change like TokenService's: the
 * `token.revoked` events of the grant's access tokens are stored before the 200. When the
 * audit trail cannot write, the endpoint answers 503 `audit.unavailable` instead, and the
 * revocation holds all the same.
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { test } from 'node:test';
import BetterSqlite3 from 'better-sqlite3';
import * as client from 'openid-client';
import { decodeJwt } from 'jose';
import { signIn, startOidcNode, REDIRECT, type OidcApp } from '../support/oidc-node.js';
import { basic, postForm, type TestNode } from '../support/portcullis.js';

const AUD = 'https://api.example.test';
const PASSWORD = 'plum tractor velvet orbit';

async function signedIn(node: TestNode, email: string) {
  const { app, clientSecret } = await node.services.apps.create({ name: 'web', audiences: [AUD], scopes: ['read'], redirectUris: [REDIRECT] }, 'test');
  const config = await client.discovery(new URL(node.urls.identity!), app.clientId, clientSecret!, undefined, { execute: [client.allowInsecureRequests] });
  const oidcApp: OidcApp = { clientId: app.clientId, config };
  await node.services.identity.users.add({ email, password: PASSWORD }, 'test');
  const { tokens } = await signIn(node, oidcApp, AUD, email, PASSWORD);
  assert.ok(tokens.refresh_token, 'a refresh token was issued');
  const jti = String(decodeJwt(tokens.access_token).jti);
  // what the sign-in recorded is stored: only the revocation's events are left to write
  await node.services.audit.flush();
  return { app: oidcApp, auth: basic(app.clientId, clientSecret!), refreshToken: tokens.refresh_token!, jti };
}

test("a sign-in app's refresh token revocation answers 200 only once its token.revoked events are stored", async (t) => {
  const node = await startOidcNode();
  t.after(() => node.stop());
  const s = await signedIn(node, 'revoke-stored@example.test');
  const r = await postForm(`${node.urls.identity}/oauth2/revoke`, { token: s.refreshToken, token_type_hint: 'refresh_token' }, { authorization: s.auth });
  assert.equal(r.status, 200);
  const rows = await node.services.store.tailAudit(10);
  assert.ok(
    rows.some((x) => x.type === 'token.revoked' && x.clientId === s.app.clientId && x.data?.['jti'] === s.jti),
    'the event of the grant access token is in the store when the answer arrives',
  );
});

test("attack: revoke a sign-in app's refresh token while the audit table cannot be written → 503 audit.unavailable, never a 200 without its audit row; the tokens stay revoked", async (t) => {
  const node = await startOidcNode();
  const other = new BetterSqlite3(join(node.dir, 'portcullis.db'));
  t.after(async () => {
    other.close();
    await node.stop();
  });
  const s = await signedIn(node, 'revoke-unaudited@example.test');
  other.exec('alter table audit_log rename to audit_log_away');
  const r = await postForm(`${node.urls.identity}/oauth2/revoke`, { token: s.refreshToken }, { authorization: s.auth });
  assert.equal(r.status, 503);
  assert.match(r.headers.get('content-type') ?? '', /^application\/problem\+json/);
  assert.equal(r.body.code, 'audit.unavailable');
  assert.equal(r.headers.get('cache-control'), 'no-store');
  await assert.rejects(client.refreshTokenGrant(s.app.config, s.refreshToken, { resource: AUD }), (e: client.ResponseBodyError) => e.error === 'invalid_grant', 'the refresh token is revoked');
  const at = s.jti;
  assert.equal(node.services.revocations.check(at, s.app.clientId, Date.now(), undefined), 'token.revoked', 'the access token is revoked');
  other.exec('alter table audit_log_away rename to audit_log');
  await node.services.audit.flush();
  const rows = other.prepare("select data from audit_log where type = 'token.revoked'").all() as Array<{ data: string }>;
  assert.deepEqual(
    rows.map((x) => (JSON.parse(x.data) as { jti: string }).jti),
    [s.jti],
    'the held event is written once the store can take it',
  );
});

test("a sign-in app's refresh token revoked after its access tokens expired is audited too (oidc.grant-revoked, stored before the 200)", async (t) => {
  const node = await startOidcNode('tokens: { accessTokenTtl: 1s, leeway: 0s }');
  t.after(() => node.stop());
  const s = await signedIn(node, 'revoke-expired-at@example.test');
  // every JWT access token of the grant has expired: no token.revoked is left to record
  await new Promise((r) => setTimeout(r, 2100));
  const r = await postForm(`${node.urls.identity}/oauth2/revoke`, { token: s.refreshToken, token_type_hint: 'refresh_token' }, { authorization: s.auth });
  assert.equal(r.status, 200);
  const rows = await node.services.store.tailAudit(10);
  const revoked = rows.filter((x) => x.type === 'oidc.grant-revoked');
  assert.equal(revoked.length, 1, JSON.stringify(rows.map((x) => x.type)));
  assert.equal(revoked[0]!.clientId, s.app.clientId);
  assert.equal(revoked[0]!.actor, `client:${s.app.clientId}`);
  assert.equal(revoked[0]!.data?.['route'], 'revocation');
  assert.equal(typeof revoked[0]!.data?.['grantId'], 'string');
  assert.match(String(revoked[0]!.data?.['userId']), /^usr_/);
  assert.ok(!rows.some((x) => x.type === 'token.revoked'), 'no access token was left to revoke');
  await assert.rejects(client.refreshTokenGrant(s.app.config, s.refreshToken, { resource: AUD }), (e: client.ResponseBodyError) => e.error === 'invalid_grant', 'the refresh token is revoked');
});
