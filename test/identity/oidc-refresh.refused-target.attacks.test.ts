/**
 * RFC 6749 §5.2 / RFC 8707 §2: a refresh request refused with `invalid_target` changes
 * nothing. oidc-provider consumes (rotates) the refresh token before it resolves the
 * `resource`, so a refused target used to burn the refresh token without handing out its
 * successor: the app's next, correct refresh then looked like a replay (RFC 9700 §4.14.2)
 * and revoked the user's whole grant. The target is now checked before the rotation.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import * as client from 'openid-client';
import { REDIRECT, signIn, startOidcNode, type OidcApp } from '../support/oidc-node.js';
import { basic, postForm, type TestNode } from '../support/portcullis.js';

const AUD = 'https://api.example.test';
const NOT_GRANTED = 'https://reports.example.test';
const PASSWORD = 'plum tractor velvet orbit';
let node: TestNode;
let app: OidcApp & { secret: string };

before(async () => {
  node = await startOidcNode();
  const { app: a, clientSecret } = await node.services.apps.create({ name: 'web', audiences: [AUD, NOT_GRANTED], scopes: ['read'], redirectUris: [REDIRECT] }, 'test');
  const config = await client.discovery(new URL(node.urls.identity!), a.clientId, clientSecret!, undefined, { execute: [client.allowInsecureRequests] });
  app = { clientId: a.clientId, config, secret: clientSecret! };
  await node.services.identity.users.add({ email: 'user@example.test', password: PASSWORD }, 'test');
});
after(() => node.stop());

const refresh = (refreshToken: string, extra: Record<string, string> = {}) =>
  postForm(`${node.urls.identity}/oauth2/token`, { grant_type: 'refresh_token', refresh_token: refreshToken, ...extra }, { authorization: basic(app.clientId, app.secret) });

const targets: Array<[string, string]> = [
  ['a resource that is no audience of the app', `${NOT_GRANTED}.evil`],
  ['an audience of the app the user did not grant', NOT_GRANTED],
];

for (const [what, resource] of targets) {
  test(`attack: a refresh asking for ${what} → 400 invalid_target, and the refresh token still works (no rotation, no grant revoked)`, async () => {
    const { tokens } = await signIn(node, app, AUD, 'user@example.test', PASSWORD);
    const refused = await refresh(tokens.refresh_token!, { resource });
    assert.equal(refused.status, 400);
    assert.equal(refused.body.error, 'invalid_target');
    const again = await refresh(tokens.refresh_token!, { resource: AUD });
    assert.equal(again.status, 200, JSON.stringify(again.body));
    assert.ok(again.body.refresh_token);
    const rt = await fetch(`${node.urls.identity}/oauth2/introspect`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded', authorization: basic(app.clientId, app.secret) },
      body: new URLSearchParams({ token: tokens.access_token }).toString(),
    });
    assert.equal(((await rt.json()) as { active: boolean }).active, true, 'the access token issued before stays active');
  });
}

test('a refresh without a resource, or with the granted one, still rotates the refresh token', async () => {
  const { tokens } = await signIn(node, app, AUD, 'user@example.test', PASSWORD);
  const first = await refresh(tokens.refresh_token!);
  assert.equal(first.status, 200, JSON.stringify(first.body));
  assert.notEqual(first.body.refresh_token, tokens.refresh_token);
  const second = await refresh(first.body.refresh_token, { resource: AUD });
  assert.equal(second.status, 200, JSON.stringify(second.body));
  assert.equal((await refresh(tokens.refresh_token!)).body.error, 'invalid_grant', 'the rotated-out token is refused');
});
