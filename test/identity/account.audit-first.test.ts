/**
 * A change the user makes on the account page (a session ended, every session ended, a
 * second factor or passkey removed, a password chosen from an invite) is acknowledged only
 * once its audit event is stored, as the admin API's changes are. When the audit trail
 * cannot write, the page answers 503 `audit.unavailable`, and the change holds all the same.
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import BetterSqlite3 from 'better-sqlite3';
import { decodeJwt } from 'jose';
import { actionOf, csrfOf } from '../support/oidc-harness.js';
import { enrolTotp, registerOidcApp, signIn, startOidcNode, type OidcApp } from '../support/oidc-node.js';
import type { TestNode } from '../support/portcullis.js';
import { SoftAuthenticator } from './soft-authenticator.js';

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

/** Whether an event of `type` about `userId` (and `factor`, when given) is in the store now (not only queued). */
async function stored(type: string, userId: string, factor?: string): Promise<boolean> {
  return (await node.services.store.tailAudit(50)).some((e) => {
    const data = e.data as { userId?: string; factor?: string } | null;
    return e.type === type && data?.userId === userId && (factor === undefined || data?.factor === factor);
  });
}

/** A user signed in with TOTP (a session that may remove factors), everything the sign-in recorded stored. */
async function strongUser(email: string) {
  const u = await node.services.identity.users.add({ email, password: PASSWORD }, 'test');
  const secret = await enrolTotp(node, u.id);
  const s = await signIn(node, app, AUD, email, PASSWORD, { totpSecret: secret });
  await node.services.audit.flush();
  return { user: u, ...s };
}

test('ending a session on the account page answers only once user.session-ended is stored', async () => {
  const { user, browser } = await strongUser('end-one@example.test');
  const page = await browser.request(account);
  const handle = /name="session" value="([^"]+)"/.exec(page.body)![1]!;
  const r = await browser.request(actionOf(page.body, 'sessions/end', node.urls.identity!), { form: { csrf: csrfOf(page.body), session: handle } });
  assert.equal(r.status, 200, r.body.slice(0, 300));
  assert.ok(await stored('user.session-ended', user.id), 'the event is in the store when the answer arrives');
});

test('removing a second factor on the account page answers only once user.factor-removed is stored', async () => {
  const { user, browser } = await strongUser('remove-factor@example.test');
  const page = await browser.request(account);
  const r = await browser.request(`${account}/factors/remove`, { form: { 'current-password': PASSWORD, csrf: csrfOf(page.body), factor: 'totp' } });
  assert.equal(r.status, 200, r.body.slice(0, 300));
  assert.ok(await stored('user.factor-removed', user.id), 'the event is in the store when the answer arrives');
});

test('adding a passkey and removing it on the account page: each answers only once its user.factor-added / user.factor-removed event is stored', async () => {
  const { user, browser } = await strongUser('passkey@example.test');
  const key = new SoftAuthenticator(new URL(node.urls.identity!).origin, new URL(node.urls.identity!).hostname);
  let page = await browser.request(account);
  const csrf = /data-csrf="([^"]+)"/.exec(page.body)![1]!;
  const opts = await browser.request(`${account}/webauthn/register-options`, { form: { 'current-password': PASSWORD, csrf } });
  assert.equal(opts.status, 200, opts.body.slice(0, 300));
  const added = await browser.request(`${account}/webauthn/register`, { form: { csrf, name: 'Laptop', response: key.register(JSON.parse(opts.body)) } });
  assert.equal(added.status, 200, added.body.slice(0, 300));
  assert.ok(await stored('user.factor-added', user.id, 'webauthn'), 'the event of the added key is in the store when the answer arrives');
  page = await browser.request(account);
  const removed = await browser.request(`${account}/factors/remove`, { form: { 'current-password': PASSWORD, csrf: csrfOf(page.body), factor: `webauthn:${Buffer.from(key.credentialId).toString('base64url')}` } });
  assert.equal(removed.status, 200, removed.body.slice(0, 300));
  assert.equal((await node.services.identity.users.view(user)).passkeys, 0);
  assert.ok(await stored('user.factor-removed', user.id, 'webauthn'), 'the event of the removed key is in the store when the answer arrives');
});

test('ending every session on the account page answers only once user.sessions-ended is stored', async () => {
  const { user, browser } = await strongUser('end-all@example.test');
  const page = await browser.request(account);
  const r = await browser.request(`${account}/sessions/end-all`, { form: { csrf: csrfOf(page.body) } });
  assert.equal(r.status, 200, r.body.slice(0, 300));
  assert.ok(await stored('user.sessions-ended', user.id), 'the event is in the store when the answer arrives');
});

test('a password chosen from an invite link is acknowledged only once user.password-set is stored', async () => {
  const u = await node.services.identity.users.add({ email: 'invitee@example.test' }, 'test');
  const { token } = await node.services.identity.invites.create(u.id);
  const url = `${account}/invite/${encodeURIComponent(token)}`;
  const page = await fetch(url);
  const html = await page.text();
  await node.services.audit.flush();
  const r = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: new URLSearchParams({ csrf: csrfOf(html), password: PASSWORD }) });
  assert.equal(r.status, 200, (await r.text()).slice(0, 300));
  assert.ok(await stored('user.password-set', u.id), 'the event is in the store when the answer arrives');
});

test('attack: account changes while the audit table cannot be written → 503 audit.unavailable, never an acknowledged change without its audit row; the changes hold', async (t) => {
  const { user, browser, tokens } = await strongUser('unaudited@example.test');
  const totp = node.services.identity.factors.find((f) => f.id === 'totp')!;
  const other = new BetterSqlite3(join(node.dir, 'portcullis.db'));
  t.after(() => other.close());
  other.exec('alter table audit_log rename to audit_log_away');
  try {
    const page = await browser.request(account);
    const removed = await browser.request(`${account}/factors/remove`, { form: { 'current-password': PASSWORD, csrf: csrfOf(page.body), factor: 'totp' } });
    assert.equal(removed.status, 503, removed.body.slice(0, 300));
    assert.match(removed.body, /could not be recorded/);
    assert.equal(await totp.isEnrolled(user.id), false, 'the factor is removed all the same');
    const ended = await browser.request(`${account}/sessions/end-all`, { form: { csrf: csrfOf(page.body) } });
    assert.equal(ended.status, 503, ended.body.slice(0, 300));
    const at = decodeJwt(tokens.access_token) as { jti: string; client_id: string; iat: number; sub: string };
    assert.equal(node.services.revocations.check(at.jti, at.client_id, at.iat * 1000, at.sub), 'token.revoked', 'the sessions end all the same');
  } finally {
    other.exec('alter table audit_log_away rename to audit_log');
  }
  await node.services.audit.flush();
  assert.ok(await stored('user.factor-removed', user.id), 'the held event is written once the store can take it');
  assert.ok(await stored('user.sessions-ended', user.id), 'the held event is written once the store can take it');
});

test('attack: renewing recovery codes while the audit table cannot be written → 503 audit.unavailable, and the old codes stay valid (never a new set nobody saw)', async (t) => {
  const { user, browser } = await strongUser('renew-codes@example.test');
  const rc = node.services.identity.factors.find((f) => f.id === 'recovery-code')!;
  const old = (await rc.enroll({ userId: user.id })).codes!;
  const other = new BetterSqlite3(join(node.dir, 'portcullis.db'));
  t.after(() => other.close());
  other.exec('alter table audit_log rename to audit_log_away');
  try {
    const page = await browser.request(account);
    const r = await browser.request(`${account}/factors/recovery-codes`, { form: { 'current-password': PASSWORD, csrf: csrfOf(page.body) } });
    assert.equal(r.status, 503, r.body.slice(0, 300));
    assert.doesNotMatch(r.body, /id="recovery-codes"/, 'no codes are shown');
    await rc.verify({ userId: user.id }, old[0]!); // resolves: the set the user holds still signs in
    assert.match(r.body, /not renewed/);
  } finally {
    other.exec('alter table audit_log_away rename to audit_log');
  }
  await node.services.audit.flush();
  const mine = (await node.services.store.tailAudit(50)).filter((e) => (e.data as { userId?: string } | null)?.userId === user.id && e.type.startsWith('user.recovery-codes-'));
  assert.deepEqual(
    mine.map((e) => [e.type, e.reason]),
    [
      ['user.recovery-codes-generated', null],
      ['user.recovery-codes-not-generated', 'audit.unavailable'],
    ],
    'the held event is written once the store is back, followed by the one saying the renewal was not made',
  );
});

test('renewing recovery codes answers the new set once user.recovery-codes-generated is stored; the old set stops working', async () => {
  const { user, browser } = await strongUser('renew-codes-ok@example.test');
  const rc = node.services.identity.factors.find((f) => f.id === 'recovery-code')!;
  const old = (await rc.enroll({ userId: user.id })).codes!;
  const page = await browser.request(account);
  const r = await browser.request(`${account}/factors/recovery-codes`, { form: { 'current-password': PASSWORD, csrf: csrfOf(page.body) } });
  assert.equal(r.status, 200, r.body.slice(0, 300));
  const shown = [...r.body.matchAll(/<li><code>([0-9A-Z-]{19})<\/code><\/li>/g)].map((m) => m[1]!);
  assert.equal(shown.length, 10);
  assert.ok(await stored('user.recovery-codes-generated', user.id), 'the event is in the store when the answer arrives');
  await assert.rejects(rc.verify({ userId: user.id }, old[1]!), (e: { code?: string }) => e.code === 'mfa.invalid-code');
  await rc.verify({ userId: user.id }, shown[0]!);
});
