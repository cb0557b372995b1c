/**
 * The identity plane reads a token or revocation request's form itself (to route it
 * between TokenService and oidc-provider), then hands the request to oidc-provider,
 * which reads the body again. It gets the same bytes as a fresh stream: a code
 * exchange, a refresh and a refresh-token revocation all succeed, and oidc-provider
 * prints no warning about an already parsed body (it used to, in red, on the first
 * sign-in of every process).
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import * as client from 'openid-client';
import { Browser, actionOf, csrfOf, startIdentity, type Identity } from '../support/oidc-harness.js';
import { authorizationRequest } from '../support/oidc-node.js';

const REDIRECT = 'http://127.0.0.1:9/cb';
const AUD = 'https://api.example.test';
const PASSWORD = 'plum tractor velvet orbit';
let idp: Identity;
let config: client.Configuration;
const warnings: string[] = [];
const realWarn = console.warn;

before(async () => {
  console.warn = (...args: unknown[]) => {
    warnings.push(args.map(String).join(' '));
    realWarn(...args);
  };
  idp = await startIdentity();
  const { app, clientSecret } = await idp.apps.create({ name: 'web', audiences: [AUD], scopes: ['read'], redirectUris: [REDIRECT] }, 'test');
  config = await client.discovery(new URL(idp.issuer), app.clientId, clientSecret!, undefined, { execute: [client.allowInsecureRequests] });
  await idp.users.add({ email: 'bob@example.test', password: PASSWORD }, 'test');
});

after(async () => {
  console.warn = realWarn;
  await idp.close();
});

test('code exchange, refresh and revocation get their form bodies through the hand-over, without an oidc-provider warning', async () => {
  const { url, verifier, state } = await authorizationRequest(config, { scope: 'openid offline_access', resource: AUD, prompt: 'consent' });
  const browser = new Browser();
  const page = await browser.follow(url.toString(), idp.issuer);
  let r = await browser.request(actionOf(page.body, 'login', idp.issuer), { form: { csrf: csrfOf(page.body), email: 'bob@example.test', password: PASSWORD } });
  if (r.location?.startsWith(idp.issuer)) r = await browser.follow(r.location, idp.issuer);
  if (r.body.includes('Allow access?')) {
    r = await browser.request(actionOf(r.body, 'consent', idp.issuer), { form: { csrf: csrfOf(r.body) } });
    if (r.location?.startsWith(idp.issuer)) r = await browser.follow(r.location, idp.issuer);
  }
  assert.ok(r.location?.startsWith(REDIRECT), `expected a redirect to the app, got ${r.status} ${r.location}`);

  const tokens = await client.authorizationCodeGrant(config, new URL(r.location!), { pkceCodeVerifier: verifier, expectedState: state }, { resource: AUD });
  assert.ok(tokens.refresh_token, 'the code exchange answered');
  const refreshed = await client.refreshTokenGrant(config, tokens.refresh_token!, { resource: AUD });
  assert.ok(refreshed.refresh_token && refreshed.refresh_token !== tokens.refresh_token, 'the refresh answered with a new refresh token');
  await client.tokenRevocation(config, refreshed.refresh_token!, { token_type_hint: 'refresh_token' });
  await assert.rejects(client.refreshTokenGrant(config, refreshed.refresh_token!, { resource: AUD }), { error: 'invalid_grant' }, 'the revoked refresh token no longer works');

  assert.deepEqual(
    warnings.filter((w) => w.includes('oidc-provider WARNING') && !w.includes('Unsupported runtime')),
    [],
  );
});
