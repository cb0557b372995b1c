/**
 * A recovery code is the account's way back in when the second factor is lost, so one
 * stolen with the password (a printout, a password manager export) signs an attacker in
 * as the victim's second factor would. Its use must reach the user (NIST SP 800-63B-4 on
 * account recovery: notify the subscriber), and the user must be able to see how many codes
 * are left, else a spent code goes unseen. A sign-in with a recovery code records
 * `user.recovery-code-used` (with the codes left, never the code), which raises the webhook
 * of the same name, and the account page shows the count.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { verifyWebhook } from '../../src/sdk/index.js';
import { Browser } from '../support/oidc-harness.js';
import { authorizationRequest, enrolTotp, post, REDIRECT, registerOidcApp, startOidcNode, type OidcApp } from '../support/oidc-node.js';
import type { TestNode } from '../support/portcullis.js';
import { startReceiver, type Receiver } from '../webhooks/helpers.js';

const AUD = 'https://api.example.test';
const PASSWORD = 'plum tractor velvet orbit';
let node: TestNode;
let app: OidcApp;
let rx: Receiver;

before(async () => {
  node = await startOidcNode('webhooks: { allowPrivateTargets: true }');
  app = await registerOidcApp(node, AUD);
  rx = await startReceiver('/portcullis/events');
});
after(async () => {
  await rx?.close();
  await node?.stop();
});

async function delivered(userId: string, type: string) {
  const start = Date.now();
  for (;;) {
    const got = rx.received.find((r) => {
      const e = JSON.parse(r.body.toString('utf8')) as { type: string; data: { userId?: string } };
      return e.type === type && e.data.userId === userId;
    });
    if (got) return (await verifyWebhook(rx.asRequest(got), { jwksUrl: `${node.urls.identity}/jwks` })).event;
    if (Date.now() - start > 5000) assert.fail(`no ${type} delivery for ${userId}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

test('attack: a recovery code stolen with the password signs in unseen — its use reaches the subscriber (user.recovery-code-used, codes left) and the account page shows the count', async () => {
  const res = await fetch(`${node.urls.admin}/v1/webhooks`, {
    method: 'POST',
    headers: { authorization: `Bearer ${node.adminToken}`, 'content-type': 'application/json' },
    body: JSON.stringify({ url: rx.url, events: ['*'] }),
  });
  assert.equal(res.status, 201, await res.text());

  const issuer = node.urls.identity!;
  const u = await node.services.identity.users.add({ email: 'rc-used@example.test', password: PASSWORD }, 'test');
  await enrolTotp(node, u.id);
  const rc = node.services.identity.factors.find((f) => f.id === 'recovery-code')!;
  const codes = (await rc.enroll({ userId: u.id })).codes!;

  // the attacker: the password and one code
  const browser = new Browser();
  const { url } = await authorizationRequest(app.config, { scope: 'openid', resource: AUD });
  let r = await browser.follow(url, issuer);
  r = await post(browser, issuer, r.body, 'login', { email: 'rc-used@example.test', password: PASSWORD });
  assert.match(r.body, /Second step/);
  r = await post(browser, issuer, r.body, 'mfa', { factor: 'recovery-code', code: codes[3]! });
  if (r.location?.startsWith(issuer)) r = await browser.follow(r.location, issuer);
  assert.ok(r.body.includes('Allow access?') || r.location?.startsWith(REDIRECT), `signed in with the code: ${r.status} ${r.body.slice(0, 300)}`);

  const used = await delivered(u.id, 'user.recovery-code-used');
  assert.deepEqual(used.data, { userId: u.id, remaining: 9 });
  const all = rx.received.map((x) => x.body.toString('utf8')).join('\n');
  for (const c of codes) assert.ok(!all.includes(c) && !all.includes(c.replace(/-/g, '')), 'no recovery code in a webhook');

  // the user sees how many are left
  const page = await browser.request(`${issuer}/account`);
  assert.equal(page.status, 200, page.body.slice(0, 300));
  assert.match(page.body, /id="recovery-codes-left">9 of 10 recovery codes left</);
});
