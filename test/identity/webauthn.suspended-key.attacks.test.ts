/**
 * Attack: a suspended security key (a cloned authenticator, `webauthn.credential-suspended`)
 * as the way round the second step. A suspended key is not offered (not in
 * `allowCredentials`, no "security key" button when every key is suspended) and the page
 * says a key was suspended; it is no usable factor, yet it is still the account's second
 * factor: the password alone never stands in for it — no enrolment step on the password,
 * no password-only sign-in, whether MFA is required or not. The user signs in with another
 * factor or a recovery code, or an administrator resets the second factors. End to end:
 * openid-client as the app, the no-JavaScript browser, the real provider and store.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import * as client from 'openid-client';
import { decodeJwt } from 'jose';
import { ACR_MFA } from '../../src/identity/oidc/provider.js';
import { factorInventory, hasSecondFactor, usableSecondFactors } from '../../src/identity/factor-inventory.js';
import { Browser, consentAndReturnTo, csrfOf, startIdentity, submitForm, type Identity } from '../support/oidc-harness.js';
import { authorizationRequest } from '../support/oidc-node.js';
import { SoftAuthenticator, b64u } from './soft-authenticator.js';

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

async function authorize() {
  const browser = new Browser();
  const { url, verifier, state } = await authorizationRequest(config, { scope: 'openid', resource: AUD, prompt: 'consent' });
  return { browser, page: await browser.follow(url.toString(), idp.issuer), verifier, state };
}
const postForm = (browser: Browser, html: string, action: string, fields: Record<string, string>) => submitForm(browser, html, action, fields, idp.issuer);
async function postStep(browser: Browser, html: string, action: string, fields: Record<string, string>) {
  const url = new URL(/action="([^"]*\/interaction\/[^/"]+)\//.exec(html)![1]! + '/' + action, idp.issuer).toString();
  return browser.request(url, { form: { csrf: csrfOf(html), ...fields } });
}
const title = (html: string) => /<title>([^<]*)/.exec(html)?.[1];
const KEY_BUTTON = /data-options="[^"]*\/webauthn\/options"/;

/**
 * A user (MFA required while the key is set up) with one key registered at the enrolment
 * step; `withRecoveryCodes` also opens the recovery-code page, which makes the codes.
 */
async function userWithKey(email: string, name: string, withRecoveryCodes: boolean) {
  const user = await idp.users.add({ email, password: PASSWORD, mfaRequired: true }, 'test');
  const key = new SoftAuthenticator(idp.issuer, new URL(idp.issuer).hostname);
  const a = await authorize();
  const enrol = await postForm(a.browser, a.page.body, 'login', { email, password: PASSWORD });
  assert.equal(title(enrol.body), 'Set up a second factor');
  const regOptions = JSON.parse((await postStep(a.browser, enrol.body, 'webauthn/register-options', {})).body) as { challenge: string };
  const reg = await postStep(a.browser, enrol.body, 'webauthn/register', { response: key.register(regOptions), name });
  assert.equal(reg.status, 200, reg.body);
  let codes: string[] = [];
  if (withRecoveryCodes) {
    const shown = await a.browser.request(new URL(JSON.parse(reg.body).redirect, idp.issuer).toString());
    codes = [...shown.body.matchAll(/<li><code>([^<]+)<\/code><\/li>/g)].map((m) => m[1]!);
    assert.equal(codes.length, 10);
  }
  return { user, key, id: b64u(key.credentialId), codes };
}

async function passwordStep(email: string) {
  const a = await authorize();
  const pw = await postForm(a.browser, a.page.body, 'login', { email, password: PASSWORD });
  return { ...a, pw };
}

test('attack: a suspended key is not offered at the second step; with a recovery code the user signs in (MFA), and the page says the key was suspended', async () => {
  const { user, key, id, codes } = await userWithKey('suspended-rc@example.test', 'Blue <key>', true);
  await idp.store.suspendWebAuthnCredential(id, Date.now());

  const a = await passwordStep('suspended-rc@example.test');
  assert.equal(title(a.pw.body), 'Second step');
  assert.doesNotMatch(a.pw.body, KEY_BUTTON, 'no security key offered');
  assert.match(a.pw.body, /id="webauthn-suspended"/);
  assert.match(a.pw.body, /Blue &lt;key&gt;/, 'the suspended key is named, escaped');
  assert.match(a.pw.body, /name="factor" value="recovery-code"/);
  // the script's call, made anyway: no options for a suspended key
  const options = await postStep(a.browser, a.page.body, 'webauthn/options', {});
  assert.equal(options.status, 403, options.body);
  assert.equal(JSON.parse(options.body).code, 'webauthn.credential-suspended');
  assert.equal(idp.audit.events.filter((e) => e.type === 'signin.mfa-unavailable' && e.actor === `user:${user.id}` && e.reason === 'webauthn.credential-suspended').length, 1);

  const done = await postForm(a.browser, a.pw.body, 'mfa', { factor: 'recovery-code', code: codes[0]! });
  const cb = await consentAndReturnTo(a.browser, done, idp.issuer, REDIRECT);
  const tokens = await client.authorizationCodeGrant(config, cb, { pkceCodeVerifier: a.verifier, expectedState: a.state }, { resource: AUD });
  assert.equal(decodeJwt(tokens.access_token)['acr'], ACR_MFA);
  void key;
});

test('attack: a user whose only factor is a suspended key (no recovery codes) is refused after the password — no enrolment step, no password-only sign-in — whether MFA is required or not', async () => {
  const { user, id } = await userWithKey('suspended-only@example.test', 'Only key', false);
  await idp.store.suspendWebAuthnCredential(id, Date.now());
  for (const required of [true, false]) {
    await idp.users.setMfaRequired(user.id, required, 'test');
    const a = await passwordStep('suspended-only@example.test');
    assert.equal(a.pw.status, 403, a.pw.body.slice(0, 300));
    assert.equal(a.pw.location, undefined);
    assert.notEqual(title(a.pw.body), 'Set up a second factor');
    assert.match(a.pw.body, /suspended/);
    assert.match(a.pw.body, /administrator/);
    for (const step of ['enroll', 'webauthn/register-options', 'continue']) {
      const r = await postStep(a.browser, a.page.body, step, { factor: 'totp' });
      assert.ok(r.status >= 400 && r.location === undefined, `${step}: ${r.status}`);
    }
  }
  assert.equal(await idp.totpFactor.isEnrolled(user.id), false);
  assert.equal(idp.audit.events.filter((e) => e.type === 'signin.succeeded' && e.actor === `user:${user.id}`).length, 0);
  assert.deepEqual(await idp.oidc.listSessions(user.id), []);

  // an administrator's MFA reset removes the suspended key: the user enrols again
  await idp.users.setMfaRequired(user.id, true, 'test');
  await idp.users.resetMfa(user.id, 'admin');
  const b = await passwordStep('suspended-only@example.test');
  assert.equal(title(b.pw.body), 'Set up a second factor');
});

test('with one key suspended and another not, only the good key is in allowCredentials and it signs in; the page still names the suspended one', async () => {
  const { user, key: good, id: goodId } = await userWithKey('two-keys@example.test', 'Good key', false);
  const bad = new SoftAuthenticator(idp.issuer, new URL(idp.issuer).hostname);
  const badId = b64u(bad.credentialId);
  await idp.store.addWebAuthnCredential({ id: badId, userId: user.id, name: 'Copied key', publicKey: b64u(bad.credentialId), counter: 3, transports: ['usb'], backedUp: false, deviceType: 'singleDevice', createdAt: Date.now(), lastUsedAt: null, suspendedAt: Date.now() });

  const a = await passwordStep('two-keys@example.test');
  assert.equal(title(a.pw.body), 'Second step');
  assert.match(a.pw.body, KEY_BUTTON);
  assert.match(a.pw.body, /id="webauthn-suspended"[^]*Copied key/);
  assert.doesNotMatch(a.pw.body, /Good key/);
  const options = JSON.parse((await postStep(a.browser, a.page.body, 'webauthn/options', {})).body) as { challenge: string; allowCredentials: { id: string }[] };
  assert.deepEqual(options.allowCredentials.map((c) => c.id), [goodId]);
  const r = await postStep(a.browser, a.page.body, 'webauthn/verify', { response: good.assert(options) });
  assert.equal(r.status, 200, r.body);
});

test('a suspended key counts as the account\'s second factor (the password never stands alone) but not as a usable one (mfa.last-factor guards the others)', async () => {
  const { user, id } = await userWithKey('inventory@example.test', 'Key', false);
  const deps = { factors: [], passkeys: idp.store, enrollments: idp.mfaStore };
  assert.deepEqual(usableSecondFactors(await factorInventory(deps, user.id)), [`webauthn:${id}`]);
  await idp.store.suspendWebAuthnCredential(id, Date.now());
  const inv = await factorInventory(deps, user.id);
  assert.equal(hasSecondFactor(inv), true);
  assert.deepEqual(usableSecondFactors(inv), []);
});
