/**
 * Attacks on the receivers of what Portcullis POSTs:
 * - purpose confusion: an OTP message (the SMS bridge's "text this code to this number")
 *   and an event webhook are both signed with the identity plane's key; each carries its
 *   own tag (`portcullis-otp`, `portcullis-webhook`), and the SDK's verifyWebhook refuses
 *   the other one with `signature.wrong-tag`, in both directions;
 * - replay: each signature carries a fresh 128-bit `nonce`; verifyWebhook remembers the
 *   nonces it accepted until the signature's window closes and refuses a second delivery
 *   of the same request with `signature.replayed` (its own bounded store, or the caller's).
 * Real key ring on SQLite, real OTP sender and delivery worker, a real HTTP receiver.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FrozenClock } from '../../src/core/clock.js';
import { PortcullisError } from '../../src/core/errors.js';
import { silentLogger } from '../../src/core/logger.js';
import type { OtpMessage } from '../../src/mfa/otp/senders/sender.js';
import { WebhookSender } from '../../src/mfa/otp/senders/webhook.js';
import * as sdk from '../../src/sdk/index.js';
import { DeliveryWorker } from '../../src/webhooks/worker.js';
import { newMasterKey, openDeps, startReceiver, type Deps, type Received, type Receiver } from './helpers.js';

const { verifyWebhook } = sdk;
const dir = mkdtempSync(join(tmpdir(), 'portcullis-webhook-purpose-'));
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

async function rejectsWith(p: Promise<unknown>, code: string, message?: string): Promise<void> {
  await assert.rejects(p, (e: unknown) => {
    assert.ok(e instanceof PortcullisError, `expected a PortcullisError, got ${String(e)}`);
    assert.equal(e.code, code);
    if (message !== undefined) assert.equal(e.message, message);
    return true;
  });
}

/** A store shared by two receiver instances (what Redis would be), recording what it is asked. */
class SharedStore {
  readonly calls: Array<[string, number]> = [];
  private readonly seenNonces = new Map<string, number>();
  async seen(nonce: string, expiresAt: number): Promise<boolean> {
    this.calls.push([nonce, expiresAt]);
    if (this.seenNonces.has(nonce)) return true;
    this.seenNonces.set(nonce, expiresAt);
    return false;
  }
}

describe('webhook purpose (tag) and replay', () => {
  let deps: Deps;
  let sms: Receiver;
  let hooks: Receiver;
  let otp: Received;
  let event: Received;
  const jwks = () => deps.keys.jwks() as { keys: Array<{ kty: string; kid?: string }> };

  before(async () => {
    const clock = new FrozenClock(Date.now());
    deps = await openDeps(`sqlite:${join(dir, 'a.db')}`, newMasterKey(), clock);
    sms = await startReceiver('/sms/send');
    hooks = await startReceiver('/hooks/in');
    // the node hands the OTP sender the same key-ring signer as the delivery worker
    await new WebhookSender({ url: sms.url, signer: deps.signer }).send(message);
    await deps.webhooks.subscribe({ url: hooks.url, events: ['app.tokens-revoked'] }, 'admin');
    await deps.webhooks.enqueue('app.tokens-revoked', { time: clock.now(), type: 'app.tokens-revoked', actor: 'admin', clientId: 'app-1' });
    await new DeliveryWorker(deps.hooks, deps.signer, clock, silentLogger, { baseDelayMs: 1000, jitter: 0, timeoutMs: 5000, leaseMs: 30_000, allowPrivateTargets: true }).runOnce();
    assert.equal(sms.received.length, 1);
    assert.equal(hooks.received.length, 1);
    otp = sms.received[0]!;
    event = hooks.received[0]!;
  });
  after(async () => {
    await sms.close();
    await hooks.close();
    await deps.store.close();
  });

  test('the SDK exports both tags; the OTP message and the event webhook carry their own tag and a fresh 128-bit nonce', () => {
    assert.equal(sdk.WEBHOOK_TAG, 'portcullis-webhook');
    assert.equal(sdk.OTP_TAG, 'portcullis-otp');
    // an event also covers its delivery id; a one-time-code message has none
    const shape = (tag: string, extra = '') => new RegExp(`^sig1=\\("@method" "@target-uri" "content-digest" "content-type"${extra}\\);created=\\d+;keyid="[^"]+";nonce="([A-Za-z0-9_-]{22})";tag="${tag}"$`);
    const otpNonce = shape('portcullis-otp').exec(String(otp.headers['signature-input']))?.[1];
    const eventNonce = shape('portcullis-webhook', ' "portcullis-delivery"').exec(String(event.headers['signature-input']))?.[1];
    assert.ok(otpNonce, String(otp.headers['signature-input']));
    assert.ok(eventNonce, String(event.headers['signature-input']));
    assert.notEqual(otpNonce, eventNonce);
  });

  test('attack: an OTP message presented to an event-webhook receiver is refused with signature.wrong-tag', async () => {
    await rejectsWith(
      verifyWebhook(sms.asRequest(otp), { keys: jwks(), url: sms.url, replayStore: new SharedStore() }),
      'signature.wrong-tag',
      'the message is signed with tag "portcullis-otp" (a one-time-code message), not "portcullis-webhook" (an event webhook)',
    );
    // the default tag is the event webhooks' one
    await rejectsWith(verifyWebhook(sms.asRequest(otp), { keys: jwks(), tag: 'portcullis-webhook', replayStore: new SharedStore() }), 'signature.wrong-tag');
  });

  test('attack: an event webhook presented to the OTP receiver is refused with signature.wrong-tag', async () => {
    await rejectsWith(
      verifyWebhook(hooks.asRequest(event), { keys: jwks(), tag: 'portcullis-otp', replayStore: new SharedStore() }),
      'signature.wrong-tag',
      'the message is signed with tag "portcullis-webhook" (an event webhook), not "portcullis-otp" (a one-time-code message)',
    );
  });

  test('attack: a signature without a tag, or with an unknown one, is signature.wrong-tag too; an unsigned message stays signature.missing', async () => {
    const untagged = { ...event, headers: { ...event.headers, 'signature-input': String(event.headers['signature-input']).replace(';tag="portcullis-webhook"', '') } };
    await rejectsWith(verifyWebhook(hooks.asRequest(untagged), { keys: jwks(), replayStore: new SharedStore() }), 'signature.wrong-tag', 'the message is signed without a tag, not "portcullis-webhook" (an event webhook)');
    const other = { ...event, headers: { ...event.headers, 'signature-input': String(event.headers['signature-input']).replace('portcullis-webhook', 'other') } };
    await rejectsWith(verifyWebhook(hooks.asRequest(other), { keys: jwks(), replayStore: new SharedStore() }), 'signature.wrong-tag', 'the message is signed with tag "other", not "portcullis-webhook" (an event webhook)');
    const unsigned = { ...event, headers: { ...event.headers, 'signature-input': undefined, signature: undefined } };
    await rejectsWith(verifyWebhook(hooks.asRequest(unsigned), { keys: jwks(), replayStore: new SharedStore() }), 'signature.missing');
  });

  test('a fresh OTP message is accepted by the OTP receiver, and the same request replayed is signature.replayed', async () => {
    const store = new SharedStore();
    const v = await verifyWebhook<Record<string, unknown>>(sms.asRequest(otp), { keys: jwks(), tag: sdk.OTP_TAG, replayStore: store });
    assert.equal(v.params.tag, 'portcullis-otp');
    assert.equal(v.event.code, '493817');
    assert.equal(v.event.to, '+15551234567');
    // the store is told to remember the nonce until the signature's window closes: the end of second created + maxAge (300) + skew (30)
    assert.deepEqual(store.calls, [[v.params.nonce, (v.params.created! + 331) * 1000]]);
    await rejectsWith(verifyWebhook(sms.asRequest(otp), { keys: jwks(), tag: sdk.OTP_TAG, replayStore: store }), 'signature.replayed', 'the message was already received (its signature nonce was seen before): a replay');
  });

  test('a fresh event webhook is accepted with the built-in replay store, and its replay is signature.replayed', async () => {
    const v = await verifyWebhook(hooks.asRequest(event), { keys: jwks() });
    assert.equal(v.params.tag, 'portcullis-webhook');
    assert.equal(v.event.type, 'app.tokens-revoked');
    await rejectsWith(verifyWebhook(hooks.asRequest(event), { keys: jwks() }), 'signature.replayed');
  });

  test('attack: a nonce is recorded only once the signature verifies (a forged message cannot burn or fill the store)', async () => {
    const store = new SharedStore();
    const forged = { ...event, headers: { ...event.headers, 'content-type': 'text/plain' } };
    await rejectsWith(verifyWebhook(hooks.asRequest(forged), { keys: jwks(), replayStore: store }), 'signature.invalid');
    assert.equal(store.calls.length, 0);
    await verifyWebhook(hooks.asRequest(event), { keys: jwks(), replayStore: store });
    assert.equal(store.calls.length, 1);
  });

  test('attack: a signature without a nonce (nothing to detect a replay by) is signature.parameter-missing', async () => {
    const sigInput = String(event.headers['signature-input']);
    const noNonce = { ...event, headers: { ...event.headers, 'signature-input': sigInput.replace(/;nonce="[^"]+"/, '') } };
    assert.notEqual(noNonce.headers['signature-input'], sigInput);
    await rejectsWith(verifyWebhook(hooks.asRequest(noNonce), { keys: jwks(), replayStore: new SharedStore() }), 'signature.parameter-missing', 'signature "sig1" has no nonce parameter');
  });
});

describe('MemoryReplayStore', () => {
  test('remembers a nonce until its expiry, then forgets it', () => {
    let now = 1_000_000;
    const store = new sdk.MemoryReplayStore({ now: () => now });
    assert.equal(store.seen('n1', now + 1000), false);
    assert.equal(store.seen('n1', now + 1000), true);
    now += 1000;
    assert.equal(store.seen('n1', now + 1000), false);
    assert.equal(store.size, 1);
  });

  test('is bounded: full of unexpired nonces it refuses (unavailable) rather than forget one; expired ones make room', () => {
    let now = 0;
    const store = new sdk.MemoryReplayStore({ maxEntries: 2, now: () => now });
    assert.equal(store.seen('a', 100), false);
    assert.equal(store.seen('b', 200), false);
    assert.throws(
      () => store.seen('c', 300),
      (e: unknown) => e instanceof PortcullisError && e.code === 'unavailable' && e.message === 'the webhook replay cache is full (2 unexpired nonces): refused rather than forget one',
    );
    assert.equal(store.seen('a', 100), true);
    now = 100;
    assert.equal(store.seen('c', 300), false);
    assert.equal(store.size, 2);
  });
});
