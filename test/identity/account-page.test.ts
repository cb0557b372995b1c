/**
 * The account page of a signed-in browser (sessions with end buttons, factors with
 * remove) on a whole node, its CSRF and framing protections; a second user signing in
 * in the same browser; the client-credentials grant refused to a sign-in-only app.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { decodeJwt } from 'jose';
import { Browser, actionOf, csrfOf } from '../support/oidc-harness.js';
import { enrolTotp, registerOidcApp, signIn, startOidcNode, type OidcApp } from '../support/oidc-node.js';
import type { TestNode } from '../support/portcullis.js';

const AUD = 'https://api.example.test';
const PASSWORD = 'plum tractor velvet orbit';
let node: TestNode;
let app: OidcApp;
let account: string;

before(async () => {
  node = await startOidcNode();
  app = await registerOidcApp(node, AUD);
  account = `${node.urls.identity}/account`;
});
after(async () => node?.stop());

const revoked = (accessToken: string) => {
  const at = decodeJwt(accessToken) as { jti: string; client_id: string; iat: number; sub: string };
  return node.services.revocations.check(at.jti, at.client_id, at.iat * 1000, at.sub);
};

test('account page: lists this browser session and others, with CSP frame-ancestors none; ending another session revokes its tokens only', async () => {
  await node.services.identity.users.add({ email: 'acct@example.test', password: PASSWORD }, 'test');
  const one = await signIn(node, app, AUD, 'acct@example.test', PASSWORD);
  const two = await signIn(node, app, AUD, 'acct@example.test', PASSWORD);
  const page = await one.browser.request(account);
  assert.equal(page.status, 200, page.body.slice(0, 300));
  assert.match(page.headers.get('content-security-policy') ?? '', /frame-ancestors 'none'/);
  assert.equal(page.headers.get('x-frame-options'), 'DENY');
  assert.match(page.body, /acct@example\.test/);
  assert.equal((page.body.match(/name="session"/g) ?? []).length, 2);
  assert.match(page.body, /\(this browser\)/);
  // the other browser's session: the row without "(this browser)"
  const rows = [...page.body.matchAll(/<tr><td>([^<]*(?:<strong>\(this browser\)<\/strong>)?)<\/td>.*?name="session" value="([^"]+)"/g)];
  const other = rows.find((r) => !r[1]!.includes('this browser'))![2]!;
  const r = await one.browser.request(actionOf(page.body, 'sessions/end', node.urls.identity!), { form: { csrf: csrfOf(page.body), session: other } });
  assert.equal(r.status, 200, r.body.slice(0, 300));
  assert.match(r.body, /The session has ended/);
  assert.equal(revoked(two.tokens.access_token), 'token.revoked');
  assert.equal(revoked(one.tokens.access_token), undefined);
  assert.equal((await two.browser.request(account)).status, 401, 'the ended browser is signed out');
});

test('attack: CSRF on the account forms (no token, a wrong token) is refused with 403 and changes nothing', async () => {
  await node.services.identity.users.add({ email: 'csrf@example.test', password: PASSWORD }, 'test');
  const { browser, tokens } = await signIn(node, app, AUD, 'csrf@example.test', PASSWORD);
  const page = await browser.request(account);
  for (const csrf of [undefined, 'x'.repeat(32)]) {
    const r = await browser.request(`${account}/sessions/end-all`, { form: csrf ? { csrf } : {} });
    assert.equal(r.status, 403);
    assert.match(r.body, /anti-CSRF/);
  }
  assert.equal(revoked(tokens.access_token), undefined);
  const ok = await browser.request(`${account}/sessions/end-all`, { form: { csrf: csrfOf(page.body) } });
  assert.equal(ok.status, 200);
  assert.equal(revoked(tokens.access_token), 'token.revoked');
});

test('attack: a password-only session cannot remove a second factor; a session signed in with TOTP can', async () => {
  const u = await node.services.identity.users.add({ email: 'factors@example.test', password: PASSWORD }, 'test');
  const secret = await enrolTotp(node, u.id);
  const totp = node.services.identity.factors.find((f) => f.id === 'totp')!;
  // a password-only session of the same user (e.g. from before the factor was added)
  const pwdBrowser = new Browser();
  await node.services.identity.users.add({ email: 'factors2@example.test', password: PASSWORD }, 'test');
  const weak = await signIn(node, app, AUD, 'factors2@example.test', PASSWORD, { browser: pwdBrowser });
  const u2 = decodeJwt(weak.tokens.access_token).sub!;
  const secret2 = await enrolTotp(node, u2);
  assert.ok(secret2);
  const weakPage = await pwdBrowser.request(account);
  const refused = await pwdBrowser.request(`${account}/factors/remove`, { form: { 'current-password': PASSWORD, csrf: csrfOf(weakPage.body), factor: 'totp' } });
  assert.equal(refused.status, 403);
  assert.equal(await totp.isEnrolled(u2), true);

  const strong = await signIn(node, app, AUD, 'factors@example.test', PASSWORD, { totpSecret: secret });
  const page = await strong.browser.request(account);
  assert.match(page.body, /Authenticator app \(TOTP\)/);
  const r = await strong.browser.request(`${account}/factors/remove`, { form: { 'current-password': PASSWORD, csrf: csrfOf(page.body), factor: 'totp' } });
  assert.equal(r.status, 200, r.body.slice(0, 300));
  assert.equal(await totp.isEnrolled(u.id), false);
});

test('attack: a user for whom MFA is required cannot remove their last second factor (409 mfa.last-factor): the password alone would then enrol a new one', async () => {
  const u = await node.services.identity.users.add({ email: 'last-factor@example.test', password: PASSWORD, mfaRequired: true }, 'test');
  const secret = await enrolTotp(node, u.id);
  const totp = node.services.identity.factors.find((f) => f.id === 'totp')!;
  const strong = await signIn(node, app, AUD, 'last-factor@example.test', PASSWORD, { totpSecret: secret });
  const page = await strong.browser.request(account);
  const r = await strong.browser.request(`${account}/factors/remove`, { form: { 'current-password': PASSWORD, csrf: csrfOf(page.body), factor: 'totp' } });
  assert.equal(r.status, 409, r.body.slice(0, 300));
  assert.match(r.body, /MFA is required for your account/);
  assert.equal(await totp.isEnrolled(u.id), true);
  // with MFA no longer required for the user, the same removal goes through
  await node.services.identity.users.setMfaRequired(u.id, false, 'test');
  const ok = await strong.browser.request(`${account}/factors/remove`, { form: { 'current-password': PASSWORD, csrf: csrfOf(page.body), factor: 'totp' } });
  assert.equal(ok.status, 200, ok.body.slice(0, 300));
  assert.equal(await totp.isEnrolled(u.id), false);
});

test('the last usable factor stays even beside a confirmed enrolment of a factor no longer offered (409 mfa.last-factor), which would not let the user sign in', async () => {
  const u = await node.services.identity.users.add({ email: 'last-usable@example.test', password: PASSWORD, mfaRequired: true }, 'test');
  const secret = await enrolTotp(node, u.id);
  const offered = node.services.identity.factors.map((f) => f.id);
  const gone = offered.includes('sms') ? 'email' : 'sms';
  await node.services.store.putEnrollment({ userId: u.id, factorId: gone, status: 'confirmed', data: { address: gone === 'sms' ? '+15551234567' : 'old@example.test' }, createdAt: Date.now(), confirmedAt: Date.now() });
  const strong = await signIn(node, app, AUD, 'last-usable@example.test', PASSWORD, { totpSecret: secret });
  const page = await strong.browser.request(account);
  const r = await strong.browser.request(`${account}/factors/remove`, { form: { 'current-password': PASSWORD, csrf: csrfOf(page.body), factor: 'totp' } });
  assert.equal(r.status, 409, r.body.slice(0, 300));
});

test('attack: each refusal of a password-only session to change second factors (remove, add, renew recovery codes) is audited (account.reauthentication-required, need second-factor)', async () => {
  const u = await node.services.identity.users.add({ email: 'refused-audit@example.test', password: PASSWORD }, 'test');
  const weak = await signIn(node, app, AUD, 'refused-audit@example.test', PASSWORD);
  await enrolTotp(node, u.id);
  const page = await weak.browser.request(account);
  for (const [action, form] of [
    ['factors/remove', { factor: 'totp' }],
    ['factors/enroll', { factor: 'email', address: 'planted@example.test' }],
    ['factors/recovery-codes', {}],
  ] as const) {
    const r = await weak.browser.request(`${account}/${action}`, { form: { csrf: csrfOf(page.body), ...form } });
    assert.equal(r.status, 403, `${action}: ${r.body.slice(0, 200)}`);
    assert.match(r.body, /data-code="account\.reauthentication-required"/);
  }
  await node.services.audit.flush();
  const refused = (await node.services.store.tailAudit(50)).filter((e) => e.type === 'user.factor-change-refused' && (e.data as { userId?: string }).userId === u.id);
  assert.deepEqual(refused.map((e) => [(e.data as { action?: string }).action, e.reason, (e.data as { need?: string }).need]).sort(), [
    ['factors/enroll', 'account.reauthentication-required', 'second-factor'],
    ['factors/recovery-codes', 'account.reauthentication-required', 'second-factor'],
    ['factors/remove', 'account.reauthentication-required', 'second-factor'],
  ]);
});

test('account page without a signed-in session: 401 user.not-signed-in', async () => {
  const r = await new Browser().request(account);
  assert.equal(r.status, 401);
  assert.match(r.body, /not signed in/);
});

test('a second user signs in in the same browser after the first (prompt=login): the tokens are the second user’s', async () => {
  const a = await node.services.identity.users.add({ email: 'first@example.test', password: PASSWORD }, 'test');
  const b = await node.services.identity.users.add({ email: 'second@example.test', password: PASSWORD }, 'test');
  const first = await signIn(node, app, AUD, 'first@example.test', PASSWORD);
  assert.equal(decodeJwt(first.tokens.access_token).sub, a.id);
  const second = await signIn(node, app, AUD, 'second@example.test', PASSWORD, { browser: first.browser });
  assert.equal(decodeJwt(second.tokens.access_token).sub, b.id);
  assert.equal(second.tokens.claims()!.sub, b.id);
});

test('attack: an app registered only for sign-in cannot use the client_credentials grant (oauth.unauthorized-client)', async () => {
  const { app: signInOnly, clientSecret } = await node.services.apps.create({ name: 'web-only', audiences: [AUD], scopes: [], redirectUris: ['http://127.0.0.1:9/x'], grantTypes: ['authorization_code', 'refresh_token'] }, 'test');
  const res = await fetch(`${node.urls.identity}/oauth2/token`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded', authorization: `Basic ${Buffer.from(`${signInOnly.clientId}:${clientSecret}`).toString('base64')}` },
    body: 'grant_type=client_credentials',
  });
  assert.equal(res.status, 400);
  assert.equal(((await res.json()) as { error: string }).error, 'unauthorized_client');
});
