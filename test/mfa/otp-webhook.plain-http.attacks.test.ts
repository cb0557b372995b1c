/**
 * The `webhook` OTP sender took a plain `http:` URL and only warned: every one-time code
 * (a second-factor secret), the number it goes to, its RFC 9421 signature and the
 * provider's Authorization header then crossed the network readable by anyone on the path.
 * Such a URL is now `config.invalid` naming `identity.otp.webhook.url`, unless its host is a
 * loopback IP literal (traffic never leaves the machine) or the operator sets
 * `identity.otp.webhook.allowInsecureHttp: true` (an SMS bridge reachable only over plain
 * http on a network they trust), as event webhooks do with `webhooks.allowInsecureHttp`.
 * A NAT64 address embedding a loopback one (`64:ff9b::7f00:1`) is not a loopback literal:
 * its traffic goes through a NAT64 translator, off the host.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { validateConfig } from '../../src/core/config/load.js';
import { isPortcullisError } from '../../src/core/errors.js';

const REFUSED =
  'identity.otp.webhook.url: a plain http: URL sends every one-time code, its signature and the provider credentials across the network in clear; use https:, or set identity.otp.webhook.allowInsecureHttp: true if the SMS bridge is reachable only over plain http on a network you trust (a loopback IP literal such as 127.0.0.1 needs neither)';

function load(webhook: Record<string, unknown>) {
  return validateConfig({ identity: { otp: { channel: 'sms', sender: 'webhook', webhook } } });
}

function configError(webhook: Record<string, unknown>): string {
  try {
    load(webhook);
  } catch (e) {
    assert.ok(isPortcullisError(e) && e.code === 'config.invalid', String(e));
    return e.message;
  }
  assert.fail(`accepted: ${JSON.stringify(webhook)}`);
}

test('attack: OTP webhook over plain http to a network host → config.invalid naming identity.otp.webhook.url', () => {
  assert.equal(configError({ url: 'http://sms-bridge.internal/send' }), `invalid configuration:\n  ${REFUSED}`);
  assert.equal(configError({ url: 'http://10.0.0.7:8080/send' }), `invalid configuration:\n  ${REFUSED}`);
});

test('attack: OTP webhook over plain http to a NAT64 address embedding 127.0.0.1 (leaves the host through the translator) → config.invalid naming identity.otp.webhook.url', () => {
  for (const url of ['http://[64:ff9b::7f00:1]/', 'http://[64:ff9b::127.0.0.1]:9000/send']) assert.equal(configError({ url }), `invalid configuration:\n  ${REFUSED}`, url);
});

test('a localhost name is not a loopback literal (the resolver decides where it goes) → refused too', () => {
  assert.equal(configError({ url: 'http://localhost:8080/send' }), `invalid configuration:\n  ${REFUSED}`);
});

test('the error never quotes the URL (it may hold provider credentials)', () => {
  assert.ok(!configError({ url: 'http://AC1:url-s3cret@sms.example.com/send?key=q-s3cret' }).includes('s3cret'));
});

test('loopback IP literals, https, and an explicit opt-in still load', () => {
  for (const url of ['http://127.0.0.1:9000/send', 'http://127.8.0.1/send', 'http://[::1]:9000/send', 'http://[::ffff:127.0.0.1]:9000/send', 'https://sms.example.com/send']) {
    assert.equal(load({ url }).identity.otp.webhook?.url, url);
  }
  const optedIn = load({ url: 'http://sms-bridge.internal/send', allowInsecureHttp: true }).identity.otp.webhook;
  assert.equal(optedIn?.allowInsecureHttp, true);
  assert.equal(load({ url: 'https://sms.example.com/send' }).identity.otp.webhook?.allowInsecureHttp, false);
});
