/**
 * Sign-in rules on a whole node (app.ts composition), driven by openid-client as the
 * app and the no-JavaScript browser as the user: MFA required per app and for everyone
 * (a user without a factor is led through enrolment), a locked account refused until
 * an administrator unlocks it, a legacy password hash upgraded at the next sign-in,
 * and the userinfo endpoint.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import * as client from 'openid-client';
import { Pbkdf2Hasher } from '../../src/identity/passwords/pbkdf2.js';
import { Browser } from '../support/oidc-harness.js';
import { authorizationRequest, type OidcApp, post, REDIRECT, registerOidcApp, signIn, startOidcNode, totpCode } from '../support/oidc-node.js';
import type { TestNode } from '../support/portcullis.js';

const AUD = 'https://api.example.test';
const PASSWORD = 'plum tractor velvet orbit';
let node: TestNode;
let app: OidcApp;

before(async () => {
  node = await startOidcNode();
  app = await registerOidcApp(node, AUD);
});
after(async () => node?.stop());

/** Opens the sign-in page of a new authorization request of `oidcApp` and submits the password. */
async function passwordStep(n: TestNode, oidcApp: OidcApp, email: string, password = PASSWORD, params: Record<string, string> = {}) {
  const issuer = n.urls.identity!;
  const { url, verifier, state } = await authorizationRequest(oidcApp.config, { resource: AUD, ...params });
  const browser = new Browser();
  const page = await browser.follow(url.toString(), issuer);
  assert.match(page.body, /Sign in/);
  const r = await post(browser, issuer, page.body, 'login', { email, password });
  return { browser, r, verifier, state, issuer, page };
}

async function admin(path: string, method = 'POST') {
  const res = await fetch(node.urls.admin + path, { method, headers: { authorization: `Bearer ${node.adminToken}` } });
  return { status: res.status, body: (await res.json()) as any };
}

test('MFA required per app: a user without a factor is led through enrolment for that app only', async () => {
  await node.services.identity.users.add({ email: 'per-app@example.test', password: PASSWORD }, 'test');
  const strict = await registerOidcApp(node, AUD, { mfaRequired: true });
  const s = await passwordStep(node, strict, 'per-app@example.test');
  assert.equal(s.r.status, 200);
  assert.match(s.r.body, /Set up a second factor/);
  // The same user at an app without the requirement goes straight on (to consent).
  const plain = await passwordStep(node, app, 'per-app@example.test');
  assert.doesNotMatch(plain.r.body, /Set up a second factor/);
  assert.ok(plain.r.location?.startsWith(plain.issuer), `a redirect back into the flow, got ${plain.r.status} ${plain.r.body.slice(0, 200)}`);
});

test('MFA required for everyone (identity.mfa.everyone): a user with no per-user or per-app requirement enrols at next sign-in', async () => {
  const everyone = await startOidcNode('identity: { mfa: { everyone: true } }');
  try {
    const a = await registerOidcApp(everyone, AUD);
    await everyone.services.identity.users.add({ email: 'everyone@example.test', password: PASSWORD }, 'test');
    const s = await passwordStep(everyone, a, 'everyone@example.test');
    assert.equal(s.r.status, 200);
    assert.match(s.r.body, /Set up a second factor/);
    // Enrolling TOTP there and confirming it finishes the sign-in with MFA.
    const started = await post(s.browser, s.issuer, s.r.body, 'enroll', { factor: 'totp' });
    const seed = /id="totp-secret">([A-Z2-7]+)</.exec(started.body)?.[1];
    assert.ok(seed, started.body.slice(0, 300));
    const confirmed = await post(s.browser, s.issuer, started.body, 'enroll-confirm', { factor: 'totp', code: totpCode(seed) });
    assert.match(confirmed.body, /Save your recovery codes/);
  } finally {
    await everyone.stop();
  }
});

test('admin unlock after a lockout: a locked account is refused even with the right password until POST /v1/users/:id/unlock', async () => {
  const u = await node.services.identity.users.add({ email: 'locked@example.test', password: PASSWORD }, 'test');
  const lockout = node.services.identity.lockout;
  // Ten counted failures lock the account (what ten wrong passwords do, without the growing delays in between).
  for (let i = 0; i < 10; i++) await lockout.recordFailure({ account: u.id });
  assert.equal((await lockout.state('account', u.id)).locked, true);
  const refused = await passwordStep(node, app, 'locked@example.test');
  assert.equal(refused.r.status, 429);
  assert.match(refused.r.body, /locked, try again in \d+ s or ask an administrator/);

  const unlocked = await admin(`/v1/users/${u.id}/unlock`);
  assert.equal(unlocked.status, 200);
  assert.equal((await lockout.state('account', u.id)).locked, false);
  const { tokens } = await signIn(node, app, AUD, 'locked@example.test', PASSWORD);
  assert.ok(tokens.access_token);
  const audit = await node.services.store.tailAudit(50);
  assert.ok(audit.some((e) => e.type === 'user.locked' && (e.data as { userId?: string })?.userId === u.id), 'the lock is audited');
  assert.ok(audit.some((e) => e.type === 'user.unlocked' && (e.data as { userId?: string })?.userId === u.id), 'the unlock is audited');
});

test('admin unlock of a client address: a locked address is refused for every account until POST /v1/lockouts/addresses/:address/unlock', async () => {
  await node.services.identity.users.add({ email: 'from-locked-address@example.test', password: PASSWORD }, 'test');
  const lockout = node.services.identity.lockout;
  // The test's requests come from 127.0.0.1; the lock is recorded under another spelling of it.
  for (let i = 0; i < 50; i++) await lockout.recordFailure({ ip: '::ffff:127.0.0.1' });
  try {
    const shown = await admin('/v1/lockouts/addresses/127.0.0.1', 'GET');
    assert.equal(shown.status, 200);
    assert.equal(shown.body.address, '127.0.0.1');
    assert.equal(shown.body.counted_as, '127.0.0.1');
    assert.equal(shown.body.locked, true);
    assert.equal(shown.body.failures, 50);
    assert.ok(Date.parse(shown.body.blocked_until) > Date.now());
    const refused = await passwordStep(node, app, 'from-locked-address@example.test');
    assert.equal(refused.r.status, 429);
    assert.match(refused.r.body, /locked, try again in \d+ s or ask an administrator/);

    const bad = await admin('/v1/lockouts/addresses/not-an-address/unlock');
    assert.equal(bad.status, 400);
    assert.equal(bad.body.code, 'request.invalid');
    assert.match(bad.body.detail, /address: not an IPv4 or IPv6 address/);

    const unlocked = await admin(`/v1/lockouts/addresses/${encodeURIComponent('::ffff:127.0.0.1')}/unlock`);
    assert.equal(unlocked.status, 200);
    assert.deepEqual(unlocked.body, { address: '127.0.0.1', counted_as: '127.0.0.1', failures: 0, locked: false, blocked_until: null });
    // an IPv6 address is shown with the /64 its attempts are counted under
    const v6 = await admin(`/v1/lockouts/addresses/${encodeURIComponent('2001:db8:1:2:aaaa::5')}`, 'GET');
    assert.equal(v6.status, 200);
    assert.equal(v6.body.address, '2001:db8:1:2:aaaa::5');
    assert.equal(v6.body.counted_as, '2001:db8:1:2::/64');
  } finally {
    await lockout.unlockIp('127.0.0.1');
  }
  const { tokens } = await signIn(node, app, AUD, 'from-locked-address@example.test', PASSWORD);
  assert.ok(tokens.access_token);
  const audit = await node.services.store.tailAudit(50);
  assert.ok(audit.some((e) => e.type === 'signin.unlocked' && e.actor === 'admin' && (e.data as { ip?: string })?.ip === '127.0.0.1'), 'the unlock is audited');
});

test('a legacy (PBKDF2) password hash is upgraded to Argon2id at the next sign-in, and the upgraded hash signs in', async () => {
  const u = await node.services.identity.users.add({ email: 'legacy@example.test' }, 'test');
  const legacy = await new Pbkdf2Hasher().hash(PASSWORD);
  assert.ok(await node.services.store.replacePasswordHash(u.id, null, legacy));
  await signIn(node, app, AUD, 'legacy@example.test', PASSWORD);
  const upgraded = await node.services.store.getPasswordHash(u.id);
  assert.match(upgraded ?? '', /^\$argon2id\$v=19\$m=\d+,t=\d+,p=\d+\$/);
  await signIn(node, app, AUD, 'legacy@example.test', PASSWORD);
  const wrong = await passwordStep(node, app, 'legacy@example.test', 'not the password at all');
  assert.equal(wrong.r.status, 401);
});

/** Signs in with `scope`, for `resource` when given (an API token) or for userinfo (no resource). */
async function codeFlow(email: string, scope: string, resource?: string) {
  const issuer = node.urls.identity!;
  const { url, verifier, state } = await authorizationRequest(app.config, { scope, ...(resource ? { resource } : {}) });
  const browser = new Browser();
  let r = await browser.follow(url.toString(), issuer);
  r = await post(browser, issuer, r.body, 'login', { email, password: PASSWORD });
  if (r.location?.startsWith(issuer)) r = await browser.follow(r.location, issuer);
  if (r.body.includes('Allow access?')) {
    r = await post(browser, issuer, r.body, 'consent', {});
    if (r.location?.startsWith(issuer)) r = await browser.follow(r.location, issuer);
  }
  assert.ok(r.location?.startsWith(REDIRECT), `expected a redirect to the app, got ${r.status} ${r.location} ${r.body.slice(0, 300)}`);
  return client.authorizationCodeGrant(app.config, new URL(r.location!), { pkceCodeVerifier: verifier, expectedState: state }, resource ? { resource } : {});
}

test('userinfo: the claims of the granted scopes for a userinfo access token; refused without a token, with a bad one, and with an API (resource) token', async () => {
  const u = await node.services.identity.users.add({ email: 'Info@Example.test', password: PASSWORD }, 'test');
  const userinfo = `${node.urls.identity}/oauth2/userinfo`;
  const meta = (await (await fetch(`${node.urls.identity}/.well-known/openid-configuration`)).json()) as Record<string, unknown>;
  assert.equal(meta['userinfo_endpoint'], userinfo);

  const withEmail = await codeFlow('info@example.test', 'openid email');
  const claims = await client.fetchUserInfo(app.config, withEmail.access_token, u.id);
  assert.deepEqual({ ...claims }, { sub: u.id, email: 'Info@Example.test', email_verified: false });

  // Only `openid` granted: the subject and nothing else.
  const bare = await codeFlow('info@example.test', 'openid');
  assert.deepEqual({ ...(await client.fetchUserInfo(app.config, bare.access_token, u.id)) }, { sub: u.id });
  // openid-client checks that the answer is about the expected subject.
  await assert.rejects(client.fetchUserInfo(app.config, bare.access_token, 'usr_someoneelse'));

  const none = await fetch(userinfo);
  assert.equal(none.status, 401);
  // RFC 6750 §3.1: a request without authentication gets the challenge without an error code.
  assert.match(none.headers.get('www-authenticate') ?? '', /^Bearer realm="/);
  const bad = await fetch(userinfo, { headers: { authorization: `Bearer ${withEmail.access_token.slice(0, -2)}xx` } });
  assert.equal(bad.status, 401);
  assert.match(bad.headers.get('www-authenticate') ?? '', /error="invalid_token"/);
  // A token for an API (RFC 8707 resource) is the API's, not a userinfo token.
  const api = await codeFlow('info@example.test', 'openid email', AUD);
  const refused = await fetch(userinfo, { headers: { authorization: `Bearer ${api.access_token}` } });
  assert.equal(refused.status, 401);
  // Ending the user's sessions ends the userinfo token too.
  await node.services.identity.users.endAllSessions(u.id, 'test');
  assert.equal((await fetch(userinfo, { headers: { authorization: `Bearer ${withEmail.access_token}` } })).status, 401);
});
