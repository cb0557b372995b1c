/**
 * A receiver's freshness window that is no number: `verifyWebhook` (and `verifyResponse`)
 * compared `created` against `maxAge` and `clockSkew` as given, and every comparison with
 * NaN is false, so `maxAge: Number(process.env.UNSET)` turned off the age check, the
 * future check and, through the replay store's NaN expiry, the nonce check: a captured
 * webhook verified again and again, a day later. A window that is not a finite number of
 * seconds (0 or more) is a RangeError naming the option, before anything is read.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { FrozenClock } from '../../src/core/clock.js';
import { PortcullisError } from '../../src/core/errors.js';
import { contentDigest } from '../../src/signatures/content-digest.js';
import { signMessage } from '../../src/signatures/sign.js';
import type { VerificationKey } from '../../src/signatures/verify.js';
import { DELIVERY_HEADER, MemoryReplayStore, verifyResponse, verifyWebhook, WEBHOOK_TAG } from '../../src/sdk/index.js';
import { WEBHOOK_COMPONENTS } from '../../src/webhooks/sign.js';

const URL_IN = 'https://hooks.example/in';

async function signedAt(createdSec: number): Promise<{ keys: ReadonlyMap<string, VerificationKey>; request: () => Request }> {
  const pair = (await crypto.subtle.generateKey({ name: 'Ed25519' }, false, ['sign', 'verify'])) as CryptoKeyPair;
  const body = new TextEncoder().encode(JSON.stringify({ id: 'evt_1', type: 'app.disabled', time: new Date(createdSec * 1000).toISOString(), client_id: 'app-1', actor: 'admin', data: {} }));
  const headers = new Headers({ 'content-type': 'application/json', 'content-digest': await contentDigest(body, ['sha-256']), [DELIVERY_HEADER]: 'dlv_1' });
  const s = await signMessage({ method: 'POST', url: URL_IN, headers }, { key: pair.privateKey, alg: 'ed25519', keyid: 'k1', components: [...WEBHOOK_COMPONENTS, DELIVERY_HEADER], nonce: randomBytes(16).toString('base64url'), tag: WEBHOOK_TAG, clock: new FrozenClock(createdSec * 1000) });
  headers.set('signature-input', s.signatureInput);
  headers.set('signature', s.signature);
  return { keys: new Map([['k1', { alg: 'ed25519', key: pair.publicKey }]]), request: () => new Request(URL_IN, { method: 'POST', headers, body }) };
}

const BAD: ReadonlyArray<readonly [string, number]> = [
  ['NaN', Number.NaN],
  ['Infinity', Number.POSITIVE_INFINITY],
  ['-Infinity', Number.NEGATIVE_INFINITY],
  ['negative', -1],
];
const refused = (option: string) => (e: unknown) => e instanceof RangeError && e.message.includes(option);

describe('attack: a webhook captured a day ago, verified with a window that is no number', () => {
  for (const option of ['maxAge', 'clockSkew'] as const) {
    for (const [name, value] of BAD) {
      test(`${option} ${name} is a RangeError naming it, never a replay accepted`, async () => {
        const { keys, request } = await signedAt(Math.floor(Date.now() / 1000) - 86_400);
        const replayStore = new MemoryReplayStore();
        await assert.rejects(verifyWebhook(request(), { keys, replayStore, [option]: value }), refused(option));
        await assert.rejects(verifyWebhook(request(), { keys, replayStore, [option]: value }), refused(option));
        assert.equal(replayStore.size, 0);
      });
    }
    test(`${option} given as a string (from an environment variable, in JavaScript) is a RangeError`, async () => {
      const { keys, request } = await signedAt(Math.floor(Date.now() / 1000));
      await assert.rejects(verifyWebhook(request(), { keys, [option]: '300' as unknown as number }), refused(option));
    });
    test(`verifyResponse: ${option} NaN is a RangeError naming it`, async () => {
      const { keys } = await signedAt(Math.floor(Date.now() / 1000));
      await assert.rejects(verifyResponse(new Response('x'), { keys, requestBinding: false, [option]: Number.NaN }), refused(option));
    });
  }

  test('a window in range still verifies, and the replay is still signature.replayed', async () => {
    const { keys, request } = await signedAt(Math.floor(Date.now() / 1000));
    const replayStore = new MemoryReplayStore();
    assert.equal((await verifyWebhook(request(), { keys, replayStore, maxAge: 0, clockSkew: 5 })).event.id, 'evt_1');
    await assert.rejects(verifyWebhook(request(), { keys, replayStore, maxAge: 0, clockSkew: 5 }), (e: unknown) => e instanceof PortcullisError && e.code === 'signature.replayed');
  });

  test('a day-old webhook with the default window is signature.expired', async () => {
    const { keys, request } = await signedAt(Math.floor(Date.now() / 1000) - 86_400);
    await assert.rejects(verifyWebhook(request(), { keys, replayStore: new MemoryReplayStore() }), (e: unknown) => e instanceof PortcullisError && e.code === 'signature.expired');
  });
});
