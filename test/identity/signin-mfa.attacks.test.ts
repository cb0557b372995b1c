/**
 * Attacks on the second step of a sign-in, end to end: openid-client as the app, the
 * no-JavaScript browser as the user, the real provider, store, factors and limits.
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

before(async () => {
  idp = await startIdentity();
  const { app, clientSecret } = await idp.apps.create({ name: 'web', audiences: [AUD], scopes: ['read'], redirectUris: [REDIRECT] }, 'test');
  config = await client.discovery(new URL(idp.issuer), app.clientId, clientSecret!, undefined, { execute: [client.allowInsecureRequests] });
});
after(async () => idp.close());

async function authorize(cfg: client.Configuration = config, extra: Record<string, string> = {}, browser = new Browser()) {
  const { url, verifier, state } = await authorizationRequest(cfg, { scope: 'openid offline_access', resource: AUD, prompt: 'consent', ...extra });
  const page = await browser.follow(url.toString(), idp.issuer);
  return { browser, page, verifier, state };
}

async function postForm(browser: Browser, html: string, action: string, fields: Record<string, string>) {
  return browser.request(actionOf(html, action, idp.issuer), { form: { csrf: csrfOf(html), ...fields } });
}

/** Posts to any step of the interaction the page belongs to, whether or not the page has its form. */
async function postStep(browser: Browser, html: string, action: string, fields: Record<string, string>) {
  const url = new URL(/action="([^"]*\/interaction\/[^/"]+)\//.exec(html)![1]! + '/' + action, idp.issuer).toString();
  return browser.request(url, { form: { csrf: csrfOf(html), ...fields } });
}

const title = (html: string) => /<title>([^<]*)/.exec(html)?.[1];

test('attack: "enrolling" recovery codes and "confirming" them with any code does not pass the MFA step (mfa.not-enrollable)', async () => {
  const user = await idp.users.add({ email: 'rc-bypass@example.test', password: PASSWORD, mfaRequired: true }, 'test');
  const a = await authorize();
  const r = await postForm(a.browser, a.page.body, 'login', { email: 'rc-bypass@example.test', password: PASSWORD });
  assert.match(r.body, /Set up a second factor/);
  const enrol = await postForm(a.browser, r.body, 'enroll', { factor: 'recovery-code' });
  assert.equal(enrol.status, 400);
  assert.match(enrol.body, /recovery codes are not a second factor of their own/);
  assert.equal(title(enrol.body), 'Set up a second factor');
  const confirm = await postStep(a.browser, r.body, 'enroll-confirm', { factor: 'recovery-code', code: '000000' });
  assert.equal(confirm.status, 400);
  assert.match(confirm.body, /recovery codes are not a second factor of their own/);
  assert.doesNotMatch(confirm.body, /Save your recovery codes/);
  const cont = await postStep(a.browser, r.body, 'continue', {});
  assert.equal(cont.status, 400);
  assert.equal(cont.location, undefined);
  assert.equal(await idp.totpFactor.isEnrolled(user.id), false);
});
