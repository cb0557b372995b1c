/**
 * Passkeys and security keys managed on the account page of a whole node, over HTTP as
 * the page's script does it, with a software authenticator (soft-authenticator.ts):
 * several keys per user, each named, one removed; the keys then used at sign-in as the
 * second factor (counter checked) and as a passwordless passkey (user verification
 * required). Attacks: a password-only session planting its own key, CSRF.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import * as client from 'openid-client';
import { decodeJwt } from 'jose';
import { ACR_MFA } from '../../src/gateway/assurance-policy.js';
import { Browser, actionOf, csrfOf } from '../support/oidc-harness.js';
import { authorizationRequest, enrolTotp, type OidcApp, post, REDIRECT, registerOidcApp, signIn, startOidcNode } from '../support/oidc-node.js';
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

const newKey = () => new SoftAuthenticator(new URL(node.urls.identity!).origin, new URL(node.urls.identity!).hostname);
const dataCsrf = (html: string) => /data-csrf="([^"]+)"/.exec(html)![1]!;

/** What the page script does for "Add a passkey": options, the authenticator, then the verify call. */
async function addPasskey(browser: Browser, key: SoftAuthenticator, name: string) {
  const page = await browser.request(account);
  assert.equal(page.status, 200);
  assert.match(page.body, /data-options="\/account\/webauthn\/register-options"/);
  const csrf = dataCsrf(page.body);
  const opts = await browser.request(`${account}/webauthn/register-options`, { form: { 'current-password': PASSWORD, csrf } });
  if (opts.status !== 200) return { status: opts.status, body: JSON.parse(opts.body) as Record<string, unknown>, options: undefined };
  const options = JSON.parse(opts.body) as { challenge: string; rp: { id: string }; excludeCredentials: Array<{ id: string }> };
  const r = await browser.request(`${account}/webauthn/register`, { form: { csrf, name, response: key.register(options) } });
  return { status: r.status, body: JSON.parse(r.body) as Record<string, unknown>, options };
}

test('account page: several passkeys per user, each named; one removed; the other then signs in as second factor and as a passwordless passkey (UV required)', async () => {
  const u = await node.services.identity.users.add({ email: 'keys@example.test', password: PASSWORD }, 'test');
  const secret = await enrolTotp(node, u.id);
  const { browser } = await signIn(node, app, AUD, 'keys@example.test', PASSWORD, { totpSecret: secret });
  const laptop = newKey();
  const backup = newKey();
  const first = await addPasskey(browser, laptop, 'Laptop');
  assert.equal(first.status, 200, JSON.stringify(first.body));
  assert.deepEqual(first.body, { redirect: '/account' });
  assert.equal(first.options!.rp.id, '127.0.0.1');
  const second = await addPasskey(browser, backup, 'Backup key');
  assert.equal(second.status, 200, JSON.stringify(second.body));
  assert.deepEqual(second.options!.excludeCredentials.map((c) => c.id), [Buffer.from(laptop.credentialId).toString('base64url')], 'a key already registered is excluded');
  let page = await browser.request(account);
  assert.match(page.body, /Passkey or security key: Laptop/);
  assert.match(page.body, /Passkey or security key: Backup key/);
  assert.equal((await node.services.identity.users.view(u)).passkeys, 2);

  const laptopId = Buffer.from(laptop.credentialId).toString('base64url');
  const removed = await browser.request(actionOf(page.body, 'factors/remove', node.urls.identity!), { form: { 'current-password': PASSWORD, csrf: csrfOf(page.body), factor: `webauthn:${laptopId}` } });
  assert.equal(removed.status, 200, removed.body.slice(0, 300));
  page = await browser.request(account);
  assert.doesNotMatch(page.body, /Laptop/);
  assert.match(page.body, /Backup key/);
  await node.services.audit.flush();
  assert.equal((await node.services.store.tailAudit(30)).filter((e) => e.type === 'user.factor-added' && (e.data as { userId?: string }).userId === u.id).length, 2, 'each added key is audited');

  // Sign-in with the remaining key as the second factor, through the pages' JSON calls.
  const issuer = node.urls.identity!;
  const flow = async (prompt: Record<string, string> = {}) => {
    const { url, verifier, state } = await authorizationRequest(app.config, { resource: AUD, ...prompt });
    const b = new Browser();
    const start = await b.follow(url.toString(), issuer);
    return { b, start, verifier, state };
  };
  const finish = async (f: Awaited<ReturnType<typeof flow>>, redirect: string) => {
    let r = await f.b.follow(new URL(redirect, issuer).toString(), issuer);
    if (r.body.includes('Allow access?')) r = await post(f.b, issuer, r.body, 'consent', {});
    if (r.location?.startsWith(issuer)) r = await f.b.follow(r.location, issuer);
    assert.ok(r.location?.startsWith(REDIRECT), `${r.status} ${r.body.slice(0, 300)}`);
    return client.authorizationCodeGrant(app.config, new URL(r.location!), { pkceCodeVerifier: f.verifier, expectedState: f.state }, { resource: AUD });
  };
  const mfa = await flow();
  const step = await post(mfa.b, issuer, mfa.start.body, 'login', { email: 'keys@example.test', password: PASSWORD });
  assert.match(step.body, /Use a security key/);
  const base = actionOf(step.body, 'mfa', issuer).replace(/\/mfa$/, '');
  const csrf = csrfOf(step.body);
  const o1 = JSON.parse((await mfa.b.request(`${base}/webauthn/options`, { form: { csrf } })).body) as { challenge: string; allowCredentials: Array<{ id: string }> };
  assert.deepEqual(o1.allowCredentials.map((c) => c.id), [Buffer.from(backup.credentialId).toString('base64url')], 'only the remaining key is offered');
  const v1 = await mfa.b.request(`${base}/webauthn/verify`, { form: { csrf, response: backup.assert(o1, { uv: false }) } });
  assert.equal(v1.status, 200, v1.body);
  const t1 = await finish(mfa, (JSON.parse(v1.body) as { redirect: string }).redirect);
  assert.deepEqual(decodeJwt(t1.access_token)['amr'], ['pwd', 'hwk']);
  assert.equal(decodeJwt(t1.access_token)['acr'], ACR_MFA);

  const lastAccepted = backup.counter;

  // Passwordless: without user verification refused, with it signed in.
  const pk = await flow();
  const pkCsrf = csrfOf(pk.start.body);
  const pkBase = actionOf(pk.start.body, 'login', issuer).replace(/\/login$/, '');
  const o2 = JSON.parse((await pk.b.request(`${pkBase}/passkey/options`, { form: { csrf: pkCsrf } })).body) as { challenge: string; userVerification: string };
  assert.equal(o2.userVerification, 'required');
  const noUv = await pk.b.request(`${pkBase}/passkey/verify`, { form: { csrf: pkCsrf, response: backup.assert(o2, { uv: false }) } });
  assert.equal(noUv.status, 401);
  assert.equal((JSON.parse(noUv.body) as { code: string }).code, 'webauthn.user-verification-required');
  const o3 = JSON.parse((await pk.b.request(`${pkBase}/passkey/options`, { form: { csrf: pkCsrf } })).body) as { challenge: string };
  const v3 = await pk.b.request(`${pkBase}/passkey/verify`, { form: { csrf: pkCsrf, response: backup.assert(o3, { uv: true }) } });
  assert.equal(v3.status, 200, v3.body);
  const t3 = await finish(pk, (JSON.parse(v3.body) as { redirect: string }).redirect);
  assert.equal(decodeJwt(t3.access_token).sub, u.id);
  assert.deepEqual(decodeJwt(t3.access_token)['amr'], ['hwk', 'user']);
  // the audit trail names the step each sign-in ended with: the key as second factor, then as passkey alone
  await node.services.audit.flush();
  const signIns = (await node.services.store.tailAudit(50)).filter((e) => e.type === 'signin.succeeded' && e.actor === `user:${u.id}`).map((e) => e.data);
  assert.deepEqual(signIns.slice(-2), [
    { amr: ['pwd', 'hwk'], factor: 'webauthn' },
    { amr: ['hwk', 'user'], factor: 'passkey' },
  ]);

  // attack: a cloned key replaying a counter already seen is refused, and the key is suspended: the genuine copy no longer signs in either.
  const again = await flow();
  const aCsrf = csrfOf(again.start.body);
  const aBase = actionOf(again.start.body, 'login', issuer).replace(/\/login$/, '');
  const o4 = JSON.parse((await again.b.request(`${aBase}/passkey/options`, { form: { csrf: aCsrf } })).body) as { challenge: string };
  const replay = await again.b.request(`${aBase}/passkey/verify`, { form: { csrf: aCsrf, response: backup.clone().assert(o4, { uv: true, counter: lastAccepted }) } });
  assert.equal(replay.status, 401);
  assert.equal((JSON.parse(replay.body) as { code: string }).code, 'webauthn.counter-regressed');
  const o5 = JSON.parse((await again.b.request(`${aBase}/passkey/options`, { form: { csrf: aCsrf } })).body) as { challenge: string };
  const v5 = await again.b.request(`${aBase}/passkey/verify`, { form: { csrf: aCsrf, response: backup.assert(o5, { uv: true }) } });
  assert.equal(v5.status, 403, v5.body);
  assert.equal((JSON.parse(v5.body) as { code: string }).code, 'webauthn.credential-suspended');
  await node.services.audit.flush();
  const backupId = Buffer.from(backup.credentialId).toString('base64url');
  const tail = await node.services.store.tailAudit(30);
  assert.equal(tail.filter((e) => e.type === 'webauthn.credential-suspended' && (e.data as { credential?: string }).credential === backupId).length, 1, 'the suspension is audited once');
  assert.ok(tail.some((e) => e.type === 'signin.failed' && e.reason === 'webauthn.credential-suspended'), 'the refused sign-in is audited');
  // The account page says so.
  assert.match((await browser.request(account)).body, /Backup key[^<]*suspended/);
});

test('attack: a password-only session of a user who has a second factor cannot add a passkey (403, nothing stored); a user with no factor adds a first one', async () => {
  const u = await node.services.identity.users.add({ email: 'plant@example.test', password: PASSWORD }, 'test');
  const { browser } = await signIn(node, app, AUD, 'plant@example.test', PASSWORD);
  // The factor is added after this password-only session began (or the password was stolen).
  await enrolTotp(node, u.id);
  const refused = await addPasskey(browser, newKey(), 'Attacker key');
  assert.equal(refused.status, 403);
  assert.equal((await node.services.store.listWebAuthnCredentials(u.id)).length, 0);

  const fresh = await node.services.identity.users.add({ email: 'first-key@example.test', password: PASSWORD }, 'test');
  const s = await signIn(node, app, AUD, 'first-key@example.test', PASSWORD);
  const ok = await addPasskey(s.browser, newKey(), 'First key');
  assert.equal(ok.status, 200, JSON.stringify(ok.body));
  assert.equal((await node.services.store.listWebAuthnCredentials(fresh.id)).length, 1);
});

test('attack: CSRF on the passkey calls of the account page (no token, a wrong one) is refused with 403', async () => {
  await node.services.identity.users.add({ email: 'csrf-keys@example.test', password: PASSWORD }, 'test');
  const { browser } = await signIn(node, app, AUD, 'csrf-keys@example.test', PASSWORD);
  for (const form of [{}, { csrf: 'x'.repeat(32) }] as Array<Record<string, string>>) {
    for (const action of ['webauthn/register-options', 'webauthn/register']) {
      const r = await browser.request(`${account}/${action}`, { form });
      assert.equal(r.status, 403, `${action} ${JSON.stringify(form)}`);
    }
  }
  assert.equal((await new Browser().request(`${account}/webauthn/register-options`, { form: {} })).status, 401, 'not signed in');
});

test('attack: a 1 MB WebAuthn response (a huge clientDataJSON) is refused with 413 before it is read, at the account page and at sign-in; nothing is stored', async () => {
  const u = await node.services.identity.users.add({ email: 'huge@example.test', password: PASSWORD }, 'test');
  const { browser } = await signIn(node, app, AUD, 'huge@example.test', PASSWORD);
  const page = await browser.request(account);
  const csrf = dataCsrf(page.body);
  const huge = JSON.stringify({ id: 'x', rawId: 'x', type: 'public-key', response: { clientDataJSON: 'A'.repeat(1 << 20), attestationObject: 'A' } });
  const r = await browser.request(`${account}/webauthn/register`, { form: { csrf, name: 'Huge', response: huge } });
  assert.equal(r.status, 413, r.body.slice(0, 200));
  assert.equal((JSON.parse(r.body) as { code: string }).code, 'request.body-too-large');
  assert.equal((await node.services.store.listWebAuthnCredentials(u.id)).length, 0);
  const { url } = await authorizationRequest(app.config, { resource: AUD });
  const b = new Browser();
  const start = await b.follow(url.toString(), node.urls.identity!);
  const pkBase = actionOf(start.body, 'login', node.urls.identity!).replace(/\/login$/, '');
  const v = await b.request(`${pkBase}/passkey/verify`, { form: { csrf: csrfOf(start.body), response: huge } });
  assert.equal(v.status, 413, v.body.slice(0, 200));
});

test('attack: a key name with a terminal escape (ESC, BEL), a C1 control, a line break or a right-to-left override is refused with 400 request.invalid naming the field; nothing is stored; a plain name then registers', async () => {
  const u = await node.services.identity.users.add({ email: 'escape-name@example.test', password: PASSWORD }, 'test');
  const { browser } = await signIn(node, app, AUD, 'escape-name@example.test', PASSWORD);
  const key = newKey();
  for (const [name, char] of [
    ['Key\u001b]0;pwned\u0007', 'U+001B'],
    ['Key\u001b[2J', 'U+001B'],
    ['Key\u009b2J', 'U+009B'],
    ['Key\u007f', 'U+007F'],
    ['Key\r\nSecond line', 'U+000D'],
    ['Key\tTab', 'U+0009'],
    ['Key\u202etxt.exe', 'U+202E'],
  ] as const) {
    const r = await addPasskey(browser, key, name);
    assert.equal(r.status, 400, `${JSON.stringify(name)}: ${JSON.stringify(r.body)}`);
    assert.equal(r.body['code'], 'request.invalid', JSON.stringify(name));
    assert.equal(r.body['error'], `name: control character ${char} is not allowed`);
  }
  assert.equal((await node.services.store.listWebAuthnCredentials(u.id)).length, 0);
  const ok = await addPasskey(browser, key, '  Zoë’s key 🔑  ');
  assert.equal(ok.status, 200, JSON.stringify(ok.body));
  assert.deepEqual((await node.services.store.listWebAuthnCredentials(u.id)).map((k) => k.name), ['Zoë’s key 🔑']);
});
