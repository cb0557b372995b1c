/**
 * Second factors set up from the account page of a whole node (file outbox for e-mail
 * codes): a user whom no rule forces into MFA adds an authenticator app and e-mail
 * codes, gets recovery codes with the first factor, renews them later; the next
 * sign-in asks for the second step. Attacks: a password-only session adding a factor
 * or renewing recovery codes, a wrong confirmation code, CSRF.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { decodeJwt } from 'jose';
import { readOutbox } from '../../src/mfa/otp/senders/file-outbox.js';
import { actionOf, csrfOf, type Browser } from '../support/oidc-harness.js';
import { enrolTotp, registerOidcApp, signIn, startOidcNode, totpCode, type OidcApp } from '../support/oidc-node.js';
import type { TestNode } from '../support/portcullis.js';

const AUD = 'https://api.example.test';
const PASSWORD = 'plum tractor velvet orbit';
let node: TestNode;
let app: OidcApp;
let account: string;

before(async () => {
  node = await startOidcNode('identity: { otp: { channel: email, sender: file } }');
  app = await registerOidcApp(node, AUD);
  account = `${node.urls.identity}/account`;
});
after(async () => node?.stop());

async function submit(browser: Browser, html: string, action: string, fields: Record<string, string>) {
  return browser.request(actionOf(html, action, node.urls.identity!), { form: { csrf: csrfOf(html), ...fields } });
}

const recoveryCodesOf = (html: string) => [...html.matchAll(/<li><code>([^<]+)<\/code><\/li>/g)].map((m) => m[1]!);

test('account page: a user adds an authenticator app (recovery codes come with the first factor), then e-mail codes; the next sign-in asks for the second step', async () => {
  const u = await node.services.identity.users.add({ email: 'self@example.test', password: PASSWORD }, 'test');
  const { browser } = await signIn(node, app, AUD, 'self@example.test', PASSWORD);
  let page = await browser.request(account);
  assert.match(page.body, /No second factor is set up/);
  assert.match(page.body, /Authenticator app \(TOTP\)/);
  assert.doesNotMatch(page.body, /Generate new recovery codes/, 'no recovery codes without a factor');

  const started = await submit(browser, page.body, 'factors/enroll', { 'current-password': PASSWORD, factor: 'totp' });
  assert.equal(started.status, 200, started.body.slice(0, 300));
  assert.match(started.body, /<svg/);
  const seed = /id="totp-secret">([A-Z2-7]+)</.exec(started.body)![1]!;
  assert.match(started.body, /otpauth:\/\/totp\//);
  // attack: a wrong code does not confirm (and counts against the account).
  const wrongCode = totpCode(seed) === '000000' ? '000001' : '000000';
  const wrong = await submit(browser, started.body, 'factors/confirm', { factor: 'totp', code: wrongCode });
  assert.equal(wrong.status, 401);
  assert.match(wrong.body, /<p role="alert" id="error" data-code="mfa\.invalid-code">/, 'the page names the typed error');
  assert.equal((await node.services.identity.lockout.state('account', u.id)).failures, 1);
  const confirmed = await submit(browser, started.body, 'factors/confirm', { factor: 'totp', code: totpCode(seed, Date.now() - 30_000) });
  assert.equal(confirmed.status, 200, confirmed.body.slice(0, 300));
  assert.match(confirmed.body, /Save your recovery codes/);
  const codes = recoveryCodesOf(confirmed.body);
  assert.equal(codes.length, 10);

  page = await browser.request(account);
  assert.match(page.body, /<td>Authenticator app \(TOTP\)<\/td>/);
  // the row names the factor and how many of the fresh set are left
  assert.match(page.body, /<td>Recovery codes <span id="recovery-codes-left">10 of 10 recovery codes left<\/span><\/td>/);
  // E-mail codes, from the same session (the account had no factor when it signed in, and
  // now has one: adding another needs a second-factor session, so sign in again with TOTP).
  const refused = await submit(browser, page.body, 'factors/enroll', { 'current-password': PASSWORD, factor: 'email', address: 'self@example.test' });
  assert.equal(refused.status, 403);
  const strong = await signIn(node, app, AUD, 'self@example.test', PASSWORD, { totpSecret: seed });
  assert.deepEqual(decodeJwt(strong.tokens.access_token)['amr'], ['pwd', 'otp']);
  page = await strong.browser.request(account);
  const sent = await submit(strong.browser, page.body, 'factors/enroll', { 'current-password': PASSWORD, factor: 'email', address: 'self@example.test' });
  assert.match(sent.body, /A code was sent to s\*\*\*@example\.test/);
  const code = (await readOutbox(join(node.dir, 'otp-outbox.jsonl'))).findLast((m) => m.to === 'self@example.test')!.code;
  const ok = await submit(strong.browser, sent.body, 'factors/confirm', { factor: 'email', code });
  assert.equal(ok.status, 200);
  assert.match(ok.body, /The second factor is set up/, 'recovery codes already exist: not shown again');
  assert.deepEqual((await node.services.identity.users.view(u)).factors.sort(), ['email', 'recovery-code', 'totp']);
  // The first recovery code still works (the set was not replaced).
  await node.services.identity.factors.find((f) => f.id === 'recovery-code')!.verify({ userId: u.id }, codes[0]!);
});

test('recovery codes renewed from an MFA session: the old set stops working; attack: a password-only session cannot renew them or add a factor', async () => {
  const u = await node.services.identity.users.add({ email: 'renew@example.test', password: PASSWORD }, 'test');
  const weak = await signIn(node, app, AUD, 'renew@example.test', PASSWORD);
  const seed = await enrolTotp(node, u.id);
  const rc = node.services.identity.factors.find((f) => f.id === 'recovery-code')!;
  const old = (await rc.enroll({ userId: u.id })).codes!;

  let page = await weak.browser.request(account);
  assert.equal((await submit(weak.browser, page.body, 'factors/recovery-codes', { 'current-password': PASSWORD })).status, 403);
  assert.equal((await submit(weak.browser, page.body, 'factors/enroll', { 'current-password': PASSWORD, factor: 'email', address: 'attacker@example.test' })).status, 403);
  assert.deepEqual((await node.services.identity.users.view(u)).factors.sort(), ['recovery-code', 'totp']);

  const strong = await signIn(node, app, AUD, 'renew@example.test', PASSWORD, { totpSecret: seed });
  page = await strong.browser.request(account);
  const renewed = await submit(strong.browser, page.body, 'factors/recovery-codes', { 'current-password': PASSWORD });
  assert.equal(renewed.status, 200);
  const fresh = recoveryCodesOf(renewed.body);
  assert.equal(fresh.length, 10);
  await assert.rejects(rc.verify({ userId: u.id }, old[0]!), (e: { code?: string }) => e.code === 'mfa.invalid-code');
  await rc.verify({ userId: u.id }, fresh[0]!);
});

test('attack: CSRF on the factor forms of the account page is refused with 403', async () => {
  await node.services.identity.users.add({ email: 'csrf-factors@example.test', password: PASSWORD }, 'test');
  const { browser } = await signIn(node, app, AUD, 'csrf-factors@example.test', PASSWORD);
  for (const action of ['factors/enroll', 'factors/confirm', 'factors/recovery-codes']) {
    assert.equal((await browser.request(`${account}/${action}`, { form: { factor: 'totp' } })).status, 403, action);
    assert.equal((await browser.request(`${account}/${action}`, { form: { factor: 'totp', csrf: 'y'.repeat(32) } })).status, 403, action);
  }
});
