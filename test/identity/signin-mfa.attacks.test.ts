/**
 * Attacks on the second step of a sign-in, end to end: openid-client as the app, the
 * no-JavaScript browser as the user, the real provider, store, factors and limits.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import * as client from 'openid-client';
import { decodeJwt } from 'jose';
import { ACR_MFA } from '../../src/identity/oidc/provider.js';
import { Browser, consentAndReturnTo, csrfOf, startIdentity, submitForm, type Identity } from '../support/oidc-harness.js';
import { authorizationRequest } from '../support/oidc-node.js';
import { SoftAuthenticator } from './soft-authenticator.js';

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

const postForm = (browser: Browser, html: string, action: string, fields: Record<string, string>) => submitForm(browser, html, action, fields, idp.issuer);

/** Submits consent and follows to the redirect back to the app. */
const consentAndReturn = (browser: Browser, r: { status: number; location: string | undefined; body: string }) => consentAndReturnTo(browser, r, idp.issuer, REDIRECT);

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

test('attack: a password-only browser session (SSO) is not enough for an app that requires MFA; prompt=none gives login_required', async () => {
  const { app: strict, clientSecret } = await idp.apps.create({ name: 'payroll', audiences: [AUD], scopes: ['read'], redirectUris: [REDIRECT], mfaRequired: true }, 'test');
  const cfgB = await client.discovery(new URL(idp.issuer), strict.clientId, clientSecret!, undefined, { execute: [client.allowInsecureRequests] });
  await idp.users.add({ email: 'sso@example.test', password: PASSWORD }, 'test');
  const a = await authorize();
  const r = await postForm(a.browser, a.page.body, 'login', { email: 'sso@example.test', password: PASSWORD });
  await consentAndReturn(a.browser, r);

  const silent = await authorizationRequest(cfgB, { scope: 'openid', resource: AUD, prompt: 'none' });
  const none = await a.browser.follow(silent.url.toString(), idp.issuer);
  assert.ok(none.location?.startsWith(REDIRECT), `expected an error redirect to the app, got ${none.status} ${none.body.slice(0, 200)}`);
  assert.equal(new URL(none.location!).searchParams.get('error'), 'login_required');
  assert.equal(new URL(none.location!).searchParams.get('code'), null);

  const b = await authorize(cfgB, {}, a.browser);
  assert.equal(title(b.page.body), 'Sign in');
  const again = await postForm(a.browser, b.page.body, 'login', { email: 'sso@example.test', password: PASSWORD });
  assert.equal(title(again.body), 'Set up a second factor');
});

test('attack: MFA required for the user after the session began is enforced on that session (SSO)', async () => {
  const user = await idp.users.add({ email: 'later@example.test', password: PASSWORD }, 'test');
  const enrol = await idp.totpFactor.enroll({ userId: user.id, address: user.email });
  const a = await authorize();
  const r = await postForm(a.browser, a.page.body, 'login', { email: 'later@example.test', password: PASSWORD });
  await consentAndReturn(a.browser, r);
  await idp.users.setMfaRequired(user.id, true, 'test');
  await idp.totpFactor.confirm({ userId: user.id }, idp.totpNow(enrol.secretBase32!, -30_000));

  const b = await authorize(config, {}, a.browser);
  assert.equal(title(b.page.body), 'Sign in');
  const pw = await postForm(b.browser, b.page.body, 'login', { email: 'later@example.test', password: PASSWORD });
  assert.equal(title(pw.body), 'Second step');
  const done = await postForm(b.browser, pw.body, 'mfa', { factor: 'totp', code: idp.totpNow(enrol.secretBase32!, 30_000) });
  const cb = await consentAndReturn(b.browser, done);
  const tokens = await client.authorizationCodeGrant(config, cb, { pkceCodeVerifier: b.verifier, expectedState: b.state }, { resource: AUD });
  assert.equal(decodeJwt(tokens.access_token)['acr'], ACR_MFA);
});

test('attack: re-entering the password does not reset the TOTP attempt cap', async () => {
  const user = await idp.users.add({ email: 'totp-reset@example.test', password: PASSWORD }, 'test');
  const enrol = await idp.totpFactor.enroll({ userId: user.id, address: user.email });
  await idp.totpFactor.confirm({ userId: user.id }, idp.totpNow(enrol.secretBase32!, -30_000));
  const a = await authorize();
  let page = await postForm(a.browser, a.page.body, 'login', { email: 'totp-reset@example.test', password: PASSWORD });
  const right = idp.totpNow(enrol.secretBase32!);
  const wrongCode = (i: number) => String((Number(right) + 1 + i) % 1_000_000).padStart(6, '0');
  const guess = async (i: number) => postForm(a.browser, page.body, 'mfa', { factor: 'totp', code: wrongCode(i) });
  for (let i = 0; i < 5; i++) assert.equal((await guess(i)).status, 401);
  page = await postStep(a.browser, page.body, 'login', { email: 'totp-reset@example.test', password: PASSWORD });
  assert.equal(title(page.body), 'Second step');
  assert.equal((await guess(5)).status, 401); // the 6th failure sets the first delay
  page = await postStep(a.browser, page.body, 'login', { email: 'totp-reset@example.test', password: PASSWORD });
  assert.equal(title(page.body), 'Second step');
  const throttled = await guess(6);
  assert.equal(throttled.status, 429);
  assert.match(throttled.body, /Too many failed attempts/);
});

test('attack: 30 concurrent wrong passwords for one account are not all evaluated (attempt cap holds)', async () => {
  await idp.users.add({ email: 'parallel@example.test', password: PASSWORD }, 'test');
  const a = await authorize();
  const statuses = await Promise.all(Array.from({ length: 30 }, (_, i) => postForm(a.browser, a.page.body, 'login', { email: 'parallel@example.test', password: `wrong guess number ${i}` }).then((r) => r.status)));
  const count = (st: number) => statuses.filter((x) => x === st).length;
  // 5 free failures and the 6th that sets the first delay, as in sequence; the rest wait.
  assert.equal(count(401), 6, JSON.stringify(statuses));
  assert.equal(count(429), 24);
});

test('attack: a confirmed factor the deployment no longer offers (otp channel switched) does not fall back to the password alone (mfa.factor-unavailable)', async () => {
  const user = await idp.users.add({ email: 'switched@example.test', password: PASSWORD }, 'test');
  // enrolled while identity.otp.channel was sms; this deployment offers e-mail codes
  await idp.mfaStore.putEnrollment({ userId: user.id, factorId: 'sms', status: 'confirmed', data: { address: '+15551234567' }, createdAt: Date.now(), confirmedAt: Date.now() });
  const a = await authorize();
  const r = await postForm(a.browser, a.page.body, 'login', { email: 'switched@example.test', password: PASSWORD });
  assert.equal(r.status, 503);
  assert.equal(r.location, undefined);
  assert.match(r.body, /Your second factor is not available on this service now/);
  const audited = idp.audit.events.filter((e) => e.type === 'signin.mfa-unavailable' && e.actor === `user:${user.id}`);
  assert.equal(audited.length, 1);
  assert.equal(audited[0]!.reason, 'mfa.factor-unavailable');

  // with another factor still offered, that one is asked for
  const enrol = await idp.totpFactor.enroll({ userId: user.id, address: user.email });
  await idp.totpFactor.confirm({ userId: user.id }, idp.totpNow(enrol.secretBase32!, -30_000));
  const b = await authorize();
  const again = await postForm(b.browser, b.page.body, 'login', { email: 'switched@example.test', password: PASSWORD });
  assert.equal(title(again.body), 'Second step');
});

test('attack: a WebAuthn answer that is not an object (null, a number, an array) is a typed 400, not a 500 — passkey/verify and webauthn/verify', async () => {
  const user = await idp.users.add({ email: 'webauthn-null@example.test', password: PASSWORD }, 'test');
  const enrol = await idp.totpFactor.enroll({ userId: user.id, address: user.email });
  await idp.totpFactor.confirm({ userId: user.id }, idp.totpNow(enrol.secretBase32!, -30_000));
  for (const response of ['null', '1', '[]', '"id"']) {
    const a = await authorize();
    assert.equal((await postStep(a.browser, a.page.body, 'passkey/options', {})).status, 200);
    const passkey = await postStep(a.browser, a.page.body, 'passkey/verify', { response });
    assert.equal(passkey.status, 400, `passkey/verify ${response}: ${passkey.body}`);
    assert.equal(JSON.parse(passkey.body).code, 'webauthn.invalid-response');

    const pw = await postForm(a.browser, a.page.body, 'login', { email: 'webauthn-null@example.test', password: PASSWORD });
    assert.equal(title(pw.body), 'Second step');
    assert.equal((await postStep(a.browser, pw.body, 'webauthn/options', {})).status, 200);
    const second = await postStep(a.browser, pw.body, 'webauthn/verify', { response });
    assert.equal(second.status, 400, `webauthn/verify ${response}: ${second.body}`);
    assert.equal(JSON.parse(second.body).code, 'webauthn.invalid-response');
  }
});

test('a failed password sign-in is audited with the account aimed at (never the password, nor an unknown typed name)', async () => {
  const user = await idp.users.add({ email: 'audited@example.test', password: PASSWORD }, 'test');
  const a = await authorize();
  const wrong = await postForm(a.browser, a.page.body, 'login', { email: 'audited@example.test', password: 'a wrong password 1234' });
  assert.equal(wrong.status, 401);
  const unknown = await postForm(a.browser, a.page.body, 'login', { email: 'nobody-here@example.test', password: 'a wrong password 5678' });
  assert.equal(unknown.status, 401);
  const failed = idp.audit.events.filter((e) => e.type === 'signin.failed').slice(-2);
  assert.equal(failed[0]!.data?.['userId'], user.id);
  assert.equal(failed[0]!.reason, 'auth.invalid-credentials');
  assert.equal(failed[1]!.data?.['unknownAccount'], true);
  const text = JSON.stringify(failed);
  for (const secret of ['a wrong password 1234', 'a wrong password 5678', 'nobody-here']) assert.ok(!text.includes(secret), text);
});

test('reloading the recovery-code page (GET) does not generate a new set and void the codes just shown', async () => {
  const user = await idp.users.add({ email: 'reload@example.test', password: PASSWORD, mfaRequired: true }, 'test');
  const a = await authorize();
  const r = await postForm(a.browser, a.page.body, 'login', { email: 'reload@example.test', password: PASSWORD });
  const sent = await postForm(a.browser, r.body, 'enroll', { factor: 'email', address: 'reload@example.test' });
  const code = (await idp.readOutbox()).findLast((m) => m.to === 'reload@example.test')!.code;
  const shown = await postForm(a.browser, sent.body, 'enroll-confirm', { factor: 'email', code });
  assert.equal([...shown.body.matchAll(/<li><code>([^<]+)<\/code><\/li>/g)].length, 10);
  const before = (await idp.mfaStore.listRecoveryCodes(user.id)).map((c) => c.hash);
  const recoveryUrl = new URL(/action="([^"]*\/interaction\/[^/"]+)\//.exec(shown.body)![1]! + '/recovery', idp.issuer).toString();
  for (let i = 0; i < 2; i++) {
    const reload = await a.browser.request(recoveryUrl);
    assert.equal(reload.status, 200);
    assert.doesNotMatch(reload.body, /<li><code>/);
    assert.match(reload.body, /not shown again/);
  }
  assert.deepEqual((await idp.mfaStore.listRecoveryCodes(user.id)).map((c) => c.hash), before);
  const cont = await postForm(a.browser, shown.body, 'continue', {});
  await consentAndReturn(a.browser, cont);
});

test('an admin MFA reset also clears a confirmed factor the deployment no longer offers: the user enrols again instead of staying refused (mfa.factor-unavailable)', async () => {
  const user = await idp.users.add({ email: 'switched-reset@example.test', password: PASSWORD, mfaRequired: true }, 'test');
  await idp.mfaStore.putEnrollment({ userId: user.id, factorId: 'sms', status: 'confirmed', data: { address: '+15551234567' }, createdAt: Date.now(), confirmedAt: Date.now() });
  await idp.users.resetMfa(user.id, 'admin');
  assert.deepEqual(await idp.mfaStore.listEnrollments(user.id), []);
  const a = await authorize();
  const r = await postForm(a.browser, a.page.body, 'login', { email: 'switched-reset@example.test', password: PASSWORD });
  assert.equal(r.status, 200, r.body);
  assert.equal(title(r.body), 'Set up a second factor');
});

test('attack: a user disabled between the password and the second factor does not finish signing in (auth.invalid-credentials)', async () => {
  const user = await idp.users.add({ email: 'disabled-mid@example.test', password: PASSWORD }, 'test');
  const enrol = await idp.totpFactor.enroll({ userId: user.id, address: user.email });
  await idp.totpFactor.confirm({ userId: user.id }, idp.totpNow(enrol.secretBase32!, -30_000));
  const a = await authorize();
  const pw = await postForm(a.browser, a.page.body, 'login', { email: 'disabled-mid@example.test', password: PASSWORD });
  assert.equal(title(pw.body), 'Second step');
  await idp.users.disable(user.id, 'admin');
  const done = await postForm(a.browser, pw.body, 'mfa', { factor: 'totp', code: idp.totpNow(enrol.secretBase32!, 30_000) });
  assert.equal(done.location, undefined);
  assert.equal(done.status, 401);
  assert.match(done.body, /The e-mail address or password is wrong/);
  assert.equal(idp.audit.events.filter((e) => e.type === 'signin.succeeded' && e.actor === `user:${user.id}`).length, 0);
  assert.equal(idp.audit.events.filter((e) => e.type === 'signin.failed' && e.reason === 'auth.invalid-credentials' && e.data?.['userId'] === user.id).length, 1);
  assert.deepEqual(await idp.oidc.listSessions(user.id), []);
});

test('attack: a cloned security key refused at the second step (webauthn.counter-regressed) is audited as signin.mfa-failed, like a wrong code', async () => {
  const user = await idp.users.add({ email: 'cloned-key@example.test', password: PASSWORD, mfaRequired: true }, 'test');
  const key = new SoftAuthenticator(idp.issuer, new URL(idp.issuer).hostname);
  const a = await authorize();
  const enrol = await postForm(a.browser, a.page.body, 'login', { email: 'cloned-key@example.test', password: PASSWORD });
  assert.equal(title(enrol.body), 'Set up a second factor');
  const regOptions = JSON.parse((await postStep(a.browser, enrol.body, 'webauthn/register-options', {})).body) as { challenge: string };
  assert.equal((await postStep(a.browser, enrol.body, 'webauthn/register', { response: key.register(regOptions), name: 'key' })).status, 200);
  const added = idp.audit.events.filter((e) => e.type === 'user.factor-added' && e.actor === `user:${user.id}`);
  assert.deepEqual(added.map((e) => [e.data?.['factor'], e.data?.['during'], typeof e.data?.['credential']]), [['webauthn', 'sign-in', 'string']], 'a key set up at sign-in is audited');

  const signIn = async (make: (o: { challenge: string }) => string) => {
    const b = await authorize();
    const pw = await postForm(b.browser, b.page.body, 'login', { email: 'cloned-key@example.test', password: PASSWORD });
    assert.equal(title(pw.body), 'Second step');
    // the second-step page of a user with only a key has no form: post as its script does
    const options = JSON.parse((await postStep(b.browser, b.page.body, 'webauthn/options', {})).body) as { challenge: string };
    return postStep(b.browser, b.page.body, 'webauthn/verify', { response: make(options) });
  };
  assert.equal((await signIn((o) => key.assert(o, { counter: 5 }))).status, 200);
  const clone = key.clone();
  const refused = await signIn((o) => clone.assert(o, { counter: 5 }));
  assert.equal(refused.status, 401);
  assert.equal(JSON.parse(refused.body).code, 'webauthn.counter-regressed');
  const audited = idp.audit.events.filter((e) => e.type === 'signin.mfa-failed' && e.actor === `user:${user.id}`);
  assert.equal(audited.length, 1);
  assert.equal(audited[0]!.reason, 'webauthn.counter-regressed');
  assert.equal(audited[0]!.data?.['factor'], 'webauthn');

  assert.equal(idp.audit.events.filter((e) => e.type === 'webauthn.credential-suspended' && e.data?.['userId'] === user.id).length, 1, 'the key is suspended');

  // the same clone as a passwordless passkey, counter moving on: the key is suspended, so refused and audited as a failed sign-in
  const c = await authorize();
  const options = JSON.parse((await postStep(c.browser, c.page.body, 'passkey/options', {})).body) as { challenge: string };
  const passkey = await postStep(c.browser, c.page.body, 'passkey/verify', { response: clone.assert(options, { counter: 6, uv: true }) });
  assert.equal(passkey.status, 403);
  assert.equal(JSON.parse(passkey.body).code, 'webauthn.credential-suspended');
  assert.equal(idp.audit.events.filter((e) => e.type === 'signin.failed' && e.reason === 'webauthn.credential-suspended' && e.data?.['method'] === 'passkey').length, 1);
});

test('attack: a passwordless passkey whose userHandle names another user is refused (webauthn.user-handle-mismatch) and audited as a failed sign-in', async () => {
  const user = await idp.users.add({ email: 'handle-swap@example.test', password: PASSWORD, mfaRequired: true }, 'test');
  const victim = await idp.users.add({ email: 'handle-victim@example.test', password: PASSWORD }, 'test');
  const key = new SoftAuthenticator(idp.issuer, new URL(idp.issuer).hostname);
  const a = await authorize();
  const enrol = await postForm(a.browser, a.page.body, 'login', { email: 'handle-swap@example.test', password: PASSWORD });
  const regOptions = JSON.parse((await postStep(a.browser, enrol.body, 'webauthn/register-options', {})).body) as { challenge: string };
  assert.equal((await postStep(a.browser, enrol.body, 'webauthn/register', { response: key.register(regOptions), name: 'key' })).status, 200);

  const c = await authorize();
  const options = JSON.parse((await postStep(c.browser, c.page.body, 'passkey/options', {})).body) as { challenge: string };
  const passkey = await postStep(c.browser, c.page.body, 'passkey/verify', { response: key.assert(options, { uv: true, userHandle: Buffer.from(victim.id).toString('base64url') }) });
  assert.equal(passkey.status, 401);
  assert.equal(JSON.parse(passkey.body).code, 'webauthn.user-handle-mismatch');
  assert.equal(idp.audit.events.filter((e) => e.type === 'signin.failed' && e.reason === 'webauthn.user-handle-mismatch' && e.data?.['method'] === 'passkey').length, 1);
  assert.equal(idp.audit.events.filter((e) => e.type === 'signin.succeeded' && (e.actor === `user:${victim.id}` || e.actor === `user:${user.id}`)).length, 0);
});

test('attack: a password-only enrolment step opened before the user set up a factor cannot add a second one afterwards (mfa.already-enrolled)', async () => {
  const user = await idp.users.add({ email: 'stale-enrol@example.test', password: PASSWORD, mfaRequired: true }, 'test');
  const a = await authorize();
  const enrol = await postForm(a.browser, a.page.body, 'login', { email: 'stale-enrol@example.test', password: PASSWORD });
  assert.equal(title(enrol.body), 'Set up a second factor');
  // meanwhile the user sets up an authenticator app in another sign-in
  const totp = await idp.totpFactor.enroll({ userId: user.id, address: user.email });
  await idp.totpFactor.confirm({ userId: user.id }, idp.totpNow(totp.secretBase32!, -30_000));

  const planted = await postForm(a.browser, enrol.body, 'enroll', { factor: 'email', address: 'attacker@example.test' });
  assert.equal(planted.status, 409, planted.body.slice(0, 300));
  assert.equal(await idp.mfaStore.getEnrollment(user.id, 'email'), undefined);
  const confirm = await postStep(a.browser, enrol.body, 'enroll-confirm', { factor: 'email', code: '000000' });
  assert.equal(confirm.status, 409);
  const key = await postStep(a.browser, enrol.body, 'webauthn/register-options', {});
  assert.equal(key.status, 409);
  assert.equal(JSON.parse(key.body).code, 'mfa.already-enrolled');
});

test('attack: a disabled user\'s passkey does not sign in, and the refusal is audited (auth.invalid-credentials)', async () => {
  const user = await idp.users.add({ email: 'disabled-passkey@example.test', password: PASSWORD, mfaRequired: true }, 'test');
  const key = new SoftAuthenticator(idp.issuer, new URL(idp.issuer).hostname);
  const a = await authorize();
  const enrol = await postForm(a.browser, a.page.body, 'login', { email: 'disabled-passkey@example.test', password: PASSWORD });
  const regOptions = JSON.parse((await postStep(a.browser, enrol.body, 'webauthn/register-options', {})).body) as { challenge: string };
  assert.equal((await postStep(a.browser, enrol.body, 'webauthn/register', { response: key.register(regOptions), name: 'key' })).status, 200);
  await idp.users.disable(user.id, 'admin');

  const b = await authorize();
  const options = JSON.parse((await postStep(b.browser, b.page.body, 'passkey/options', {})).body) as { challenge: string };
  const r = await postStep(b.browser, b.page.body, 'passkey/verify', { response: key.assert(options, { uv: true }) });
  assert.equal(r.status, 401);
  assert.equal(JSON.parse(r.body).code, 'auth.invalid-credentials');
  assert.equal(idp.audit.events.filter((e) => e.type === 'signin.failed' && e.reason === 'auth.invalid-credentials' && e.data?.['userId'] === user.id).length, 1);
  assert.equal(idp.audit.events.filter((e) => e.type === 'signin.succeeded' && e.actor === `user:${user.id}`).length, 0);
});

test('attack: an e-mailed sign-in code works only in the sign-in it was sent for, not in another one of the same user (mfa.code-expired)', async () => {
  const user = await idp.users.add({ email: 'code-bound@example.test', password: PASSWORD }, 'test');
  await idp.mfaStore.putEnrollment({ userId: user.id, factorId: 'email', status: 'confirmed', data: { address: 'code-bound@example.test' }, createdAt: Date.now(), confirmedAt: Date.now() });
  const victim = await authorize();
  const vPage = await postForm(victim.browser, victim.page.body, 'login', { email: 'code-bound@example.test', password: PASSWORD });
  assert.equal(title(vPage.body), 'Second step');
  const attacker = await authorize();
  const aPage = await postForm(attacker.browser, attacker.page.body, 'login', { email: 'code-bound@example.test', password: PASSWORD });
  assert.equal(title(aPage.body), 'Second step');

  const sent = await postForm(victim.browser, vPage.body, 'send-code', { factor: 'email' });
  assert.equal(sent.status, 200, sent.body.slice(0, 300));
  const code = (await idp.readOutbox()).findLast((m) => m.to === 'code-bound@example.test' && m.purpose === 'sign-in')!.code;
  // a code seen over the user's shoulder (or on a lock screen) is no use in the attacker's own sign-in
  const stolen = await postForm(attacker.browser, aPage.body, 'mfa', { factor: 'email', code });
  assert.equal(stolen.status, 401);
  assert.equal(stolen.location, undefined);
  assert.equal(idp.audit.events.filter((e) => e.type === 'signin.mfa-failed' && e.actor === `user:${user.id}`).at(-1)?.reason, 'mfa.code-expired');
  // and it still works where it was asked for
  const done = await postForm(victim.browser, vPage.body, 'mfa', { factor: 'email', code });
  assert.ok(done.location, `expected a redirect, got ${done.status} ${done.body.slice(0, 200)}`);
});

test('a user deleted or disabled during the enrolment step cannot enrol a factor: 401 auth.invalid-credentials, never a 500, each refusal audited as signin.failed (inactive)', async () => {
  for (const change of ['delete', 'disable'] as const) {
    const email = `gone-during-enrol-${change}@example.test`;
    const user = await idp.users.add({ email, password: PASSWORD, mfaRequired: true }, 'test');
    const a = await authorize();
    const enrol = await postForm(a.browser, a.page.body, 'login', { email, password: PASSWORD });
    assert.equal(title(enrol.body), 'Set up a second factor');
    if (change === 'delete') await idp.users.delete(user.id, 'test');
    else await idp.users.disable(user.id, 'test');

    const totp = await postForm(a.browser, enrol.body, 'enroll', { factor: 'totp' });
    assert.equal(totp.status, 401, `${change}: ${totp.body.slice(0, 300)}`);
    const key = await postStep(a.browser, enrol.body, 'webauthn/register-options', {});
    assert.equal(key.status, 401, change);
    assert.equal(JSON.parse(key.body).code, 'auth.invalid-credentials');
    const audited = idp.audit.events.filter((e) => e.type === 'signin.failed' && e.reason === 'auth.invalid-credentials' && e.data?.['userId'] === user.id && e.data?.['inactive'] === true);
    assert.equal(audited.length, 2, change);
  }
});

test('attack: a sign-in whose password step came before "end every session" cannot finish with the second factor afterwards (401 auth.signin-outdated): no session, no signin.succeeded', async () => {
  const user = await idp.users.add({ email: 'ended-mid@example.test', password: PASSWORD }, 'test');
  const enrol = await idp.totpFactor.enroll({ userId: user.id, address: user.email });
  await idp.totpFactor.confirm({ userId: user.id }, idp.totpNow(enrol.secretBase32!, -30_000));
  const a = await authorize();
  const pw = await postForm(a.browser, a.page.body, 'login', { email: 'ended-mid@example.test', password: PASSWORD });
  assert.equal(title(pw.body), 'Second step');
  await idp.users.endAllSessions(user.id, `user:${user.id}`);
  const done = await postForm(a.browser, pw.body, 'mfa', { factor: 'totp', code: idp.totpNow(enrol.secretBase32!, 30_000) });
  assert.equal(done.location, undefined);
  assert.equal(done.status, 401);
  assert.match(done.body, /began before every session of this account was ended/);
  assert.equal(idp.audit.events.filter((e) => e.type === 'signin.succeeded' && e.actor === `user:${user.id}`).length, 0);
  assert.equal(idp.audit.events.filter((e) => e.type === 'signin.failed' && e.reason === 'auth.signin-outdated' && e.data?.['userId'] === user.id).length, 1);
  assert.deepEqual(await idp.oidc.listSessions(user.id), []);
  // a sign-in begun after the cut-off is asked for its second factor as ever
  const b = await authorize();
  assert.equal(title((await postForm(b.browser, b.page.body, 'login', { email: 'ended-mid@example.test', password: PASSWORD })).body), 'Second step');
});

test('attack: a factor enrolled at a sign-in, then an admin MFA reset (which ends every session): that sign-in cannot go on to an MFA session (401 auth.signin-outdated)', async () => {
  const user = await idp.users.add({ email: 'reset-mid@example.test', password: PASSWORD, mfaRequired: true }, 'test');
  const a = await authorize();
  const r = await postForm(a.browser, a.page.body, 'login', { email: 'reset-mid@example.test', password: PASSWORD });
  const sent = await postForm(a.browser, r.body, 'enroll', { factor: 'email', address: 'reset-mid@example.test' });
  const code = (await idp.readOutbox()).findLast((m) => m.to === 'reset-mid@example.test')!.code;
  const shown = await postForm(a.browser, sent.body, 'enroll-confirm', { factor: 'email', code });
  assert.equal(title(shown.body), 'Save your recovery codes');
  await idp.users.resetMfa(user.id, 'admin');
  const cont = await postForm(a.browser, shown.body, 'continue', {});
  assert.equal(cont.location, undefined);
  assert.equal(cont.status, 401);
  assert.match(cont.body, /began before every session of this account was ended/);
  assert.deepEqual(await idp.oidc.listSessions(user.id), []);
  assert.equal(idp.audit.events.filter((e) => e.type === 'signin.succeeded' && e.actor === `user:${user.id}`).length, 0);
});

test('attack: an enrolment step opened before "end every session" cannot set up a factor afterwards (401 auth.signin-outdated)', async () => {
  const user = await idp.users.add({ email: 'ended-enrol@example.test', password: PASSWORD, mfaRequired: true }, 'test');
  const a = await authorize();
  const r = await postForm(a.browser, a.page.body, 'login', { email: 'ended-enrol@example.test', password: PASSWORD });
  assert.equal(title(r.body), 'Set up a second factor');
  await idp.users.endAllSessions(user.id, 'admin');
  const enrol = await postForm(a.browser, r.body, 'enroll', { factor: 'totp' });
  assert.equal(enrol.status, 401);
  assert.match(enrol.body, /began before every session of this account was ended/);
  assert.equal((await idp.mfaStore.listEnrollments(user.id)).length, 0);
  // a sign-in begun after the cut-off enrols and goes through
  const b = await authorize();
  const r2 = await postForm(b.browser, b.page.body, 'login', { email: 'ended-enrol@example.test', password: PASSWORD });
  const sent = await postForm(b.browser, r2.body, 'enroll', { factor: 'email', address: 'ended-enrol@example.test' });
  const code = (await idp.readOutbox()).findLast((m) => m.to === 'ended-enrol@example.test')!.code;
  const shown = await postForm(b.browser, sent.body, 'enroll-confirm', { factor: 'email', code });
  await consentAndReturn(b.browser, await postForm(b.browser, shown.body, 'continue', {}));
});
