/**
 * The account page's confirm step (`/account/factors/confirm`: the first code of a new
 * authenticator app, or of e-mail/SMS codes) went through the second-factor limits with the
 * account only: the client address was not passed, so a wrong code there was not counted
 * against it and an address past the per-IP cap (identity/lockout.ts) could go on guessing.
 * The sign-in's second step counts both; the account page now does too.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { DEFAULT_LOCKOUT_POLICY } from '../../src/identity/lockout.js';
import { actionOf, csrfOf, type Browser } from '../support/oidc-harness.js';
import { registerOidcApp, signIn, startOidcNode, totpCode, type OidcApp } from '../support/oidc-node.js';
import type { TestNode } from '../support/portcullis.js';

const AUD = 'https://api.example.test';
const PASSWORD = 'plum tractor velvet orbit';
let node: TestNode;
let app: OidcApp;

before(async () => {
  // the test client (127.0.0.1) is a trusted proxy: each request names its client in X-Forwarded-For
  node = await startOidcNode('gateway: { trustedProxies: [127.0.0.1] }');
  app = await registerOidcApp(node, AUD);
});
after(async () => node?.stop());

const errorCodeOf = (html: string) => /<p role="alert" id="error" data-code="([^"]+)"/.exec(html)?.[1];

/** Signs a new user in (no factor yet) and starts an authenticator-app enrolment on the account page. */
async function startTotpEnrolment(email: string): Promise<{ browser: Browser; confirmPage: string; seed: string; userId: string }> {
  const u = await node.services.identity.users.add({ email, password: PASSWORD }, 'test');
  const { browser } = await signIn(node, app, AUD, email, PASSWORD);
  const page = await browser.request(`${node.urls.identity}/account`);
  const started = await browser.request(actionOf(page.body, 'factors/enroll', node.urls.identity!), { form: { csrf: csrfOf(page.body), 'current-password': PASSWORD, factor: 'totp' } });
  assert.equal(started.status, 200, started.body.slice(0, 300));
  return { browser, confirmPage: started.body, seed: /id="totp-secret">([A-Z2-7]+)</.exec(started.body)![1]!, userId: u.id };
}

function confirm(e: { browser: Browser; confirmPage: string }, from: string, code: string) {
  return e.browser.request(actionOf(e.confirmPage, 'factors/confirm', node.urls.identity!), { headers: { 'x-forwarded-for': from }, form: { csrf: csrfOf(e.confirmPage), factor: 'totp', code } });
}

test('attack: a wrong code at the account confirm step counts against the client address as well as the account', async () => {
  const e = await startTotpEnrolment('counted@example.test');
  const wrong = await confirm(e, '203.0.113.10', totpCode(e.seed) === '000000' ? '000001' : '000000');
  assert.equal(wrong.status, 401, wrong.body.slice(0, 300));
  assert.equal(errorCodeOf(wrong.body), 'mfa.invalid-code');
  const lockout = node.services.identity.lockout;
  assert.equal((await lockout.state('account', e.userId)).failures, 1);
  assert.equal((await lockout.state('ip', '203.0.113.10')).failures, 1);
});

test('attack: an address at the per-IP cap is refused at the account confirm step with 429 auth.locked, even with the right code; another address confirms', async () => {
  const lockout = node.services.identity.lockout;
  // what this address's guesses at other accounts would have left
  for (let i = 0; i < DEFAULT_LOCKOUT_POLICY.ip.lockAfter; i++) await lockout.recordFailure({ ip: '203.0.113.66' });
  const e = await startTotpEnrolment('capped@example.test');
  const code = totpCode(e.seed);
  const refused = await confirm(e, '203.0.113.66', code);
  assert.equal(refused.status, 429, refused.body.slice(0, 300));
  assert.equal(errorCodeOf(refused.body), 'auth.locked');
  assert.match(refused.body, /too many failed attempts: this address is locked/);
  assert.deepEqual((await node.services.identity.users.view((await node.services.identity.users.find('capped@example.test')))).factors, [], 'nothing was enrolled');
  const ok = await confirm(e, '203.0.113.67', code);
  assert.equal(ok.status, 200, ok.body.slice(0, 300));
  assert.match(ok.body, /Save your recovery codes/);
});
