/**
 * A change of how an account is protected reaches the webhook subscribers, so a
 * deployment can tell the user (OWASP MFA cheat sheet: notify the user of a factor added or
 * removed; NIST SP 800-63B §6.1.2: notify of an authenticator bound or removed): an
 * attacker with a stolen session who plants a passkey or strips a factor is then seen
 * by the user, not only in the operator's audit trail. Events carry the user id and the
 * factor, never a secret (no TOTP seed, no recovery code, no address).
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { verifyWebhook } from '../../src/sdk/index.js';
import { actionOf, csrfOf, type Browser } from '../support/oidc-harness.js';
import { enrolTotp, registerOidcApp, signIn, startOidcNode, totpCode, type OidcApp } from '../support/oidc-node.js';
import type { TestNode } from '../support/portcullis.js';
import { startReceiver, type Receiver } from '../webhooks/helpers.js';

const AUD = 'https://api.example.test';
const PASSWORD = 'plum tractor velvet orbit';
let node: TestNode;
let app: OidcApp;
let rx: Receiver;
let account: string;

before(async () => {
  node = await startOidcNode('webhooks: { allowPrivateTargets: true }');
  app = await registerOidcApp(node, AUD);
  account = `${node.urls.identity}/account`;
  rx = await startReceiver('/portcullis/events');
});
after(async () => {
  await rx?.close();
  await node?.stop();
});

async function submit(browser: Browser, html: string, action: string, fields: Record<string, string>) {
  return browser.request(actionOf(html, action, node.urls.identity!), { form: { csrf: csrfOf(html), ...fields } });
}

async function deliveries(userId: string, type: string, n: number) {
  const start = Date.now();
  for (;;) {
    const got = rx.received.filter((r) => {
      const e = JSON.parse(r.body.toString('utf8')) as { type: string; data: { userId?: string } };
      return e.type === type && e.data.userId === userId;
    });
    if (got.length >= n) return Promise.all(got.map(async (r) => (await verifyWebhook(rx.asRequest(r), { jwksUrl: `${node.urls.identity}/jwks` })).event));
    if (Date.now() - start > 5000) assert.fail(`${n} ${type} deliveries for ${userId}: got ${got.length}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

test('factor added, factor removed, recovery codes renewed on the account page: each reaches the subscriber, signed, without a secret', async () => {
  const res = await fetch(`${node.urls.admin}/v1/webhooks`, {
    method: 'POST',
    headers: { authorization: `Bearer ${node.adminToken}`, 'content-type': 'application/json' },
    body: JSON.stringify({ url: rx.url, events: ['user.factor-added', 'user.factor-removed', 'user.recovery-codes-generated'] }),
  });
  assert.equal(res.status, 201, await res.text());

  const u = await node.services.identity.users.add({ email: 'notify@example.test', password: PASSWORD }, 'test');
  const secret = await enrolTotp(node, u.id);
  const { browser } = await signIn(node, app, AUD, 'notify@example.test', PASSWORD, { totpSecret: secret });
  let page = await browser.request(account);
  const renewed = await submit(browser, page.body, 'factors/recovery-codes', { 'current-password': PASSWORD });
  assert.equal(renewed.status, 200, renewed.body.slice(0, 300));
  const codes = [...renewed.body.matchAll(/<li><code>([^<]+)<\/code><\/li>/g)].map((m) => m[1]!);
  assert.equal(codes.length, 10);

  page = await browser.request(account);
  const removed = await submit(browser, page.body, 'factors/remove', { 'current-password': PASSWORD, factor: 'totp' });
  assert.equal(removed.status, 200, removed.body.slice(0, 300));
  page = await browser.request(account);
  const started = await submit(browser, page.body, 'factors/enroll', { 'current-password': PASSWORD, factor: 'totp' });
  const seed = /id="totp-secret">([A-Z2-7]+)</.exec(started.body)![1]!;
  const added = await submit(browser, started.body, 'factors/confirm', { factor: 'totp', code: totpCode(seed, Date.now() + 30_000) });
  assert.equal(added.status, 200, added.body.slice(0, 300));

  const [gen] = await deliveries(u.id, 'user.recovery-codes-generated', 1);
  const [rem] = await deliveries(u.id, 'user.factor-removed', 1);
  const [add] = await deliveries(u.id, 'user.factor-added', 1);
  assert.equal(gen!.data['userId'], u.id);
  assert.equal(rem!.data['factor'], 'totp');
  assert.equal(add!.data['factor'], 'totp');
  assert.equal((add as unknown as { actor: string }).actor, `user:${u.id}`);
  const all = rx.received.map((r) => r.body.toString('utf8')).join('\n');
  for (const s of [secret, seed, ...codes]) assert.ok(!all.includes(s), 'no secret in a webhook');
});

test('a password chosen from an invite (a reset when the user had one) and an MFA reset by an administrator reach the subscriber', async () => {
  const res = await fetch(`${node.urls.admin}/v1/webhooks`, {
    method: 'POST',
    headers: { authorization: `Bearer ${node.adminToken}`, 'content-type': 'application/json' },
    body: JSON.stringify({ url: rx.url, events: ['user.password-set', 'user.mfa-reset'] }),
  });
  assert.equal(res.status, 201, await res.text());
  const u = await node.services.identity.users.add({ email: 'reset@example.test', password: PASSWORD }, 'test');
  await node.services.identity.users.setPassword(u.id, 'another quite long phrase', 'admin');
  await node.services.identity.users.resetMfa(u.id, 'admin');
  const [pw] = await deliveries(u.id, 'user.password-set', 1);
  const [mfa] = await deliveries(u.id, 'user.mfa-reset', 1);
  assert.deepEqual(pw!.data, { userId: u.id });
  assert.deepEqual(mfa!.data, { userId: u.id });
  assert.ok(!rx.received.some((r) => r.body.toString('utf8').includes('another quite long phrase')));
});
