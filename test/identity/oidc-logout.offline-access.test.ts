/**
 * What a logout at `/oauth2/logout` (OIDC RP-Initiated Logout 1.0) ends, as docs/mfa.md
 * states it: the grants made without `offline_access` end with the sign-in (refresh tokens
 * `invalid_grant`, access tokens revoked at the gateways); a grant with `offline_access`,
 * which the user consented to as access while they are not signed in (OIDC Core 1.0 §11),
 * outlives it, for "Sign out" and for the app's own request to end its sign-in ("Stay signed
 * in" with its ID token) alike. It ends when the app revokes its refresh token (RFC 7009),
 * and with "End every session" (`user end-sessions`), which reaches grants no session holds.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import * as client from 'openid-client';
import { decodeJwt } from 'jose';
import type { Browser } from '../support/oidc-harness.js';
import { registerOidcApp, signIn, startOidcNode, type OidcApp } from '../support/oidc-node.js';
import type { TestNode } from '../support/portcullis.js';

const AUD = 'https://api.example.test';
const PASSWORD = 'plum tractor velvet orbit';

/** Opens the logout page as `app` sends the user there with its ID token, and answers it (`logout: 'yes'` is "Sign out"). */
async function answerLogout(node: TestNode, browser: Browser, app: OidcApp, idToken: string, signOut: boolean) {
  const issuer = node.urls.identity!;
  const confirm = await browser.follow(client.buildEndSessionUrl(app.config, { id_token_hint: idToken }).toString(), issuer);
  assert.match(confirm.body, /Sign out\?/, `${confirm.status} ${confirm.body.slice(0, 300)}`);
  const xsrf = /name="xsrf" value="([^"]+)"/.exec(confirm.body)![1]!;
  const action = /action="([^"]+)"/.exec(confirm.body)![1]!;
  const out = await browser.request(new URL(action, issuer).toString(), { form: signOut ? { xsrf, logout: 'yes' } : { xsrf } });
  assert.ok(out.status === 303 || out.status === 302, `${out.status} ${out.body.slice(0, 300)}`);
}

const jwtOf = (token: string) => decodeJwt(token) as { jti: string; client_id: string; iat: number; sub: string };

test('"Sign out" ends the sign-in without offline_access and keeps the offline_access grant, which "End every session" then ends', async (t) => {
  const node = await startOidcNode();
  t.after(() => node.stop());
  const user = await node.services.identity.users.add({ email: 'offline@example.test', password: PASSWORD }, 'test');
  const online = await registerOidcApp(node, AUD);
  const offline = await registerOidcApp(node, AUD);
  const a = await signIn(node, online, AUD, 'offline@example.test', PASSWORD, { extra: { scope: 'openid' } });
  const b = await signIn(node, offline, AUD, 'offline@example.test', PASSWORD, { browser: a.browser, extra: { scope: 'openid offline_access' } });
  assert.ok(a.tokens.refresh_token && b.tokens.refresh_token, 'both apps hold a refresh token');
  const provider = node.services.identity.oidc.provider as any;
  assert.match((await provider.RefreshToken.find(b.tokens.refresh_token)).scope, /offline_access/, 'the second sign-in has offline_access');
  assert.doesNotMatch((await provider.RefreshToken.find(a.tokens.refresh_token)).scope, /offline_access/, 'the first has not');

  await answerLogout(node, a.browser, online, a.tokens.id_token!, true);
  assert.deepEqual(await node.services.identity.oidc.listSessions(user.id), [], 'signed out at the provider');

  await assert.rejects(client.refreshTokenGrant(online.config, a.tokens.refresh_token, { resource: AUD }), (e: client.ResponseBodyError) => e.error === 'invalid_grant');
  const at = jwtOf(a.tokens.access_token);
  assert.equal(node.services.revocations.check(at.jti, at.client_id, at.iat * 1000, at.sub), 'token.revoked', 'the access token without offline_access is revoked');

  const kept = jwtOf(b.tokens.access_token);
  assert.equal(node.services.revocations.check(kept.jti, kept.client_id, kept.iat * 1000, kept.sub), undefined, 'the offline_access grant\'s access token is not revoked');
  const refreshed = await client.refreshTokenGrant(offline.config, b.tokens.refresh_token, { resource: AUD });
  assert.ok(refreshed.access_token && refreshed.refresh_token, 'offline_access outlives the sign-out');

  await new Promise((res) => setTimeout(res, 1_100)); // the watermark compares whole seconds
  await node.services.identity.users.endAllSessions(user.id, 'test');
  await assert.rejects(client.refreshTokenGrant(offline.config, refreshed.refresh_token!, { resource: AUD }), (e: client.ResponseBodyError) => e.error === 'invalid_grant');
  assert.deepEqual(await node.services.store.listOidcModelsByAccount('Grant', user.id), [], 'no grant of the user is left');
});

test('the app\'s own request to end its sign-in ("Stay signed in" with its ID token) keeps its offline_access grant; the app ends it with RFC 7009', async (t) => {
  const node = await startOidcNode();
  t.after(() => node.stop());
  const user = await node.services.identity.users.add({ email: 'app-logout@example.test', password: PASSWORD }, 'test');
  const app = await registerOidcApp(node, AUD);
  const { tokens, browser } = await signIn(node, app, AUD, 'app-logout@example.test', PASSWORD, { extra: { scope: 'openid offline_access' } });

  await answerLogout(node, browser, app, tokens.id_token!, false);
  assert.deepEqual((await node.services.identity.oidc.listSessions(user.id)).map((s) => s.clients), [[]], 'no longer signed in to the app');

  const refreshed = await client.refreshTokenGrant(app.config, tokens.refresh_token!, { resource: AUD });
  assert.ok(refreshed.refresh_token, 'offline_access outlives the end of the app\'s sign-in');
  await client.tokenRevocation(app.config, refreshed.refresh_token!, { token_type_hint: 'refresh_token' });
  await assert.rejects(client.refreshTokenGrant(app.config, refreshed.refresh_token!, { resource: AUD }), (e: client.ResponseBodyError) => e.error === 'invalid_grant');
});
