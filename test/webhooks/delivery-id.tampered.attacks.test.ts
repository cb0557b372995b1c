/**
 * The delivery id a receiver de-duplicates on (`Portcullis-Delivery`) is covered by the
 * webhook's RFC 9421 signature: changed, dropped, or sent under a signature that does not
 * cover it (as a Portcullis before this rule signed), `verifyWebhook` refuses the message.
 */
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FrozenClock } from '../../src/core/clock.js';
import { PortcullisError } from '../../src/core/errors.js';
import { silentLogger } from '../../src/core/logger.js';
import { contentDigest } from '../../src/signatures/content-digest.js';
import { signMessage } from '../../src/signatures/sign.js';
import type { VerificationKey } from '../../src/signatures/verify.js';
import { MemoryReplayStore, OTP_TAG, verifyWebhook, WEBHOOK_TAG } from '../../src/sdk/index.js';
import { WEBHOOK_COMPONENTS } from '../../src/webhooks/sign.js';
import { DeliveryWorker } from '../../src/webhooks/worker.js';
import { newMasterKey, openDeps, startReceiver } from './helpers.js';

const dir = mkdtempSync(join(tmpdir(), 'portcullis-delivery-id-'));
after(() => rmSync(dir, { recursive: true, force: true }));
const W = { jitter: 0, timeoutMs: 3000, baseDelayMs: 1000, allowPrivateTargets: true };
const refused = (code: string) => (e: unknown) => e instanceof PortcullisError && e.code === code;

test('attack: a delivery whose Portcullis-Delivery id was changed on the way fails verifyWebhook with signature.invalid; dropped, with signature.component-missing', async () => {
  const clock = new FrozenClock(Date.now());
  const deps = await openDeps(`sqlite:${join(dir, 'a.db')}`, newMasterKey(), clock);
  const rx = await startReceiver();
  try {
    const hook = await deps.webhooks.subscribe({ url: rx.url, events: ['*'] }, 'admin');
    await deps.webhooks.enqueue('app.disabled', { time: clock.now(), type: 'app.disabled', actor: 'admin', clientId: 'app-1' });
    await new DeliveryWorker(deps.hooks, deps.signer, clock, silentLogger, W).runOnce();
    const got = rx.received[0]!;
    const [d] = await deps.webhooks.deliveries(hook.id);
    assert.equal(got.headers['portcullis-delivery'], d!.id);
    assert.match(String(got.headers['signature-input']), /^sig1=\("@method" "@target-uri" "content-digest" "content-type" "portcullis-delivery"\);/);
    const keys = deps.keys.jwks() as { keys: Array<{ kty: string; kid?: string }> };

    const renamed = { ...got, headers: { ...got.headers, 'portcullis-delivery': 'dlv_attacker0001' } };
    await assert.rejects(verifyWebhook(rx.asRequest(renamed), { keys, replayStore: new MemoryReplayStore() }), refused('signature.invalid'));
    const { ['portcullis-delivery']: _dropped, ...rest } = got.headers;
    await assert.rejects(verifyWebhook(rx.asRequest({ ...got, headers: rest }), { keys, replayStore: new MemoryReplayStore() }), refused('signature.component-missing'));

    const v = await verifyWebhook(rx.asRequest(got), { keys, replayStore: new MemoryReplayStore() });
    assert.equal(v.deliveryId, d!.id);
  } finally {
    await rx.close();
    await deps.store.close();
  }
});

async function signedWithout(tag: string, deliveryId?: string): Promise<{ keys: ReadonlyMap<string, VerificationKey>; request: Request }> {
  const url = 'https://hooks.example/in';
  const pair = (await crypto.subtle.generateKey({ name: 'Ed25519' }, false, ['sign', 'verify'])) as CryptoKeyPair;
  const body = new TextEncoder().encode('{"id":"evt_1"}');
  const headers = new Headers({ 'content-type': 'application/json', 'content-digest': await contentDigest(body, ['sha-256']) });
  // the components alone, as a Portcullis that set the header after signing
  const s = await signMessage({ method: 'POST', url, headers }, { key: pair.privateKey, alg: 'ed25519', keyid: 'k1', components: WEBHOOK_COMPONENTS, nonce: randomBytes(16).toString('base64url'), tag });
  headers.set('signature-input', s.signatureInput);
  headers.set('signature', s.signature);
  if (deliveryId !== undefined) headers.set('portcullis-delivery', deliveryId);
  return { keys: new Map([['k1', { alg: 'ed25519', key: pair.publicKey }]]), request: new Request(url, { method: 'POST', headers, body }) };
}

test('attack: an event whose signature does not cover the delivery id is signature.component-missing, with the header or without it', async () => {
  for (const id of ['dlv_forged000001', undefined]) {
    const { keys, request } = await signedWithout(WEBHOOK_TAG, id);
    await assert.rejects(verifyWebhook(request, { keys, replayStore: new MemoryReplayStore() }), refused('signature.component-missing'), String(id));
  }
});

test('a one-time-code message (no delivery id) still verifies; one carrying an uncovered Portcullis-Delivery does not', async () => {
  const plain = await signedWithout(OTP_TAG);
  const v = await verifyWebhook(plain.request, { keys: plain.keys, tag: OTP_TAG, replayStore: new MemoryReplayStore() });
  assert.equal(v.deliveryId, undefined);
  const added = await signedWithout(OTP_TAG, 'dlv_forged000001');
  await assert.rejects(verifyWebhook(added.request, { keys: added.keys, tag: OTP_TAG, replayStore: new MemoryReplayStore() }), refused('signature.component-missing'));
});
