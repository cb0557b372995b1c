/**
 * Session fixation of the sign-in interaction, end to end. The attacker starts an
 * authorization request in its own browser (holding the `_interaction` and
 * `_interaction_resume` cookies and the page's anti-CSRF token), plants the
 * `_interaction` cookie in the victim's browser (cookie tossing from a sibling
 * subdomain) and sends the victim to the interaction page. The victim signs in there;
 * the attacker, holding the same interaction, must get nothing from it: no second-step
 * page (the victim's factors), no codes sent to the victim, no second step of its own,
 * and no resume of the finished sign-in into its own browser (its PKCE verifier, its
 * session): each is refused `auth.signin-other-browser` and audited.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import * as client from 'openid-client';
import { decodeJwt } from 'jose';
import { ACR_MFA } from '../../src/identity/oidc/provider.js';
import { Browser, consentAndReturnTo, csrfOf, startIdentity, submitForm, type Identity } from '../support/oidc-harness.js';
import { authorizationRequest } from '../support/oidc-node.js';

const REDIRECT = 'http://127.0.0.1:9/cb';
const AUD = 'https://api.example.test';
const PASSWORD = 'plum tractor velvet orbit';
const JSON_ACCEPT = { accept: 'application/json' };
let idp: Identity;
let config: client.Configuration;

before(async () => {
  idp = await startIdentity();
  const { app, clientSecret } = await idp.apps.create({ name: 'web', audiences: [AUD], scopes: ['read'], redirectUris: [REDIRECT] }, 'test');
  config = await client.discovery(new URL(idp.issuer), app.clientId, clientSecret!, undefined, { execute: [client.allowInsecureRequests] });
});
after(async () => idp.close());

const title = (html: string) => /<title>([^<]*)/.exec(html)?.[1];

async function authorize(browser = new Browser()) {
  const { url, verifier, state } = await authorizationRequest(config, { scope: 'openid offline_access', resource: AUD, prompt: 'consent' });
  const page = await browser.follow(url.toString(), idp.issuer);
  assert.equal(title(page.body), 'Sign in');
  const uid = /action="[^"]*\/interaction\/([^/"]+)\//.exec(page.body)![1]!;
  return { browser, page, verifier, state, uid };
}

/** Posts to a step of interaction `uid` with `csrf`, asking for JSON so the typed code shows. */
const step = (browser: Browser, uid: string, action: string, csrf: string, fields: Record<string, string> = {}) =>
  browser.request(`${idp.issuer}/interaction/${uid}/${action}`, { form: { csrf, ...fields }, headers: JSON_ACCEPT });

async function userWithTotp(email: string) {
  const user = await idp.users.add({ email, password: PASSWORD }, 'test');
  const enrol = await idp.totpFactor.enroll({ userId: user.id, address: user.email });
  await idp.totpFactor.confirm({ userId: user.id }, idp.totpNow(enrol.secretBase32!, -30_000));
  return { user, secret: enrol.secretBase32! };
}

/** The attacker's interaction, its cookie tossed into a fresh victim browser that opens the page and types the password. */
async function fixedAndSignedIn(email: string) {
  const attacker = await authorize();
  const victim = new Browser();
  for (const name of ['_interaction', '_interaction.sig']) victim.plant(name, attacker.browser.cookie(name)!);
  const landing = await victim.follow(`${idp.issuer}/interaction/${attacker.uid}`, idp.issuer);
  assert.equal(title(landing.body), 'Sign in');
  assert.equal(csrfOf(landing.body), csrfOf(attacker.page.body), 'one interaction, one anti-CSRF token: the attacker knows it');
  const second = await submitForm(victim, landing.body, 'login', { email, password: PASSWORD }, idp.issuer);
  return { attacker, victim, second, csrf: csrfOf(attacker.page.body) };
}

const refusals = (userId: string) => idp.audit.events.filter((e) => e.type === 'signin.other-browser' && e.actor === `user:${userId}`);

test('attack: a fixed interaction id does not show the attacker the victim\'s second step, send it codes, or take its codes (auth.signin-other-browser)', async () => {
  const { user, secret } = await userWithTotp('fixed-mfa@example.test');
  const { attacker, victim, second, csrf } = await fixedAndSignedIn('fixed-mfa@example.test');
  assert.equal(title(second.body), 'Second step');

  const peek = await attacker.browser.request(`${idp.issuer}/interaction/${attacker.uid}`, { headers: JSON_ACCEPT });
  assert.equal(peek.status, 403);
  assert.equal(JSON.parse(peek.body).code, 'auth.signin-other-browser');
  assert.doesNotMatch(peek.body, /Authenticator app|Second step/);

  const outboxBefore = (await idp.readOutbox()).length;
  const send = await step(attacker.browser, attacker.uid, 'send-code', csrf, { factor: 'email' });
  assert.equal(send.status, 403);
  assert.equal(JSON.parse(send.body).code, 'auth.signin-other-browser');
  assert.equal((await idp.readOutbox()).length, outboxBefore);

  // even with the victim's right code (seen over a shoulder, phished), the attacker's browser cannot finish
  const mfa = await step(attacker.browser, attacker.uid, 'mfa', csrf, { factor: 'totp', code: idp.totpNow(secret, 30_000) });
  assert.equal(mfa.status, 403);
  assert.equal(JSON.parse(mfa.body).code, 'auth.signin-other-browser');
  assert.equal(mfa.location, undefined);
  assert.ok(refusals(user.id).length >= 3, 'each refusal is audited');
  assert.ok(refusals(user.id).every((e) => !JSON.stringify(e).includes(secret)));

  // the victim's own browser goes on as before
  const again = await victim.request(`${idp.issuer}/interaction/${attacker.uid}`);
  assert.equal(title(again.body), 'Second step');
});

test('attack: the victim finishing the fixed sign-in does not sign the attacker\'s browser in or give it a code for its PKCE verifier (auth.signin-other-browser)', async () => {
  const { user, secret } = await userWithTotp('fixed-resume@example.test');
  const { attacker, victim, second } = await fixedAndSignedIn('fixed-resume@example.test');
  const done = await submitForm(victim, second.body, 'mfa', { factor: 'totp', code: idp.totpNow(secret, 30_000) }, idp.issuer);
  assert.equal(done.status, 303, done.body.slice(0, 600));
  const resume = done.location!;
  // the victim's browser has no resume cookie (it did not start the request): oidc-provider refuses it
  const victimResume = await victim.request(resume);
  assert.equal(victimResume.status, 400);

  const stolen = await attacker.browser.request(resume, { headers: JSON_ACCEPT });
  assert.equal(stolen.status, 403, `the attacker's browser resumed the victim's sign-in: ${stolen.status} ${stolen.location ?? ''}`);
  assert.equal(JSON.parse(stolen.body).code, 'auth.signin-other-browser');
  assert.equal(stolen.location, undefined);
  assert.ok(refusals(user.id).some((e) => e.reason === 'auth.signin-other-browser' && (e.data as Record<string, unknown>)['step'] === 'resume'));
  // by any other path under the authorization endpoint too (oidc-provider finds the interaction by the resume cookie alone)
  const elsewhere = await attacker.browser.request(`${idp.issuer}/oauth2/authorize/whatever`, { headers: JSON_ACCEPT });
  assert.equal(elsewhere.status, 403);
});

test('the browser that started and signed in still finishes (binding set at the password step, checked at resume)', async () => {
  const { secret } = await userWithTotp('own@example.test');
  const a = await authorize();
  const second = await submitForm(a.browser, a.page.body, 'login', { email: 'own@example.test', password: PASSWORD }, idp.issuer);
  assert.equal(title(second.body), 'Second step');
  const cookie = second.headers.getSetCookie().find((c) => c.startsWith(`portcullis-signin-${a.uid}=`));
  assert.ok(cookie, 'a binding cookie is set at the password step');
  assert.match(cookie!, /HttpOnly/i);
  assert.match(cookie!, /SameSite=Lax/i);
  assert.match(cookie!, /Path=\//);
  const done = await submitForm(a.browser, second.body, 'mfa', { factor: 'totp', code: idp.totpNow(secret, 30_000) }, idp.issuer);
  const cb = await consentAndReturnTo(a.browser, done, idp.issuer, REDIRECT);
  const tokens = await client.authorizationCodeGrant(config, cb, { pkceCodeVerifier: a.verifier, expectedState: a.state }, { resource: AUD });
  assert.equal(decodeJwt(tokens.access_token)['acr'], ACR_MFA);
});

test('attack: the full fixation yields no code for the attacker\'s verifier, on the page route a browser follows', async () => {
  const { secret } = await userWithTotp('fixed-tokens@example.test');
  const { attacker, victim, second } = await fixedAndSignedIn('fixed-tokens@example.test');
  const done = await submitForm(victim, second.body, 'mfa', { factor: 'totp', code: idp.totpNow(secret, 30_000) }, idp.issuer);
  const r = await attacker.browser.follow(done.location!, idp.issuer);
  assert.equal(r.status, 403);
  assert.equal(r.location, undefined);
  assert.match(r.body, /start again from the app/);
  await assert.rejects(consentAndReturnTo(attacker.browser, done, idp.issuer, REDIRECT), /expected a redirect to the app, got 403/);
});
