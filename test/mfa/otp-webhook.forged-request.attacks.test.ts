/**
 * Attack: a forged request to the SMS gateway. The OTP webhook sender signs each POST
 * as event webhooks are signed (RFC 9421 over method, target URI, Content-Digest and
 * Content-Type; RFC 9530 digest of the body), but with its own tag `portcullis-otp`
 * (test/webhooks/purpose-and-replay.attacks.test.ts), with the identity plane's key, so the
 * gateway verifies it with the published JWKS. A real key ring on a SQLite file signs;
 * a real HTTP receiver gets the request; the SDK's verifyWebhook checks it.
 */
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FrozenClock } from '../../src/core/clock.js';
import { PortcullisError } from '../../src/core/errors.js';
import type { OtpMessage } from '../../src/mfa/otp/senders/sender.js';
import { WebhookSender } from '../../src/mfa/otp/senders/webhook.js';
import { OTP_TAG, verifyWebhook } from '../../src/sdk/index.js';
import { contentDigest } from '../../src/signatures/content-digest.js';
import { newMasterKey, openDeps, startReceiver } from '../webhooks/helpers.js';

const dir = mkdtempSync(join(tmpdir(), 'portcullis-otp-webhook-'));
after(() => rmSync(dir, { recursive: true, force: true }));

const message: OtpMessage = {
  channel: 'sms',
  to: '+15551234567',
  code: '493817',
  purpose: 'sign-in',
  expiresAt: Date.now() + 300_000,
  subject: 'Your Portcullis verification code',
  text: '493817 is your Portcullis verification code. It expires in 5 minutes. Do not share it.',
};

const rejectsCode = (p: Promise<unknown>, code: string) => assert.rejects(p, (e: unknown) => e instanceof PortcullisError && e.code === code);

test('attack: forged SMS request — the OTP webhook is signed with the published key; a tampered body fails verification', async () => {
  const clock = new FrozenClock(Date.now());
  const deps = await openDeps(`sqlite:${join(dir, 'a.db')}`, newMasterKey(), clock);
  const rx = await startReceiver('/sms/send');
  try {
    const jwks = () => deps.keys.jwks() as { keys: Array<{ kty: string; kid?: string }> };
    await new WebhookSender({ url: `${rx.url}?route=otp`, headers: { authorization: 'Bearer provider-token' }, signer: deps.signer }).send(message);
    assert.equal(rx.received.length, 1);
    const got = rx.received[0]!;
    assert.equal(got.headers.authorization, 'Bearer provider-token');
    assert.match(String(got.headers['signature-input']), /^sig1=\("@method" "@target-uri" "content-digest" "content-type"\);created=\d+;keyid="[^"]+";nonce="[A-Za-z0-9_-]{22}";tag="portcullis-otp"$/);

    const v = await verifyWebhook<Record<string, unknown>>(rx.asRequest(got), { keys: jwks(), tag: OTP_TAG });
    assert.equal(v.keyid, deps.keys.signingKey().kid);
    assert.deepEqual(v.event, { channel: 'sms', to: message.to, text: message.text, code: message.code, purpose: 'sign-in', expiresAt: message.expiresAt });

    // another number in the body: the digest no longer matches
    const tampered = { ...got, body: Buffer.from(got.body.toString().replace('+15551234567', '+15557654321')) };
    await rejectsCode(verifyWebhook(rx.asRequest(tampered), { keys: jwks(), tag: OTP_TAG }), 'digest.mismatch');
    // …and with a Content-Digest recomputed by the forger, the signature no longer covers it
    const redigested = { ...tampered, headers: { ...got.headers, 'content-digest': await contentDigest(tampered.body, ['sha-256']) } };
    await rejectsCode(verifyWebhook(rx.asRequest(redigested), { keys: jwks(), tag: OTP_TAG }), 'signature.invalid');
    // the same request replayed to another path of the gateway
    await rejectsCode(verifyWebhook(rx.asRequest(got), { keys: jwks(), tag: OTP_TAG, url: rx.url.replace('/sms/send', '/sms/other') }), 'signature.invalid');
    // a request with no signature at all (what an unsigned sender posts) is refused
    const unsigned = { ...got, headers: { ...got.headers, 'signature-input': undefined, signature: undefined } };
    await rejectsCode(verifyWebhook(rx.asRequest(unsigned), { keys: jwks(), tag: OTP_TAG }), 'signature.missing');
  } finally {
    await rx.close();
    await deps.store.close();
  }
});
