/**
 * A webhook receiver's endpoint is public: anyone can POST to it with a Signature-Input
 * that names the webhook tag. `verifyWebhook` reads the body before any signature is
 * checked (it is hashed against Content-Digest), so the read is bounded (`maxBodyBytes`,
 * default 1 MiB; Portcullis's events and one-time-code messages are a few kilobytes):
 * a larger body, announced or streamed without a length, is `request.body-too-large`
 * after at most the limit has been read, never buffered whole.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { PortcullisError } from '../../src/core/errors.js';
import { contentDigest } from '../../src/signatures/content-digest.js';
import { signMessage } from '../../src/signatures/sign.js';
import type { VerificationKey } from '../../src/signatures/verify.js';
import { DELIVERY_HEADER, MemoryReplayStore, verifyWebhook, WEBHOOK_TAG } from '../../src/sdk/index.js';
import { WEBHOOK_COMPONENTS } from '../../src/webhooks/sign.js';

const URL_IN = 'https://hooks.example/in';
const tooLarge = (e: unknown) => e instanceof PortcullisError && e.code === 'request.body-too-large' && e.status === 413;

async function signed(body: Uint8Array): Promise<{ keys: ReadonlyMap<string, VerificationKey>; headers: Headers }> {
  const pair = (await crypto.subtle.generateKey({ name: 'Ed25519' }, false, ['sign', 'verify'])) as CryptoKeyPair;
  const headers = new Headers({ 'content-type': 'application/json', 'content-digest': await contentDigest(body, ['sha-256']), [DELIVERY_HEADER]: 'dlv_1' });
  const s = await signMessage({ method: 'POST', url: URL_IN, headers }, { key: pair.privateKey, alg: 'ed25519', keyid: 'k1', components: [...WEBHOOK_COMPONENTS, DELIVERY_HEADER], nonce: randomBytes(16).toString('base64url'), tag: WEBHOOK_TAG });
  headers.set('signature-input', s.signatureInput);
  headers.set('signature', s.signature);
  return { keys: new Map([['k1', { alg: 'ed25519', key: pair.publicKey }]]), headers };
}

test('attack: a 4 MiB body under the webhook tag is request.body-too-large (413), not buffered and hashed', async () => {
  const body = new Uint8Array(4 * 1024 * 1024).fill(0x20);
  const { keys, headers } = await signed(body);
  await assert.rejects(verifyWebhook(new Request(URL_IN, { method: 'POST', headers, body }), { keys, replayStore: new MemoryReplayStore() }), tooLarge);
});

test('attack: an endless body without a length is refused once the limit is passed; the rest is never pulled', async () => {
  const { keys, headers } = await signed(new TextEncoder().encode('{}'));
  const chunk = new Uint8Array(64 * 1024);
  let pulled = 0;
  const endless = new ReadableStream<Uint8Array>({
    pull(c) {
      pulled += chunk.byteLength;
      c.enqueue(chunk);
    },
  });
  const request = new Request(URL_IN, { method: 'POST', headers, body: endless, duplex: 'half' } as RequestInit);
  await assert.rejects(verifyWebhook(request, { keys, replayStore: new MemoryReplayStore() }), tooLarge);
  assert.ok(pulled <= 1024 * 1024 + 4 * chunk.byteLength, `pulled ${pulled} bytes`);
});

test('a body within maxBodyBytes verifies; the same body over a smaller maxBodyBytes is request.body-too-large', async () => {
  const body = new TextEncoder().encode(JSON.stringify({ id: 'evt_1', type: 'app.disabled', data: { note: 'x'.repeat(2000) } }));
  const { keys, headers } = await signed(body);
  const v = await verifyWebhook(new Request(URL_IN, { method: 'POST', headers, body }), { keys, maxBodyBytes: 4096, replayStore: new MemoryReplayStore() });
  assert.equal(v.event.id, 'evt_1');
  await assert.rejects(verifyWebhook(new Request(URL_IN, { method: 'POST', headers, body }), { keys, maxBodyBytes: 1024, replayStore: new MemoryReplayStore() }), tooLarge);
});
