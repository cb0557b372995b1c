/**
 * An account with recovery codes alone (its only factor removed on the account page used
 * to leave them) signs in with the password alone, as the sign-in asks for no second step
 * without a second factor (factor-inventory.ts `hasSecondFactor`). The account page must
 * judge "has a factor" the same way: when it counted the codes, every change asked for a
 * sign-in "with your second factor" that no sign-in can give, and the user could never
 * protect the account again without an administrator. Removing the last second factor
 * now voids the codes too, so an old set cannot come back to life with the next factor.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { actionOf, csrfOf, type Browser } from '../support/oidc-harness.js';
import { enrolTotp, registerOidcApp, signIn, startOidcNode, totpCode, type OidcApp } from '../support/oidc-node.js';
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

const errorCodeOf = (html: string) => /<p role="alert" id="error" data-code="([^"]+)"/.exec(html)?.[1];

async function submit(browser: Browser, html: string, action: string, fields: Record<string, string>) {
  return browser.request(actionOf(html, action, node.urls.identity!), { form: { csrf: csrfOf(html), ...fields } });
}

const factor = (id: string) => node.services.identity.factors.find((f) => f.id === id)!;

test('a user with recovery codes but no second factor signs in with the password and can set up a factor; the page offers no impossible sign-in', async () => {
  const u = await node.services.identity.users.add({ email: 'codes-left@example.test', password: PASSWORD }, 'test');
  await factor('recovery-code').enroll({ userId: u.id });
  const totp = factor('totp');

  // the sign-in asks for the password alone: there is no second factor to ask for
  const weak = await signIn(node, app, AUD, 'codes-left@example.test', PASSWORD);
  const page = await weak.browser.request(account);
  assert.doesNotMatch(page.body, /needs a sign-in with your second factor/, 'no sign-in could satisfy that');
  assert.doesNotMatch(page.body, /Generate new recovery codes/, 'no recovery codes without a factor');
  const started = await submit(weak.browser, page.body, 'factors/enroll', { 'current-password': PASSWORD, factor: 'totp' });
  assert.equal(errorCodeOf(started.body), undefined, started.body.slice(0, 400));
  assert.equal(started.status, 200);
  const seed = /id="totp-secret">([A-Z2-7]+)</.exec(started.body)![1]!;
  const ok = await submit(weak.browser, started.body, 'factors/confirm', { factor: 'totp', code: totpCode(seed) });
  assert.equal(ok.status, 200, ok.body.slice(0, 300));
  assert.equal(await totp.isEnrolled(u.id), true);
});

test('removing the last second factor voids the recovery codes (audited); the next factor comes with a new set', async () => {
  const u = await node.services.identity.users.add({ email: 'last-factor@example.test', password: PASSWORD }, 'test');
  const secret = await enrolTotp(node, u.id);
  const rc = factor('recovery-code');
  await rc.enroll({ userId: u.id });
  const strong = await signIn(node, app, AUD, 'last-factor@example.test', PASSWORD, { totpSecret: secret });
  let page = await strong.browser.request(account);
  const removed = await submit(strong.browser, page.body, 'factors/remove', { 'current-password': PASSWORD, factor: 'totp' });
  assert.equal(removed.status, 200, removed.body.slice(0, 300));
  assert.equal(await factor('totp').isEnrolled(u.id), false);
  assert.equal(await rc.isEnrolled(u.id), false, 'the codes went with the last factor');
  await node.services.audit.flush();
  const ev = (await node.services.store.tailAudit(50)).find((e) => e.type === 'user.factor-removed' && (e.data as { userId?: string }).userId === u.id);
  assert.deepEqual(ev?.data, { userId: u.id, factor: 'totp', recoveryCodesRemoved: true });

  page = await strong.browser.request(account);
  const started = await submit(strong.browser, page.body, 'factors/enroll', { 'current-password': PASSWORD, factor: 'totp' });
  assert.equal(started.status, 200, started.body.slice(0, 300));
  const seed = /id="totp-secret">([A-Z2-7]+)</.exec(started.body)![1]!;
  const ok = await submit(strong.browser, started.body, 'factors/confirm', { factor: 'totp', code: totpCode(seed, Date.now() + 30_000) });
  assert.equal(ok.status, 200, ok.body.slice(0, 300));
  assert.match(ok.body, /Save your recovery codes/);
});

test('a second factor that stays keeps the recovery codes', async () => {
  const u = await node.services.identity.users.add({ email: 'two-factors@example.test', password: PASSWORD }, 'test');
  const secret = await enrolTotp(node, u.id);
  const rc = factor('recovery-code');
  await rc.enroll({ userId: u.id });
  await node.services.store.addWebAuthnCredential({ id: 'a2V5LW9uZQ', userId: u.id, name: 'Key', publicKey: 'AA', counter: 0, transports: [], backedUp: false, deviceType: 'singleDevice', createdAt: Date.now(), lastUsedAt: null, suspendedAt: null });
  const strong = await signIn(node, app, AUD, 'two-factors@example.test', PASSWORD, { totpSecret: secret });
  const page = await strong.browser.request(account);
  const removed = await submit(strong.browser, page.body, 'factors/remove', { 'current-password': PASSWORD, factor: 'totp' });
  assert.equal(removed.status, 200, removed.body.slice(0, 300));
  assert.equal(await rc.isEnrolled(u.id), true);
  assert.match(removed.body, /Generate new recovery codes/, 'a passkey is a second factor the codes stand in for');
});
