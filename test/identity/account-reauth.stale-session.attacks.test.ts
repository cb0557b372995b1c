/**
 * Re-authentication for the account page's sensitive changes (NIST SP 800-63B §7.2, OWASP
 * re-authentication): on a whole node whose clock the test moves forward, a browser
 * session older than `identity.account.reauthenticateAfter` (10 minutes by default) can
 * neither plant a passkey or an authenticator app, remove a factor nor renew recovery
 * codes (403 `account.reauthentication-required`, audited, nothing changed); the page's
 * "sign in again" link runs the sign-in again (prompt=login) and comes back to the
 * account page, after which the same change goes through. A user's only TOTP is removed
 * only after a recent sign-in that used it. The way back is fixed, never a parameter.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import type { Clock } from '../../src/core/clock.js';
import { validateConfig } from '../../src/core/config/load.js';
import { PortcullisError } from '../../src/core/errors.js';
import { Browser, actionOf, csrfOf } from '../support/oidc-harness.js';
import { enrolTotp, post, REDIRECT, registerOidcApp, signIn, startOidcNode, totpCode, type OidcApp } from '../support/oidc-node.js';
import type { TestNode } from '../support/portcullis.js';
import { SoftAuthenticator } from './soft-authenticator.js';

const AUD = 'https://api.example.test';
const PASSWORD = 'plum tractor velvet orbit';
const CODE = 'account.reauthentication-required';
const WINDOW_MS = 10 * 60_000;

/** The wall clock moved forward by hand: the node's every time check reads it. */
class MovedClock implements Clock {
  private shift = 0;
  now(): number {
    return Date.now() + this.shift;
  }
  advance(ms: number): void {
    this.shift += ms;
  }
}

const clock = new MovedClock();
let node: TestNode;
let app: OidcApp;
let issuer: string;
let account: string;

before(async () => {
  node = await startOidcNode('', { clock });
  app = await registerOidcApp(node, AUD);
  issuer = node.urls.identity!;
  account = `${issuer}/account`;
});
after(async () => node?.stop());

const newKey = () => new SoftAuthenticator(new URL(issuer).origin, new URL(issuer).hostname);
const dataCsrf = (html: string) => /data-csrf="([^"]+)"/.exec(html)![1]!;
const errorCodeOf = (html: string) => /<p role="alert" id="error" data-code="([^"]+)"/.exec(html)?.[1];

/** What the page script does for "Add a passkey". */
async function addPasskey(browser: Browser, key: SoftAuthenticator, name: string) {
  const page = await browser.request(account);
  assert.equal(page.status, 200, page.body.slice(0, 300));
  const csrf = dataCsrf(page.body);
  const opts = await browser.request(`${account}/webauthn/register-options`, { form: { 'current-password': PASSWORD, csrf } });
  if (opts.status !== 200) return { status: opts.status, body: JSON.parse(opts.body) as Record<string, unknown> };
  const r = await browser.request(`${account}/webauthn/register`, { form: { csrf, name, response: key.register(JSON.parse(opts.body) as { challenge: string }) } });
  return { status: r.status, body: JSON.parse(r.body) as Record<string, unknown> };
}

/** Follows the account page's "sign in again" link through the sign-in pages back to the account page. */
async function signInAgain(browser: Browser, html: string, email: string, totpSecret?: string) {
  const href = /<a id="sign-in-again" href="([^"]+)"/.exec(html)?.[1];
  assert.ok(href, 'the page offers to sign in again');
  let r = await browser.follow(new URL(href.replace(/&amp;/g, '&'), issuer).toString(), issuer);
  assert.match(r.body, /<h1>Sign in<\/h1>/, `${r.status} ${r.body.slice(0, 300)}`);
  r = await post(browser, issuer, r.body, 'login', { email, password: PASSWORD });
  if (totpSecret) {
    assert.match(r.body, /Second step/, r.body.slice(0, 300));
    r = await post(browser, issuer, r.body, 'mfa', { factor: 'totp', code: totpCode(totpSecret, clock.now() + 30_000) });
  }
  assert.ok(r.location?.startsWith(issuer), `${r.status} ${r.location} ${r.body.slice(0, 300)}`);
  r = await browser.follow(r.location!, issuer);
  assert.equal(new URL(r.url).pathname, '/account', 'back on the account page');
  assert.equal(r.status, 200, r.body.slice(0, 300));
  assert.match(r.body, new RegExp(`Signed in as <strong id="account-email">${email.replace('.', '\\.')}`));
  return r;
}

async function refusals(userId: string) {
  await node.services.audit.flush();
  return (await node.services.store.tailAudit(200))
    .filter((e) => e.type === 'user.factor-change-refused' && (e.data as { userId?: string }).userId === userId)
    .sort((a, b) => a.seq - b.seq)
    .map((e) => ({ action: (e.data as { action?: string }).action, reason: e.reason, need: (e.data as { need?: string }).need }));
}

test('attack: a stolen session older than the window cannot plant a passkey (403 account.reauthentication-required, audited, nothing stored); after signing in again it can', async () => {
  const u = await node.services.identity.users.add({ email: 'plant-key@example.test', password: PASSWORD }, 'test');
  const secret = await enrolTotp(node, u.id, clock.now());
  const { browser } = await signIn(node, app, AUD, 'plant-key@example.test', PASSWORD, { totpSecret: secret, nowMs: clock.now() });
  // a fresh sign-in with the second factor adds a key
  const fresh = await addPasskey(browser, newKey(), 'Laptop');
  assert.equal(fresh.status, 200, JSON.stringify(fresh.body));

  clock.advance(WINDOW_MS + 1000);
  const stale = await addPasskey(browser, newKey(), 'Attacker key');
  assert.equal(stale.status, 403);
  assert.equal(stale.body['code'], CODE);
  assert.equal((await node.services.store.listWebAuthnCredentials(u.id)).length, 1, 'nothing stored');
  assert.deepEqual(await refusals(u.id), [{ action: 'webauthn/register-options', reason: CODE, need: 'recent-sign-in' }]);

  const page = await browser.request(account);
  const back = await signInAgain(browser, page.body, 'plant-key@example.test', secret);
  assert.equal(errorCodeOf(back.body), undefined);
  const again = await addPasskey(browser, newKey(), 'Phone');
  assert.equal(again.status, 200, JSON.stringify(again.body));
  assert.equal((await node.services.store.listWebAuthnCredentials(u.id)).length, 2);
});

test('attack: a passkey registration begun in the window and finished after it is refused at the finish', async () => {
  const u = await node.services.identity.users.add({ email: 'slow-key@example.test', password: PASSWORD }, 'test');
  const { browser } = await signIn(node, app, AUD, 'slow-key@example.test', PASSWORD);
  const page = await browser.request(account);
  const csrf = dataCsrf(page.body);
  const opts = await browser.request(`${account}/webauthn/register-options`, { form: { 'current-password': PASSWORD, csrf } });
  assert.equal(opts.status, 200, opts.body);
  clock.advance(WINDOW_MS + 1000);
  const r = await browser.request(`${account}/webauthn/register`, { form: { csrf, name: 'Late', response: newKey().register(JSON.parse(opts.body) as { challenge: string }) } });
  assert.equal(r.status, 403);
  assert.equal((JSON.parse(r.body) as { code?: string }).code, CODE);
  assert.equal((await node.services.store.listWebAuthnCredentials(u.id)).length, 0);
});

test('a user with no factor adds an authenticator app from a recent sign-in; past the window the same is refused with a way to sign in again, which then works', async () => {
  const u = await node.services.identity.users.add({ email: 'first-totp@example.test', password: PASSWORD }, 'test');
  const { browser } = await signIn(node, app, AUD, 'first-totp@example.test', PASSWORD);
  const totp = node.services.identity.factors.find((f) => f.id === 'totp')!;
  let page = await browser.request(account);
  assert.doesNotMatch(page.body, /id="sign-in-again"/, 'a recent sign-in needs no new one');
  const started = await browser.request(actionOf(page.body, 'factors/enroll', issuer), { form: { 'current-password': PASSWORD, csrf: csrfOf(page.body), factor: 'totp' } });
  assert.equal(started.status, 200, started.body.slice(0, 300));
  assert.match(started.body, /id="totp-secret"/);

  clock.advance(WINDOW_MS + 1000);
  const seed = /id="totp-secret">([A-Z2-7]+)</.exec(started.body)![1]!;
  const late = await browser.request(actionOf(started.body, 'factors/confirm', issuer), { form: { csrf: csrfOf(started.body), factor: 'totp', code: totpCode(seed, clock.now()) } });
  assert.equal(late.status, 403, late.body.slice(0, 300));
  assert.equal(errorCodeOf(late.body), CODE);
  assert.equal(await totp.isEnrolled(u.id), false, 'not confirmed');
  page = await browser.request(account);
  const refused = await browser.request(actionOf(page.body, 'factors/enroll', issuer), { form: { 'current-password': PASSWORD, csrf: csrfOf(page.body), factor: 'totp' } });
  assert.equal(refused.status, 403);
  assert.equal(errorCodeOf(refused.body), CODE);
  assert.match(refused.body, /<a id="sign-in-again" href="\/oauth2\/authorize\?/);
  assert.deepEqual(await refusals(u.id), [
    { action: 'factors/confirm', reason: CODE, need: 'recent-sign-in' },
    { action: 'factors/enroll', reason: CODE, need: 'recent-sign-in' },
  ]);

  page = await signInAgain(browser, refused.body, 'first-totp@example.test');
  const again = await browser.request(actionOf(page.body, 'factors/enroll', issuer), { form: { 'current-password': PASSWORD, csrf: csrfOf(page.body), factor: 'totp' } });
  assert.equal(again.status, 200, again.body.slice(0, 300));
  const seed2 = /id="totp-secret">([A-Z2-7]+)</.exec(again.body)![1]!;
  const ok = await browser.request(actionOf(again.body, 'factors/confirm', issuer), { form: { csrf: csrfOf(again.body), factor: 'totp', code: totpCode(seed2, clock.now()) } });
  assert.equal(ok.status, 200, ok.body.slice(0, 300));
  assert.equal(await totp.isEnrolled(u.id), true);
});

test("attack: removing the user's only TOTP needs a recent sign-in that used it: a recent password-only one and an old one with TOTP are refused", async () => {
  const u = await node.services.identity.users.add({ email: 'only-totp@example.test', password: PASSWORD }, 'test');
  // a password-only session from before the factor was added (or a sign-in that skipped it)
  const weak = await signIn(node, app, AUD, 'only-totp@example.test', PASSWORD);
  const secret = await enrolTotp(node, u.id, clock.now());
  const totp = node.services.identity.factors.find((f) => f.id === 'totp')!;
  let page = await weak.browser.request(account);
  assert.match(page.body, /id="sign-in-again"/, 'the page says a sign-in with the second factor is needed');
  const r1 = await weak.browser.request(actionOf(page.body, 'factors/remove', issuer), { form: { 'current-password': PASSWORD, csrf: csrfOf(page.body), factor: 'totp' } });
  assert.equal(r1.status, 403);
  assert.equal(errorCodeOf(r1.body), CODE);
  assert.equal(await totp.isEnrolled(u.id), true);

  const strong = await signIn(node, app, AUD, 'only-totp@example.test', PASSWORD, { totpSecret: secret, nowMs: clock.now() });
  clock.advance(WINDOW_MS + 1000);
  page = await strong.browser.request(account);
  const r2 = await strong.browser.request(actionOf(page.body, 'factors/remove', issuer), { form: { 'current-password': PASSWORD, csrf: csrfOf(page.body), factor: 'totp' } });
  assert.equal(r2.status, 403);
  assert.equal(errorCodeOf(r2.body), CODE);
  const rc = await strong.browser.request(actionOf(page.body, 'factors/recovery-codes', issuer), { form: { 'current-password': PASSWORD, csrf: csrfOf(page.body) } });
  assert.equal(rc.status, 403, 'renewing recovery codes too');
  assert.equal(errorCodeOf(rc.body), CODE);
  assert.equal(await totp.isEnrolled(u.id), true);
  assert.deepEqual(await refusals(u.id), [
    { action: 'factors/remove', reason: CODE, need: 'second-factor' },
    { action: 'factors/remove', reason: CODE, need: 'recent-sign-in' },
    { action: 'factors/recovery-codes', reason: CODE, need: 'recent-sign-in' },
  ]);

  // signing in again with the password and TOTP, in the weak browser too
  page = await signInAgain(weak.browser, r1.body, 'only-totp@example.test', secret);
  const ok = await weak.browser.request(actionOf(page.body, 'factors/remove', issuer), { form: { 'current-password': PASSWORD, csrf: csrfOf(page.body), factor: 'totp' } });
  assert.equal(ok.status, 200, ok.body.slice(0, 300));
  assert.equal(await totp.isEnrolled(u.id), false);
});

test('ending sessions needs no recent sign-in: it only takes access away', async () => {
  await node.services.identity.users.add({ email: 'end-old@example.test', password: PASSWORD }, 'test');
  const { browser } = await signIn(node, app, AUD, 'end-old@example.test', PASSWORD);
  clock.advance(WINDOW_MS + 1000);
  const page = await browser.request(account);
  const r = await browser.request(`${account}/sessions/end-all`, { form: { csrf: csrfOf(page.body) } });
  assert.equal(r.status, 200, r.body.slice(0, 300));
});

test('attack: the way back from signing in again is fixed: the callback ignores parameters, and the account sign-in takes no other redirect_uri', async () => {
  const cb = await new Browser().request(`${account}/signed-in?redirect_uri=https://evil.example/&state=x&next=https://evil.example/`);
  assert.equal(cb.status, 303);
  assert.equal(cb.location, `${issuer}/account`);
  await node.services.identity.users.add({ email: 'redirect@example.test', password: PASSWORD }, 'test');
  const { browser } = await signIn(node, app, AUD, 'redirect@example.test', PASSWORD);
  clock.advance(WINDOW_MS + 1000);
  const page = await browser.request(account);
  const href = new URL(/<a id="sign-in-again" href="([^"]+)"/.exec(page.body)![1]!.replace(/&amp;/g, '&'), issuer);
  assert.equal(href.searchParams.get('redirect_uri'), `${issuer}/account/signed-in`);
  assert.equal(href.searchParams.get('prompt'), 'login');
  href.searchParams.set('redirect_uri', 'https://evil.example/cb');
  const evil = await browser.request(href.toString());
  assert.notEqual(evil.status, 303);
  assert.ok(!evil.location?.startsWith('https://evil.example'), `${evil.status} ${evil.location}`);
  assert.match(evil.body, /redirect_uri/);
  // response type `none` is the account page's alone: an app asking for it gets no answer but an error
  const q = new URLSearchParams({ client_id: app.clientId, response_type: 'none', scope: 'openid', redirect_uri: REDIRECT, prompt: 'login' });
  const appNone = await browser.request(`${issuer}/oauth2/authorize?${q.toString()}`);
  assert.match(appNone.location ?? '', /[?&]error=invalid_request&error_description=requested\+response_type\+is\+not\+allowed/, `${appNone.status} ${appNone.location} ${appNone.body.slice(0, 200)}`);
});

test('config: identity.account.reauthenticateAfter is 10 minutes by default, 1 minute to 12 hours', () => {
  assert.equal(validateConfig({}).identity.account.reauthenticateAfter, WINDOW_MS);
  assert.equal(validateConfig({ identity: { account: { reauthenticateAfter: '5m' } } }).identity.account.reauthenticateAfter, 5 * 60_000);
  for (const bad of ['30s', '13h', 'soon']) {
    assert.throws(
      () => validateConfig({ identity: { account: { reauthenticateAfter: bad } } }),
      (e: unknown) => e instanceof PortcullisError && e.code === 'config.invalid' && /identity\.account\.reauthenticateAfter: /.test(e.message),
    );
  }
});
