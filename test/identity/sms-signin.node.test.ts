/**
 * One-time codes by SMS as a second factor on a whole node (app.ts composition):
 * `identity.otp` with channel `sms` and the webhook sender, which POSTs JSON to a real
 * local HTTP server standing in for the SMS provider. openid-client is the app, the
 * cookie-keeping no-JavaScript browser the user.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import * as client from 'openid-client';
import { decodeJwt } from 'jose';
import { ACR_MFA } from '../../src/gateway/assurance-policy.js';
import { Browser } from '../support/oidc-harness.js';
import { authorizationRequest, type OidcApp, post, REDIRECT, registerOidcApp, startOidcNode } from '../support/oidc-node.js';
import type { TestNode } from '../support/portcullis.js';
import { OTP_TAG, verifyWebhook } from '../../src/sdk/index.js';
import { startReceiver, type Receiver } from '../webhooks/helpers.js';

const AUD = 'https://api.example.test';
const PASSWORD = 'plum tractor velvet orbit';
const PHONE = '+15551234567';
let node: TestNode;
let app: OidcApp;
let provider: Receiver;

before(async () => {
  provider = await startReceiver('/sms/send');
  node = await startOidcNode(`identity:\n  otp: { channel: sms, sender: webhook, webhook: { url: '${provider.url}', headers: { authorization: 'Bearer provider-token' } } }`);
  app = await registerOidcApp(node, AUD);
});
after(async () => {
  await node?.stop();
  await provider?.close();
});

interface SmsMessage {
  channel: string;
  to: string;
  text: string;
  code: string;
  purpose: string;
  expiresAt: number;
}

/** The newest message the SMS provider received for `to`. */
function lastSms(to: string): SmsMessage {
  const m = provider.received.map((r) => JSON.parse(r.body.toString('utf8')) as SmsMessage).findLast((x) => x.to === to);
  assert.ok(m, `no SMS to ${to}`);
  return m;
}

async function begin() {
  const issuer = node.urls.identity!;
  const { url, verifier, state } = await authorizationRequest(app.config, { resource: AUD });
  const browser = new Browser();
  const page = await browser.follow(url.toString(), issuer);
  assert.match(page.body, /Sign in/);
  return { browser, page, verifier, state, issuer };
}

type Flow = Awaited<ReturnType<typeof begin>>;

async function password(flow: Flow, email: string, pw = PASSWORD) {
  return post(flow.browser, flow.issuer, flow.page.body, 'login', { email, password: pw });
}

/** Follows to consent, allows, and redeems the code. */
async function tokensFor(flow: Flow, r: { status: number; location: string | undefined; body: string }) {
  let res = r;
  if (res.location?.startsWith(flow.issuer)) res = await flow.browser.follow(res.location, flow.issuer);
  if (res.body.includes('Allow access?')) {
    res = await post(flow.browser, flow.issuer, res.body, 'consent', {});
    if (res.location?.startsWith(flow.issuer)) res = await flow.browser.follow(res.location, flow.issuer);
  }
  assert.ok(res.location?.startsWith(REDIRECT), `expected a redirect to the app, got ${res.status} ${res.location} ${res.body.slice(0, 300)}`);
  return client.authorizationCodeGrant(app.config, new URL(res.location!), { pkceCodeVerifier: flow.verifier, expectedState: flow.state }, { resource: AUD });
}

test('SMS second factor end to end: enrolment at first sign-in (MFA required for the user), the code POSTed as JSON to the SMS provider, then a sign-in with a texted code (amr sms, MFA acr)', async () => {
  const user = await node.services.identity.users.add({ email: 'sms@example.test', password: PASSWORD, mfaRequired: true }, 'test');

  const first = await begin();
  const enrol = await password(first, 'sms@example.test');
  assert.match(enrol.body, /Set up a second factor/);
  assert.match(enrol.body, /Code by text message/);
  assert.match(enrol.body, /name="factor" value="sms"/);
  assert.doesNotMatch(enrol.body, /name="factor" value="email"/, 'only the configured channel is offered');
  const sent = await post(first.browser, first.issuer, enrol.body, 'enroll', { factor: 'sms', address: PHONE });
  assert.equal(sent.status, 200, sent.body.slice(0, 400));
  assert.match(sent.body, /Confirm your phone number/);
  assert.match(sent.body, /A code was sent to \+15\*{7}67/);

  // What the provider received: JSON with the configured Authorization header.
  const hit = provider.received.at(-1)!;
  assert.equal(hit.method, 'POST');
  assert.equal(hit.url, '/sms/send');
  assert.equal(hit.headers['content-type'], 'application/json');
  assert.equal(hit.headers.authorization, 'Bearer provider-token');
  // signed with the identity plane's key and the OTP tag: the provider's bridge verifies it with the published JWKS
  const signed = await verifyWebhook<SmsMessage>(provider.asRequest(hit), { jwksUrl: `${node.urls.identity}/jwks`, tag: OTP_TAG });
  assert.equal(signed.event.to, PHONE);
  const m1 = lastSms(PHONE);
  assert.equal(m1.channel, 'sms');
  assert.equal(m1.purpose, 'enroll');
  assert.match(m1.code, /^\d{6}$/);
  assert.ok(m1.text.startsWith(`${m1.code} is your Portcullis verification code`));
  assert.ok(m1.expiresAt - Date.now() <= 5 * 60_000 && m1.expiresAt - Date.now() > 4 * 60_000, 'expires in 5 minutes');

  const confirmed = await post(first.browser, first.issuer, sent.body, 'enroll-confirm', { factor: 'sms', code: m1.code });
  assert.match(confirmed.body, /Save your recovery codes/);
  const t1 = await tokensFor(first, await post(first.browser, first.issuer, confirmed.body, 'continue', {}));
  const at1 = decodeJwt(t1.access_token);
  assert.equal(at1.sub, user.id);
  assert.deepEqual(at1['amr'], ['pwd', 'sms', 'otp']);
  assert.equal(at1['acr'], ACR_MFA);
  assert.deepEqual((await node.services.identity.users.view(user)).factors.sort(), ['recovery-code', 'sms']);

  // Second sign-in: the second step offers the texted code.
  const second = await begin();
  const step = await password(second, 'sms@example.test');
  assert.match(step.body, /Second step/);
  assert.match(step.body, /Code by text message/);
  // attack: SMS pumping — another text within 30 s of the last one is refused.
  const pumped = await post(second.browser, second.issuer, step.body, 'send-code', { factor: 'sms' });
  assert.equal(pumped.status, 429);
  assert.match(pumped.body, /A code was sent a moment ago; wait before asking for another \(30 s\)/);
  const before = provider.received.length;
  // 30 s later (the resend interval is a TTL in the ephemeral store).
  await node.services.ephemeral.delete(`mfa:otp-send:sms:${user.id}`);
  const asked = await post(second.browser, second.issuer, step.body, 'send-code', { factor: 'sms' });
  assert.equal(asked.status, 200, asked.body.slice(0, 400));
  assert.match(asked.body, /A code was sent to \+15\*{7}67/);
  assert.equal(provider.received.length, before + 1);
  const m2 = lastSms(PHONE);
  assert.equal(m2.purpose, 'sign-in');
  // attack: the enrolment code does not sign in.
  if (m1.code !== m2.code) assert.equal((await post(second.browser, second.issuer, asked.body, 'mfa', { factor: 'sms', code: m1.code })).status, 401);
  const t2 = await tokensFor(second, await post(second.browser, second.issuer, asked.body, 'mfa', { factor: 'sms', code: m2.code }));
  const at2 = decodeJwt(t2.access_token);
  assert.deepEqual(at2['amr'], ['pwd', 'sms', 'otp']);
  assert.equal(at2['acr'], ACR_MFA);

  // attack: the texted code is single use.
  const third = await begin();
  const again = await post(third.browser, third.issuer, (await password(third, 'sms@example.test')).body, 'mfa', { factor: 'sms', code: m2.code });
  assert.equal(again.status, 401);
});

test('attack: SMS code guessing through the sign-in pages hits the attempt cap (429, clear message); no new code is texted while throttled', async () => {
  const user = await node.services.identity.users.add({ email: 'sms-guess@example.test', password: PASSWORD }, 'test');
  const sms = node.services.identity.factors.find((f) => f.id === 'sms')!;
  await sms.enroll({ userId: user.id, address: '+15557654321' });
  await sms.confirm({ userId: user.id }, lastSms('+15557654321').code);
  await node.services.ephemeral.delete(`mfa:otp-send:sms:${user.id}`);

  const flow = await begin();
  const step = await password(flow, 'sms-guess@example.test');
  const asked = await post(flow.browser, flow.issuer, step.body, 'send-code', { factor: 'sms' });
  assert.equal(asked.status, 200);
  const code = lastSms('+15557654321').code;
  const wrong = code === '000000' ? '000001' : '000000';
  const statuses: number[] = [];
  let last;
  for (let i = 0; i < 7; i++) {
    last = await post(flow.browser, flow.issuer, asked.body, 'mfa', { factor: 'sms', code: wrong });
    statuses.push(last.status);
  }
  // Five free failures and a sixth that sets a delay, all 401; the seventh must wait.
  assert.deepEqual(statuses, [401, 401, 401, 401, 401, 401, 429]);
  assert.match(last!.body, /Too many failed attempts/);
  const failures = (await node.services.identity.lockout.state('account', user.id)).failures;
  assert.equal(failures, 6);
  // The right code is refused too while the account waits.
  const right = await post(flow.browser, flow.issuer, asked.body, 'mfa', { factor: 'sms', code });
  assert.equal(right.status, 429);
  // And no code is texted while throttled.
  const n = provider.received.length;
  await node.services.ephemeral.delete(`mfa:otp-send:sms:${user.id}`);
  const resend = await post(flow.browser, flow.issuer, asked.body, 'send-code', { factor: 'sms' });
  assert.equal(resend.status, 429);
  assert.equal(provider.received.length, n);
});

test('the SMS provider refuses a code: the sign-in page says the code could not be sent (502), names no provider URL, and the user can ask again at once', async () => {
  await node.services.identity.users.add({ email: 'sms-down@example.test', password: PASSWORD, mfaRequired: true }, 'test');
  const flow = await begin();
  const enrol = await password(flow, 'sms-down@example.test');
  assert.match(enrol.body, /Set up a second factor/);
  provider.script = [503];
  const failed = await post(flow.browser, flow.issuer, enrol.body, 'enroll', { factor: 'sms', address: '+15559876543' });
  assert.equal(failed.status, 502);
  assert.match(failed.body, /Set up a second factor/, 'the enrolment page again, with the message');
  assert.match(failed.body, /The code could not be sent/);
  assert.doesNotMatch(failed.body, /127\.0\.0\.1|\/sms\/send/, 'the provider is not named to the user');
  // the operator's record: which factor failed for whom, without the address or the provider
  await node.services.audit.flush();
  const row = (await node.services.store.tailAudit(50)).findLast((r) => r.type === 'mfa.delivery-failed');
  assert.ok(row, 'the failed delivery is audited');
  assert.equal(row.reason, 'mfa.delivery-failed');
  assert.deepEqual(row.data, { factor: 'sms', purpose: 'enroll' });
  assert.doesNotMatch(JSON.stringify(row), /9876543|127\.0\.0\.1|provider-token/);
  // nothing was sent, so the resend interval does not hold the user back: asking again works at once
  const again = await post(flow.browser, flow.issuer, enrol.body, 'enroll', { factor: 'sms', address: '+15559876543' });
  assert.equal(again.status, 200, again.body.slice(0, 300));
  assert.match(again.body, /A code was sent to/);
});
