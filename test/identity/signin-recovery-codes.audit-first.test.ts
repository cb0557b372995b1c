/**
 * Recovery codes shown at the sign-in's enrolment step are audited first, as the account
 * page's renewal is: the page shows a set only once `user.recovery-codes-generated` is
 * stored. When the audit trail cannot write, the page answers 503 `audit.unavailable`,
 * no set is stored or shown, and a later try (the trail back) shows one.
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import BetterSqlite3 from 'better-sqlite3';
import { Browser, csrfOf } from '../support/oidc-harness.js';
import { authorizationRequest, post, registerOidcApp, startOidcNode, type OidcApp } from '../support/oidc-node.js';
import type { TestNode } from '../support/portcullis.js';
import { SoftAuthenticator } from './soft-authenticator.js';

const AUD = 'https://api.example.test';
const PASSWORD = 'plum tractor velvet orbit';
let node: TestNode;
let app: OidcApp;

before(async () => {
  node = await startOidcNode();
  app = await registerOidcApp(node, AUD);
});
after(async () => node?.stop());

/** A user who must have MFA signs in with the password and registers a passkey at the enrolment step; returns where the script goes next. */
async function enrolPasskeyAtSignIn(email: string) {
  const issuer = node.urls.identity!;
  const user = await node.services.identity.users.add({ email, password: PASSWORD, mfaRequired: true }, 'test');
  const browser = new Browser();
  const { url } = await authorizationRequest(app.config, { scope: 'openid', resource: AUD });
  const signInPage = await browser.follow(url, issuer);
  const enrol = await post(browser, issuer, signInPage.body, 'login', { email, password: PASSWORD });
  assert.match(enrol.body, /Set up a second factor/);
  const base = /action="([^"]*\/interaction\/[^/"]+)\//.exec(enrol.body)![1]!;
  const csrf = csrfOf(enrol.body);
  const key = new SoftAuthenticator(new URL(issuer).origin, new URL(issuer).hostname);
  const opts = await browser.request(new URL(`${base}/webauthn/register-options`, issuer).toString(), { form: { csrf } });
  assert.equal(opts.status, 200, opts.body.slice(0, 300));
  const reg = await browser.request(new URL(`${base}/webauthn/register`, issuer).toString(), { form: { csrf, name: 'Laptop', response: key.register(JSON.parse(opts.body)) } });
  assert.equal(reg.status, 200, reg.body.slice(0, 300));
  await node.services.audit.flush();
  return { user, browser, recovery: new URL(JSON.parse(reg.body).redirect as string, issuer).toString() };
}

const codesIn = (html: string) => [...html.matchAll(/<li><code>([0-9A-Z-]{19})<\/code><\/li>/g)].map((m) => m[1]!);

test('recovery codes shown at the enrolment step of a sign-in: answered once user.recovery-codes-generated is stored', async () => {
  const { user, browser, recovery } = await enrolPasskeyAtSignIn('signin-codes-ok@example.test');
  const r = await browser.request(recovery);
  assert.equal(r.status, 200, r.body.slice(0, 300));
  assert.equal(codesIn(r.body).length, 10);
  const stored = (await node.services.store.tailAudit(50)).filter((e) => e.type === 'user.recovery-codes-generated' && (e.data as { userId?: string } | null)?.userId === user.id);
  assert.deepEqual(
    stored.map((e) => e.data),
    [{ userId: user.id, during: 'sign-in' }],
    'the event is in the store when the answer arrives',
  );
});

test('attack: recovery codes at the enrolment step of a sign-in while the audit table cannot be written → 503 audit.unavailable, no set stored or shown; once the trail is back, a reload shows one', async (t) => {
  const { user, browser, recovery } = await enrolPasskeyAtSignIn('signin-codes-unaudited@example.test');
  const rc = node.services.identity.factors.find((f) => f.id === 'recovery-code')!;
  const other = new BetterSqlite3(join(node.dir, 'portcullis.db'));
  t.after(() => other.close());
  other.exec('alter table audit_log rename to audit_log_away');
  try {
    const r = await browser.request(recovery);
    assert.equal(r.status, 503, r.body.slice(0, 300));
    assert.doesNotMatch(r.body, /id="recovery-codes"/, 'no codes are shown');
    assert.match(r.body, /could not be recorded/);
    assert.equal(await rc.isEnrolled(user.id), false, 'no set nobody saw');
  } finally {
    other.exec('alter table audit_log_away rename to audit_log');
  }
  await node.services.audit.flush();
  const mine = (await node.services.store.tailAudit(50)).filter((e) => (e.data as { userId?: string } | null)?.userId === user.id && e.type.startsWith('user.recovery-codes-'));
  assert.deepEqual(
    mine.map((e) => [e.type, e.reason, (e.data as { during?: string }).during]),
    [
      ['user.recovery-codes-generated', null, 'sign-in'],
      ['user.recovery-codes-not-generated', 'audit.unavailable', 'sign-in'],
    ],
  );
  // the trail is back: the same step shows a set, and that set signs in
  const again = await browser.request(recovery);
  assert.equal(again.status, 200, again.body.slice(0, 300));
  const shown = codesIn(again.body);
  assert.equal(shown.length, 10);
  await rc.verify({ userId: user.id }, shown[0]!);
});
