/**
 * Attack: a WebAuthn ceremony run from a cross-origin iframe (WebAuthn L3 §7.1 step 10,
 * §7.2 step 13: the Relying Party checks `clientDataJSON.crossOrigin` unless it expects to
 * be embedded, which Portcullis never is). A page of another site that frames the sign-in
 * or account page, and gets the browser to run the ceremony there, yields a response whose
 * origin is ours but whose `crossOrigin` is true (and `topOrigin` names the framing site).
 * @simplewebauthn/server reads neither member, so Portcullis refuses such a registration and
 * such an assertion itself: `webauthn.invalid-response`, 400, audited as the other refusals.
 * Real SQLite store and sign-in pages, software authenticator.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import * as client from 'openid-client';
import { PortcullisError } from '../../src/core/errors.js';
import type { UserRecord } from '../../src/identity/store.js';
import { Browser, csrfOf, startIdentity, submitForm, type Identity } from '../support/oidc-harness.js';
import { authorizationRequest } from '../support/oidc-node.js';
import { SoftAuthenticator } from './soft-authenticator.js';
import { ceremoniesFixture, ORIGIN, RP_ID } from './webauthn-ceremonies-fixture.js';

const FRAMED = [{ crossOrigin: true }, { crossOrigin: true, topOrigin: 'https://evil.example' }, { topOrigin: 'https://evil.example' }, { crossOrigin: 'true' }];
const fx = ceremoniesFixture('xo');
const newUser = () => fx.newUser();

async function register(user: UserRecord, auth: SoftAuthenticator) {
  const slot = `reg-${randomBytes(4).toString('hex')}`;
  const options = (await fx.ceremonies.registrationOptions(slot, user)) as { challenge: string };
  return fx.ceremonies.verifyRegistration(slot, user.id, auth.register(options), 'Key');
}

async function authenticate(userId: string | undefined, auth: SoftAuthenticator) {
  const slot = `auth-${randomBytes(4).toString('hex')}`;
  const options = (await fx.ceremonies.authenticationOptions(slot, userId)) as { challenge: string };
  return fx.ceremonies.verifyAuthentication(slot, userId, auth.assert(options, { uv: true }));
}

const crossOriginRefusal = (e: unknown) => e instanceof PortcullisError && e.code === 'webauthn.invalid-response' && e.status === 400 && /cross-origin/.test(e.message);

test('attack: a registration made in a cross-origin iframe (crossOrigin true, a topOrigin) is refused (webauthn.invalid-response, 400), audited, nothing stored', async () => {
  for (const fields of FRAMED) {
    const user = await newUser();
    const auth = new SoftAuthenticator(ORIGIN, RP_ID);
    auth.clientDataFields = fields;
    await assert.rejects(register(user, auth), crossOriginRefusal, JSON.stringify(fields));
    assert.deepEqual(await fx.store.listWebAuthnCredentials(user.id), []);
    const refused = fx.audit.events.filter((e) => e.type === 'webauthn.registration-refused' && e.data?.['userId'] === user.id);
    assert.deepEqual(refused.map((e) => e.reason), ['webauthn.invalid-response']);
  }
});

test('attack: an assertion made in a cross-origin iframe is refused, as a second factor and as a passkey (webauthn.invalid-response, 400); the counter does not move', async () => {
  const user = await newUser();
  const auth = new SoftAuthenticator(ORIGIN, RP_ID);
  const { id } = await register(user, auth);
  await authenticate(user.id, auth);
  const counter = (await fx.store.getWebAuthnCredential(id))!.counter;
  for (const fields of FRAMED) {
    auth.clientDataFields = fields;
    await assert.rejects(authenticate(user.id, auth), crossOriginRefusal, JSON.stringify(fields));
    await assert.rejects(authenticate(undefined, auth), crossOriginRefusal, JSON.stringify(fields));
  }
  const after = (await fx.store.getWebAuthnCredential(id))!;
  assert.equal(after.counter, counter);
  assert.equal(after.suspendedAt, null);
  auth.clientDataFields = {};
  assert.deepEqual(await authenticate(user.id, auth), { userId: user.id, userVerified: true, method: 'hwk' });
});

test('a same-origin response without a crossOrigin member (older browsers) is accepted', async () => {
  const user = await newUser();
  const auth = new SoftAuthenticator(ORIGIN, RP_ID);
  auth.clientDataFields = { crossOrigin: undefined };
  await register(user, auth);
  assert.deepEqual(await authenticate(user.id, auth), { userId: user.id, userVerified: true, method: 'hwk' });
});

test('attack: at the sign-in pages a framed assertion is a typed 400, audited as signin.mfa-failed (second step) and signin.failed (passkey)', async (t) => {
  const PASSWORD = 'plum tractor velvet orbit';
  const REDIRECT = 'http://127.0.0.1:9/cb';
  const idp: Identity = await startIdentity();
  t.after(() => idp.close());
  const { app, clientSecret } = await idp.apps.create({ name: 'web', audiences: ['https://api.example.test'], scopes: ['read'], redirectUris: [REDIRECT] }, 'test');
  const config = await client.discovery(new URL(idp.issuer), app.clientId, clientSecret!, undefined, { execute: [client.allowInsecureRequests] });
  const authorize = async () => {
    const browser = new Browser();
    const { url } = await authorizationRequest(config, { scope: 'openid', resource: 'https://api.example.test' });
    return { browser, page: await browser.follow(url.toString(), idp.issuer) };
  };
  const postStep = (browser: Browser, html: string, action: string, fields: Record<string, string>) =>
    browser.request(new URL(/action="([^"]*\/interaction\/[^/"]+)\//.exec(html)![1]! + '/' + action, idp.issuer).toString(), { form: { csrf: csrfOf(html), ...fields } });

  const user = await idp.users.add({ email: 'framed@example.test', password: PASSWORD, mfaRequired: true }, 'test');
  const key = new SoftAuthenticator(idp.issuer, new URL(idp.issuer).hostname);
  const a = await authorize();
  const enrol = await submitForm(a.browser, a.page.body, 'login', { email: 'framed@example.test', password: PASSWORD }, idp.issuer);
  key.clientDataFields = { crossOrigin: true, topOrigin: 'https://evil.example' };
  const regOptions = JSON.parse((await postStep(a.browser, enrol.body, 'webauthn/register-options', {})).body) as { challenge: string };
  const reg = await postStep(a.browser, enrol.body, 'webauthn/register', { response: key.register(regOptions), name: 'key' });
  assert.equal(reg.status, 400, reg.body);
  assert.equal(JSON.parse(reg.body).code, 'webauthn.invalid-response');
  assert.equal(idp.audit.events.filter((e) => e.type === 'webauthn.registration-refused' && e.data?.['userId'] === user.id).length, 1);
  key.clientDataFields = {};
  const regOptions2 = JSON.parse((await postStep(a.browser, enrol.body, 'webauthn/register-options', {})).body) as { challenge: string };
  assert.equal((await postStep(a.browser, enrol.body, 'webauthn/register', { response: key.register(regOptions2), name: 'key' })).status, 200);

  key.clientDataFields = { crossOrigin: true };
  const b = await authorize();
  const pw = await submitForm(b.browser, b.page.body, 'login', { email: 'framed@example.test', password: PASSWORD }, idp.issuer);
  assert.match(pw.body, /<title>Second step/);
  // the second-step page of a user with only a key has no form: post as its script does
  const options = JSON.parse((await postStep(b.browser, b.page.body, 'webauthn/options', {})).body) as { challenge: string };
  const second = await postStep(b.browser, b.page.body, 'webauthn/verify', { response: key.assert(options) });
  assert.equal(second.status, 400, second.body);
  assert.equal(JSON.parse(second.body).code, 'webauthn.invalid-response');
  assert.equal(idp.audit.events.filter((e) => e.type === 'signin.mfa-failed' && e.actor === `user:${user.id}` && e.reason === 'webauthn.invalid-response').length, 1);

  const c = await authorize();
  const pkOptions = JSON.parse((await postStep(c.browser, c.page.body, 'passkey/options', {})).body) as { challenge: string };
  const passkey = await postStep(c.browser, c.page.body, 'passkey/verify', { response: key.assert(pkOptions, { uv: true }) });
  assert.equal(passkey.status, 400, passkey.body);
  assert.equal(JSON.parse(passkey.body).code, 'webauthn.invalid-response');
  assert.equal(idp.audit.events.filter((e) => e.type === 'signin.failed' && e.reason === 'webauthn.invalid-response' && e.data?.['method'] === 'passkey').length, 1);
  assert.equal(idp.audit.events.filter((e) => e.type === 'signin.succeeded' && e.actor === `user:${user.id}`).length, 0);
});
