/**
 * Self-service password change on the account page (NIST SP 800-63B §5.1.1.2, OWASP ASVS
 * V2.1.5/V2.1.6): the current password is checked by the sign-in's hasher through the
 * sign-in's brute-force limits (a wrong one is a failed attempt of the account: then
 * `auth.throttled`, `auth.locked`), the new one by the password policy and must differ
 * from the current one and match its confirmation. A change ends every session of the
 * user, this browser's too (`setPassword`), raises `user.password-set`, and neither
 * password reaches the audit trail.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { Browser, actionOf, csrfOf } from '../support/oidc-harness.js';
import { registerOidcApp, signIn, startOidcNode, type OidcApp } from '../support/oidc-node.js';
import type { TestNode } from '../support/portcullis.js';

const AUD = 'https://api.example.test';
const PASSWORD = 'plum tractor velvet orbit';
const NEW_PASSWORD = 'quartz lantern meadow ferry';
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

async function changePassword(browser: Browser, fields: Record<string, string>) {
  const page = await browser.request(account);
  assert.equal(page.status, 200, page.body.slice(0, 300));
  return browser.request(actionOf(page.body, 'password/change', issuer), { form: { csrf: csrfOf(page.body), ...fields } });
}

async function auditOf(userId: string) {
  await node.services.audit.flush();
  return (await node.services.store.tailAudit(500)).filter((e) => (e.data as { userId?: string } | undefined)?.userId === userId).sort((a, b) => a.seq - b.seq);
}

test('a user changes their password with the current one: every session ends (this one too), the new one signs in, user.password-set is audited without either password', async () => {
  const u = await node.services.identity.users.add({ email: 'change@example.test', password: PASSWORD }, 'test');
  const { browser } = await signIn(node, app, AUD, 'change@example.test', PASSWORD);
  const other = await signIn(node, app, AUD, 'change@example.test', PASSWORD);
  const page = await browser.request(account);
  assert.match(page.body, /autocomplete="current-password"/);
  assert.match(page.body, /autocomplete="new-password"/);

  const r = await changePassword(browser, { 'current-password': PASSWORD, 'new-password': NEW_PASSWORD, 'confirm-password': NEW_PASSWORD });
  assert.equal(r.status, 200, r.body.slice(0, 300));
  assert.match(r.body, /id="notice"[^>]*>Your password was changed/);
  assert.equal((await browser.request(account)).status, 401, 'this browser is signed out');
  assert.equal((await other.browser.request(account)).status, 401, 'every other session ended');

  await signIn(node, app, AUD, 'change@example.test', NEW_PASSWORD);
  await assert.rejects(signIn(node, app, AUD, 'change@example.test', PASSWORD));

  const events = await auditOf(u.id);
  const set = events.filter((e) => e.type === 'user.password-set');
  assert.equal(set.length, 1);
  assert.equal(set[0]!.actor, `user:${u.id}`);
  assert.ok(events.some((e) => e.type === 'user.sessions-ended'));
  const all = JSON.stringify(await node.services.store.tailAudit(500));
  assert.ok(!all.includes(PASSWORD) && !all.includes(NEW_PASSWORD), 'no password in the audit trail');
});

test('attack: a wrong current password is refused 401 auth.invalid-credentials, counted as a failed sign-in of the account, audited without the password; nothing changes', async () => {
  const u = await node.services.identity.users.add({ email: 'wrong-current@example.test', password: PASSWORD }, 'test');
  const { browser } = await signIn(node, app, AUD, 'wrong-current@example.test', PASSWORD);
  const before = await node.services.store.getPasswordHash(u.id);
  const r = await changePassword(browser, { 'current-password': 'not my password at all', 'new-password': NEW_PASSWORD, 'confirm-password': NEW_PASSWORD });
  assert.equal(r.status, 401, r.body.slice(0, 300));
  assert.equal(errorCodeOf(r.body), 'auth.invalid-credentials');
  assert.equal(await node.services.store.getPasswordHash(u.id), before, 'unchanged');
  assert.equal((await node.services.identity.lockout.state('account', u.id)).failures, 1, 'a failed attempt of the account');
  const refused = (await auditOf(u.id)).filter((e) => e.type === 'user.password-change-refused');
  assert.equal(refused.length, 1);
  assert.equal(refused[0]!.reason, 'auth.invalid-credentials');
  assert.ok(!JSON.stringify(refused).includes('not my password'));
  const missing = await changePassword(browser, { 'new-password': NEW_PASSWORD, 'confirm-password': NEW_PASSWORD });
  assert.equal(missing.status, 403);
  assert.equal(errorCodeOf(missing.body), 'account.password-required');
  assert.equal((await browser.request(account)).status, 200, 'still signed in');
});

test('attack: guessing the current password through the account page meets the sign-in limits (auth.throttled), which then refuse even the right one', async () => {
  const u = await node.services.identity.users.add({ email: 'guess@example.test', password: PASSWORD }, 'test');
  const { browser } = await signIn(node, app, AUD, 'guess@example.test', PASSWORD);
  const before = await node.services.store.getPasswordHash(u.id);
  for (let i = 0; i < 6; i++) {
    const r = await changePassword(browser, { 'current-password': `guess number ${i}`, 'new-password': NEW_PASSWORD, 'confirm-password': NEW_PASSWORD });
    assert.equal(errorCodeOf(r.body), 'auth.invalid-credentials', `guess ${i}`);
  }
  const r = await changePassword(browser, { 'current-password': PASSWORD, 'new-password': NEW_PASSWORD, 'confirm-password': NEW_PASSWORD });
  assert.equal(r.status, 429, r.body.slice(0, 300));
  assert.equal(errorCodeOf(r.body), 'auth.throttled');
  // RFC 6585 §4: the page says when to retry, in whole seconds
  assert.match(r.headers.get('retry-after') ?? '', /^[12]$/);
  assert.equal(await node.services.store.getPasswordHash(u.id), before, 'unchanged');
  await node.services.identity.lockout.unlockAccount(u.id);
});

test('the new password meets the policy, matches its confirmation and differs from the current one (password.* codes, checked after the current one for "unchanged")', async () => {
  const u = await node.services.identity.users.add({ email: 'policy@example.test', password: PASSWORD }, 'test');
  const { browser } = await signIn(node, app, AUD, 'policy@example.test', PASSWORD);
  const before = await node.services.store.getPasswordHash(u.id);
  const cases: Array<[Record<string, string>, number, string]> = [
    [{ 'new-password': 'short', 'confirm-password': 'short' }, 400, 'password.too-short'],
    [{ 'new-password': 'password123', 'confirm-password': 'password123' }, 400, 'password.common'],
    [{ 'new-password': 'policy@example.test!', 'confirm-password': 'policy@example.test!' }, 400, 'password.common'],
    [{ 'new-password': NEW_PASSWORD, 'confirm-password': `${NEW_PASSWORD}x` }, 400, 'password.mismatch'],
    [{ 'new-password': PASSWORD, 'confirm-password': PASSWORD }, 400, 'password.unchanged'],
  ];
  for (const [fields, status, code] of cases) {
    const r = await changePassword(browser, { 'current-password': PASSWORD, ...fields });
    assert.equal(r.status, status, `${code}: ${r.body.slice(0, 300)}`);
    assert.equal(errorCodeOf(r.body), code);
  }
  // "unchanged" says nothing about a current password that was not proven
  const guess = await changePassword(browser, { 'current-password': 'some other guess', 'new-password': 'some other guess', 'confirm-password': 'some other guess' });
  assert.equal(errorCodeOf(guess.body), 'auth.invalid-credentials');
  assert.equal(await node.services.store.getPasswordHash(u.id), before, 'unchanged');
  await node.services.identity.lockout.unlockAccount(u.id);
});

test('attack: a change without the page\'s anti-CSRF token is refused', async () => {
  const u = await node.services.identity.users.add({ email: 'csrf-pw@example.test', password: PASSWORD }, 'test');
  const { browser } = await signIn(node, app, AUD, 'csrf-pw@example.test', PASSWORD);
  const before = await node.services.store.getPasswordHash(u.id);
  const r = await browser.request(`${account}/password/change`, { form: { csrf: 'forged', 'current-password': PASSWORD, 'new-password': NEW_PASSWORD, 'confirm-password': NEW_PASSWORD } });
  assert.equal(r.status, 403, r.body.slice(0, 300));
  assert.equal(await node.services.store.getPasswordHash(u.id), before);
});

test('attack: two changes sent together with the right current password → one 200, one 409 password.changed-meanwhile, audited; the winner\'s password stands', async () => {
  const u = await node.services.identity.users.add({ email: 'race-change@example.test', password: PASSWORD }, 'test');
  const { browser } = await signIn(node, app, AUD, 'race-change@example.test', PASSWORD);
  const page = await browser.request(account);
  const change = (next: string) => browser.request(actionOf(page.body, 'password/change', issuer), { form: { csrf: csrfOf(page.body), 'current-password': PASSWORD, 'new-password': next, 'confirm-password': next } });
  // both changes read (and verify against) the current hash before either writes
  const store = node.services.store;
  const read = store.getPasswordHash.bind(store);
  const waiting: Array<() => void> = [];
  store.getPasswordHash = async (id: string) => {
    const hash = await read(id);
    if (id === u.id && waiting.length < 2) {
      await new Promise<void>((resolve) => {
        waiting.push(resolve);
        if (waiting.length === 2) for (const go of waiting) go();
        else setTimeout(resolve, 2000);
      });
    }
    return hash;
  };
  const SECOND = 'copper willow harbor jigsaw';
  let answers;
  try {
    answers = await Promise.all([change(NEW_PASSWORD), change(SECOND)]);
  } finally {
    store.getPasswordHash = read;
  }
  assert.deepEqual(answers.map((r) => r.status).sort(), [200, 409], answers.map((r) => r.body.slice(0, 300)).join('\n'));
  const lost = answers.findIndex((r) => r.status === 409);
  assert.equal(errorCodeOf(answers[lost]!.body), 'password.changed-meanwhile');
  await signIn(node, app, AUD, 'race-change@example.test', lost === 0 ? SECOND : NEW_PASSWORD);
  await assert.rejects(signIn(node, app, AUD, 'race-change@example.test', lost === 0 ? NEW_PASSWORD : SECOND));
  const events = await auditOf(u.id);
  assert.equal(events.filter((e) => e.type === 'user.password-set').length, 1);
  const refused = events.filter((e) => e.type === 'user.password-change-refused');
  assert.equal(refused.length, 1);
  assert.equal(refused[0]!.reason, 'password.changed-meanwhile');
  assert.ok(!JSON.stringify(refused).includes(SECOND) && !JSON.stringify(refused).includes(NEW_PASSWORD));
});
