/**
 * Replay in the last second of a webhook signature's window: the verifier compares whole
 * seconds, so a signature created at `c` still verifies until `(c + maxAge + clockSkew + 1) * 1000`
 * milliseconds; `verifyWebhook` must remember its nonce at least that long, or the same
 * request sent again in that last second finds the nonce expired and is accepted twice.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { FrozenClock } from '../../src/core/clock.js';
import { PortcullisError } from '../../src/core/errors.js';
import { contentDigest } from '../../src/signatures/content-digest.js';
import { signMessage } from '../../src/signatures/sign.js';
import type { VerificationKey } from '../../src/signatures/verify.js';
import { DELIVERY_HEADER, MemoryReplayStore, verifyWebhook, WEBHOOK_TAG } from '../../src/sdk/index.js';
import { WEBHOOK_COMPONENTS } from '../../src/webhooks/sign.js';

const URL_IN = 'https://hooks.example/in';

async function signedAt(createdSec: number): Promise<{ keys: ReadonlyMap<string, VerificationKey>; request: () => Request }> {
  const pair = (await crypto.subtle.generateKey({ name: 'Ed25519' }, false, ['sign', 'verify'])) as CryptoKeyPair;
  const body = new TextEncoder().encode(JSON.stringify({ id: 'evt_1', type: 'app.disabled', time: new Date().toISOString(), client_id: 'app-1', actor: 'admin', data: {} }));
  const headers = new Headers({ 'content-type': 'application/json', 'content-digest': await contentDigest(body, ['sha-256']), [DELIVERY_HEADER]: 'dlv_1' });
  const s = await signMessage({ method: 'POST', url: URL_IN, headers }, { key: pair.privateKey, alg: 'ed25519', keyid: 'k1', components: [...WEBHOOK_COMPONENTS, DELIVERY_HEADER], nonce: randomBytes(16).toString('base64url'), tag: WEBHOOK_TAG, clock: new FrozenClock(createdSec * 1000) });
  headers.set('signature-input', s.signatureInput);
  headers.set('signature', s.signature);
  return { keys: new Map([['k1', { alg: 'ed25519', key: pair.publicKey }]]), request: () => new Request(URL_IN, { method: 'POST', headers, body }) };
}

test('attack: a webhook replayed in the last second its signature still verifies in is signature.replayed, not accepted twice', async () => {
  const maxAge = 300;
  const clockSkew = 30;
  // keep clear of a second boundary, so both calls fall in the same (last) second of the window
  if (Date.now() % 1000 > 600) await sleep(1000 - (Date.now() % 1000) + 20);
  const nowSec = Math.floor(Date.now() / 1000);
  const { keys, request } = await signedAt(nowSec - maxAge - clockSkew);
  const replayStore = new MemoryReplayStore();
  const first = await verifyWebhook(request(), { keys, maxAge, clockSkew, replayStore });
  assert.equal(first.event.id, 'evt_1');
  assert.equal(Math.floor(Date.now() / 1000), nowSec, 'precondition: still in the same second');
  await assert.rejects(verifyWebhook(request(), { keys, maxAge, clockSkew, replayStore }), (e: unknown) => e instanceof PortcullisError && e.code === 'signature.replayed');
});
