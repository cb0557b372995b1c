/**
 * A stolen session cookie alone changes no factor (OWASP ASVS V3.7.1: re-authentication
 * before a sensitive change): even within `identity.account.reauthenticateAfter`, another
 * client replaying the browser's cookies cannot set up an authenticator app, start a
 * passkey registration, remove a factor or renew recovery codes without the current
 * password in the same form (403 `account.password-required`; a wrong one is a failed
 * sign-in attempt of the account, 401 `auth.invalid-credentials`, then `auth.throttled`),
 * each refusal audited as `user.factor-change-refused` without what was typed. With the
 * password, the same changes go through.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { actionOf, csrfOf, type Browser } from '../support/oidc-harness.js';
import { enrolTotp, registerOidcApp, signIn, startOidcNode, totpCode, type OidcApp } from '../support/oidc-node.js';
import type { TestNode } from '../support/portcullis.js';
import { SoftAuthenticator } from './soft-authenticator.js';

const AUD = 'https://api.example.test';
const PASSWORD = 'plum tractor velvet orbit';
let node: TestNode;
let app: OidcApp;
let issuer: string;
let account: string;

before(async () => {
  node = await startOidcNode();
  app = await registerOidcApp(node, AUD);
  issuer = node.urls.identity!;
  account = `${issuer}/account`;
});
after(async () => node?.stop());

const errorCodeOf = (html: string) => /<p role="alert" id="error" data-code="([^"]+)"/.exec(html)?.[1];
const newKey = () => new SoftAuthenticator(new URL(issuer).origin, new URL(issuer).hostname);

async function submit(browser: Browser, action: string, fields: Record<string, string>) {
  const page = await browser.request(account);
  assert.equal(page.status, 200, page.body.slice(0, 300));
  return browser.request(actionOf(page.body, action, issuer), { form: { csrf: csrfOf(page.body), ...fields } });
}

async function addPasskey(browser: Browser, fields: Record<string, string>) {
  const page = await browser.request(account);
  const csrf = /data-csrf="([^"]+)"/.exec(page.body)![1]!;
  const opts = await browser.request(`${account}/webauthn/register-options`, { form: { csrf, ...fields } });
  if (opts.status !== 200) return { status: opts.status, body: JSON.parse(opts.body) as Record<string, unknown> };
  const r = await browser.request(`${account}/webauthn/register`, { form: { csrf, name: 'Key', response: newKey().register(JSON.parse(opts.body) as { challenge: string }) } });
  return { status: r.status, body: JSON.parse(r.body) as Record<string, unknown> };
}

async function refusals(userId: string) {
  await node.services.audit.flush();
  return (await node.services.store.tailAudit(300))
    .filter((e) => e.type === 'user.factor-change-refused' && (e.data as { userId?: string }).userId === userId)
    .sort((a, b) => a.seq - b.seq)
    .map((e) => ({ action: (e.data as { action?: string }).action, reason: e.reason }));
}

test('attack: a stolen cookie cannot set up an authenticator app without the password (403 account.password-required, a wrong one 401 auth.invalid-credentials and counted); with it, it can', async () => {
  const u = await node.services.identity.users.add({ email: 'stolen-totp@example.test', password: PASSWORD }, 'test');
  const { browser } = await signIn(node, app, AUD, 'stolen-totp@example.test', PASSWORD);
  const attacker = browser.copy();
  const totp = node.services.identity.factors.find((f) => f.id === 'totp')!;
  const page = await attacker.request(account);
  assert.equal(page.status, 200, 'the stolen cookie is a signed-in session');
  assert.match(page.body, /name="current-password" type="password" autocomplete="current-password"/);

  const none = await submit(attacker, 'factors/enroll', { factor: 'totp' });
  assert.equal(none.status, 403, none.body.slice(0, 300));
  assert.equal(errorCodeOf(none.body), 'account.password-required');
  assert.doesNotMatch(none.body, /id="totp-secret"/);
  const wrong = await submit(attacker, 'factors/enroll', { factor: 'totp', 'current-password': 'a guess at it' });
  assert.equal(wrong.status, 401);
  assert.equal(errorCodeOf(wrong.body), 'auth.invalid-credentials');
  assert.equal((await node.services.identity.lockout.state('account', u.id)).failures, 1);
  assert.equal(await totp.isEnrolled(u.id), false);
  assert.deepEqual(await refusals(u.id), [
    { action: 'factors/enroll', reason: 'account.password-required' },
    { action: 'factors/enroll', reason: 'auth.invalid-credentials' },
  ]);
  const trail = JSON.stringify(await node.services.store.tailAudit(300));
  assert.ok(!trail.includes('a guess at it'), 'what was typed is not recorded');

  const ok = await submit(browser, 'factors/enroll', { factor: 'totp', 'current-password': PASSWORD });
  assert.equal(ok.status, 200, ok.body.slice(0, 300));
  const seed = /id="totp-secret">([A-Z2-7]+)</.exec(ok.body)![1]!;
  const done = await browser.request(actionOf(ok.body, 'factors/confirm', issuer), { form: { csrf: csrfOf(ok.body), factor: 'totp', code: totpCode(seed) } });
  assert.equal(done.status, 200, done.body.slice(0, 300));
  assert.equal(await totp.isEnrolled(u.id), true);
  assert.equal((await node.services.identity.lockout.state('account', u.id)).failures, 0, 'the right password clears the failures');
});

test('attack: a stolen cookie cannot start a passkey registration without the password (JSON 403 account.password-required, nothing stored); with it, it can', async () => {
  const u = await node.services.identity.users.add({ email: 'stolen-key@example.test', password: PASSWORD }, 'test');
  const { browser } = await signIn(node, app, AUD, 'stolen-key@example.test', PASSWORD);
  const attacker = browser.copy();
  const none = await addPasskey(attacker, {});
  assert.equal(none.status, 403);
  assert.equal(none.body['code'], 'account.password-required');
  const wrong = await addPasskey(attacker, { 'current-password': 'not it' });
  assert.equal(wrong.status, 401);
  assert.equal(wrong.body['code'], 'auth.invalid-credentials');
  assert.equal((await node.services.store.listWebAuthnCredentials(u.id)).length, 0, 'nothing stored');
  const ok = await addPasskey(attacker, { 'current-password': PASSWORD });
  assert.equal(ok.status, 200, JSON.stringify(ok.body));
  assert.equal((await node.services.store.listWebAuthnCredentials(u.id)).length, 1);
});

test('attack: a stolen cookie of a session signed in with TOTP can neither remove the factor nor renew recovery codes without the password', async () => {
  const u = await node.services.identity.users.add({ email: 'stolen-strip@example.test', password: PASSWORD }, 'test');
  const secret = await enrolTotp(node, u.id);
  const { browser } = await signIn(node, app, AUD, 'stolen-strip@example.test', PASSWORD, { totpSecret: secret });
  const attacker = browser.copy();
  const totp = node.services.identity.factors.find((f) => f.id === 'totp')!;
  const rm = await submit(attacker, 'factors/remove', { factor: 'totp' });
  assert.equal(rm.status, 403, rm.body.slice(0, 300));
  assert.equal(errorCodeOf(rm.body), 'account.password-required');
  const rc = await submit(attacker, 'factors/recovery-codes', {});
  assert.equal(rc.status, 403);
  assert.equal(errorCodeOf(rc.body), 'account.password-required');
  assert.doesNotMatch(rc.body, /id="recovery-codes"/);
  assert.equal(await totp.isEnrolled(u.id), true);
  const codes = await submit(browser, 'factors/recovery-codes', { 'current-password': PASSWORD });
  assert.equal(codes.status, 200, codes.body.slice(0, 300));
  assert.match(codes.body, /id="recovery-codes"/);
  const ok = await submit(browser, 'factors/remove', { factor: 'totp', 'current-password': PASSWORD });
  assert.equal(ok.status, 200, ok.body.slice(0, 300));
  assert.equal(await totp.isEnrolled(u.id), false);
});
