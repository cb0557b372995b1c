/**
 * RP-initiated logout with another user's ID token (OIDC RP-Initiated Logout 1.0 §2): an
 * attacker signed in to an app sends a victim to the logout endpoint with the attacker's own
 * `id_token_hint`. The victim is asked; answering "Stay signed in" must leave the victim's
 * sign-in to that app alone: the hint names someone else, so it is no request of the app's
 * for this user's session.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import * as client from 'openid-client';
import { decodeJwt } from 'jose';
import { registerOidcApp, signIn, startOidcNode } from '../support/oidc-node.js';

const AUD = 'https://api.example.test';
const PASSWORD = 'plum tractor velvet orbit';

test('attack: logout with another user\'s id_token_hint, answered "Stay signed in", leaves the victim signed in to that app (grant and access token)', async (t) => {
  const node = await startOidcNode();
  t.after(() => node.stop());
  const issuer = node.urls.identity!;
  const app = await registerOidcApp(node, AUD);
  const victim = await node.services.identity.users.add({ email: 'victim@example.test', password: PASSWORD }, 'test');
  await node.services.identity.users.add({ email: 'attacker@example.test', password: PASSWORD }, 'test');
  const attacker = await signIn(node, app, AUD, 'attacker@example.test', PASSWORD, { extra: { scope: 'openid' } });
  const signedIn = await signIn(node, app, AUD, 'victim@example.test', PASSWORD, { extra: { scope: 'openid' } });
  const at = decodeJwt(signedIn.tokens.access_token) as { jti: string; client_id: string; iat: number; sub: string };

  const confirm = await signedIn.browser.follow(client.buildEndSessionUrl(app.config, { id_token_hint: attacker.tokens.id_token! }).toString(), issuer);
  assert.match(confirm.body, /Sign out\?/, `${confirm.status} ${confirm.body.slice(0, 300)}`);
  const xsrf = /name="xsrf" value="([^"]+)"/.exec(confirm.body)![1]!;
  const action = /action="([^"]+)"/.exec(confirm.body)![1]!;
  const stay = await signedIn.browser.request(new URL(action, issuer).toString(), { form: { xsrf } });
  assert.ok(stay.status === 303 || stay.status === 302, `${stay.status} ${stay.body.slice(0, 300)}`);

  const sessions = await node.services.identity.oidc.listSessions(victim.id);
  assert.equal(sessions.length, 1);
  assert.deepEqual(sessions[0]!.clients, [app.clientId], 'the victim is still signed in to the app');
  assert.equal(node.services.revocations.check(at.jti, at.client_id, at.iat * 1000, at.sub), undefined, 'the access token still works at the gateway');
});

test('attack: logout naming the app by client_id alone (no id_token_hint), answered "Stay signed in", leaves the user signed in to that app', async (t) => {
  const node = await startOidcNode();
  t.after(() => node.stop());
  const issuer = node.urls.identity!;
  const app = await registerOidcApp(node, AUD);
  const user = await node.services.identity.users.add({ email: 'named@example.test', password: PASSWORD }, 'test');
  const signedIn = await signIn(node, app, AUD, 'named@example.test', PASSWORD, { extra: { scope: 'openid' } });
  const at = decodeJwt(signedIn.tokens.access_token) as { jti: string; client_id: string; iat: number; sub: string };

  const url = new URL('/oauth2/logout', issuer);
  url.searchParams.set('client_id', app.clientId);
  const confirm = await signedIn.browser.follow(url.toString(), issuer);
  assert.match(confirm.body, /Sign out\?/, `${confirm.status} ${confirm.body.slice(0, 300)}`);
  const xsrf = /name="xsrf" value="([^"]+)"/.exec(confirm.body)![1]!;
  const action = /action="([^"]+)"/.exec(confirm.body)![1]!;
  await signedIn.browser.request(new URL(action, issuer).toString(), { form: { xsrf } });

  const sessions = await node.services.identity.oidc.listSessions(user.id);
  assert.deepEqual(sessions.map((s) => s.clients), [[app.clientId]], 'still signed in to the app');
  assert.equal(node.services.revocations.check(at.jti, at.client_id, at.iat * 1000, at.sub), undefined, 'the access token still works at the gateway');
});

test('logout with the user\'s own id_token_hint, answered "Stay signed in", still signs the user out of that app (the app asked)', async (t) => {
  const node = await startOidcNode();
  t.after(() => node.stop());
  const issuer = node.urls.identity!;
  const app = await registerOidcApp(node, AUD);
  const user = await node.services.identity.users.add({ email: 'own@example.test', password: PASSWORD }, 'test');
  const signedIn = await signIn(node, app, AUD, 'own@example.test', PASSWORD, { extra: { scope: 'openid' } });
  const at = decodeJwt(signedIn.tokens.access_token) as { jti: string; client_id: string; iat: number; sub: string };

  const confirm = await signedIn.browser.follow(client.buildEndSessionUrl(app.config, { id_token_hint: signedIn.tokens.id_token! }).toString(), issuer);
  const xsrf = /name="xsrf" value="([^"]+)"/.exec(confirm.body)![1]!;
  const action = /action="([^"]+)"/.exec(confirm.body)![1]!;
  await signedIn.browser.request(new URL(action, issuer).toString(), { form: { xsrf } });

  const sessions = await node.services.identity.oidc.listSessions(user.id);
  assert.deepEqual(sessions.map((s) => s.clients), [[]], 'still signed in at the provider, no longer to the app');
  assert.equal(node.services.revocations.check(at.jti, at.client_id, at.iat * 1000, at.sub), 'token.revoked', 'its grant ended with it');
});
