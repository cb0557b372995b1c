/**
 * The HTML pages oidc-provider renders through Portcullis's hooks (its error page, the
 * sign-out question, the signed-out page) carry the same security headers as the sign-in
 * and account pages (html.ts PAGE_HEADERS): not cached, not framed, not sniffed, no referrer.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import * as client from 'openid-client';
import { Browser, consentAndReturnTo, startIdentity, submitForm, type Identity } from '../support/oidc-harness.js';
import { authorizationRequest } from '../support/oidc-node.js';
import { postLogoutFormAction } from '../../src/identity/oidc/provider.js';

const REDIRECT = 'http://127.0.0.1:9/cb';
const PASSWORD = 'plum tractor velvet orbit';
let idp: Identity;
let config: client.Configuration;
before(async () => {
  idp = await startIdentity();
  const { app, clientSecret } = await idp.apps.create({ name: 'web', audiences: ['https://api.example.test'], scopes: ['read'], redirectUris: [REDIRECT] }, 'test');
  config = await client.discovery(new URL(idp.issuer), app.clientId, clientSecret!, undefined, { execute: [client.allowInsecureRequests] });
});
after(async () => idp.close());

function assertPageHeaders(r: { status: number; headers: Headers; body: string }, status: number, title: RegExp): void {
  assert.equal(r.status, status, r.body.slice(0, 300));
  assert.match(r.body, title);
  assert.equal(r.headers.get('content-type'), 'text/html; charset=utf-8');
  assert.equal(r.headers.get('cache-control'), 'no-store');
  assert.match(r.headers.get('content-security-policy') ?? '', /frame-ancestors 'none'/);
  assert.equal(r.headers.get('x-frame-options'), 'DENY');
  assert.equal(r.headers.get('x-content-type-options'), 'nosniff');
  assert.equal(r.headers.get('referrer-policy'), 'no-referrer');
}

test("oidc-provider's error page (an unknown client): no-store, not framed (CSP and X-Frame-Options), nosniff, no referrer", async () => {
  const r = await new Browser().request(`${idp.issuer}/oauth2/authorize?client_id=app_nope&response_type=code&scope=openid`);
  assertPageHeaders(r, 400, /<title>Sign-in error<\/title>/);
  assert.match(r.body, /invalid_client/);
});

test('the sign-out question and the signed-out page: no-store, not framed (CSP and X-Frame-Options), nosniff, no referrer', async () => {
  await idp.users.add({ email: 'headers@example.test', password: PASSWORD }, 'test');
  const browser = new Browser();
  const { url } = await authorizationRequest(config);
  const signIn = await browser.follow(url, idp.issuer);
  await consentAndReturnTo(browser, await submitForm(browser, signIn.body, 'login', { email: 'headers@example.test', password: PASSWORD }, idp.issuer), idp.issuer, REDIRECT);
  const ask = await browser.request(`${idp.issuer}/oauth2/logout`);
  assertPageHeaders(ask, 200, /<title>Sign out<\/title>/);
  const xsrf = /name="xsrf" value="([^"]+)"/.exec(ask.body)![1]!;
  const action = /action="([^"]+)"/.exec(ask.body)![1]!;
  const out = await browser.request(new URL(action, idp.issuer).toString(), { form: { xsrf, logout: 'yes' } });
  assert.equal(out.status, 303);
  assert.equal(out.location, `${idp.issuer}/oauth2/logout/success`);
  const done = await browser.request(out.location!);
  assertPageHeaders(done, 200, /<title>Signed out<\/title>/);
});

test("the sign-out question's CSP lets its form go on to the app's registered post_logout_redirect_uri (browsers apply form-action to the redirect), to that origin only", async () => {
  const BYE = 'http://127.0.0.1:9/bye?from=idp';
  const { app, clientSecret } = await idp.apps.create({ name: 'logout-web', audiences: ['https://api.example.test'], scopes: ['read'], redirectUris: [REDIRECT], postLogoutRedirectUris: [BYE] }, 'test');
  const cfg = await client.discovery(new URL(idp.issuer), app.clientId, clientSecret!, undefined, { execute: [client.allowInsecureRequests] });
  await idp.users.add({ email: 'csp-logout@example.test', password: PASSWORD }, 'test');
  const browser = new Browser();
  const { url } = await authorizationRequest(cfg);
  const signIn = await browser.follow(url, idp.issuer);
  await consentAndReturnTo(browser, await submitForm(browser, signIn.body, 'login', { email: 'csp-logout@example.test', password: PASSWORD }, idp.issuer), idp.issuer, REDIRECT);
  const withUri = await browser.request(client.buildEndSessionUrl(cfg, { post_logout_redirect_uri: BYE }).toString());
  assertPageHeaders(withUri, 200, /<title>Sign out<\/title>/);
  assert.equal(withUri.headers.get('content-security-policy'), "default-src 'none'; frame-ancestors 'none'; form-action 'self' http://127.0.0.1:9");
  const without = await browser.request(`${idp.issuer}/oauth2/logout`);
  assertPageHeaders(without, 200, /<title>Sign out<\/title>/);
  assert.equal(without.headers.get('content-security-policy'), "default-src 'none'; frame-ancestors 'none'; form-action 'self'");
  // an unregistered one is refused before any page (oidc-provider), so it never reaches the CSP
  const other = await browser.request(client.buildEndSessionUrl(cfg, { post_logout_redirect_uri: 'https://evil.example/' }).toString());
  assert.equal(other.status, 400);
  assert.match(other.body, /post_logout_redirect_uri not registered/);
});

test('the form-action source of a post_logout_redirect_uri: its origin, or its scheme alone where CSP has no host syntax for it (custom schemes, IPv6 literals)', () => {
  assert.equal(postLogoutFormAction('https://app.example.com/bye?x=1'), 'https://app.example.com');
  assert.equal(postLogoutFormAction('https://app.example.com:8443/bye'), 'https://app.example.com:8443');
  assert.equal(postLogoutFormAction('http://127.0.0.1:9/bye'), 'http://127.0.0.1:9');
  assert.equal(postLogoutFormAction('com.example.app:/signed-out'), 'com.example.app:');
  assert.equal(postLogoutFormAction('http://[::1]:9/bye'), 'http:');
  assert.equal(postLogoutFormAction('not a url'), undefined);
  assert.equal(postLogoutFormAction(undefined), undefined);
});
