/**
 * A signing key the identity plane no longer publishes: after a rotation that drops a
 * leaked key from `/jwks`, a webhook receiver or an app that verifies responses must stop
 * trusting it once its cached key set is older than `cacheMaxAgeMs` (default 10 min), not
 * keep it for the life of the process because its keyid is still known.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { PortcullisError } from '../../src/core/errors.js';
import { contentDigest } from '../../src/signatures/content-digest.js';
import { signMessage } from '../../src/signatures/sign.js';
import { DELIVERY_HEADER, MemoryReplayStore, verifyWebhook, WEBHOOK_TAG } from '../../src/sdk/index.js';
import { WEBHOOK_COMPONENTS } from '../../src/webhooks/sign.js';

const URL_IN = 'https://hooks.example/in';
let server: Server;
let jwksUrl: string;
let published: object[] = [];
let fetches = 0;

before(async () => {
  server = createServer((_req, res) => {
    fetches++;
    res.setHeader('content-type', 'application/jwk-set+json');
    res.end(JSON.stringify({ keys: published }));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  jwksUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}/jwks`;
});
after(() => server.close());

async function keyPair(kid: string): Promise<{ privateKey: CryptoKey; jwk: object }> {
  const pair = (await crypto.subtle.generateKey({ name: 'Ed25519' }, true, ['sign', 'verify'])) as CryptoKeyPair;
  return { privateKey: pair.privateKey, jwk: { ...(await crypto.subtle.exportKey('jwk', pair.publicKey)), kid, alg: 'EdDSA', use: 'sig' } };
}

async function webhook(privateKey: CryptoKey, kid: string): Promise<Request> {
  const body = new TextEncoder().encode(JSON.stringify({ id: `evt_${randomBytes(4).toString('hex')}`, type: 'app.disabled', time: new Date().toISOString(), client_id: 'app-1', data: {} }));
  const headers = new Headers({ 'content-type': 'application/json', 'content-digest': await contentDigest(body, ['sha-256']), [DELIVERY_HEADER]: 'dlv_1' });
  const s = await signMessage({ method: 'POST', url: URL_IN, headers }, { key: privateKey, alg: 'ed25519', keyid: kid, components: [...WEBHOOK_COMPONENTS, DELIVERY_HEADER], nonce: randomBytes(16).toString('base64url'), tag: WEBHOOK_TAG });
  headers.set('signature-input', s.signatureInput);
  headers.set('signature', s.signature);
  return new Request(URL_IN, { method: 'POST', headers, body });
}

test('attack: a webhook signed with a key dropped from the JWKS is signature.unknown-key once the cached key set is older than cacheMaxAgeMs (10 min), not accepted for the life of the receiver', async () => {
  const leaked = await keyPair('old');
  const current = await keyPair('new');
  published = [leaked.jwk];
  let now = 5_000_000;
  const opts = { jwksUrl, now: () => now, replayStore: new MemoryReplayStore() };
  assert.equal((await verifyWebhook(await webhook(leaked.privateKey, 'old'), opts)).keyid, 'old');
  assert.equal(fetches, 1);

  // the identity plane rotates: the leaked key is no longer published
  published = [current.jwk];
  now += 60_000;
  assert.equal((await verifyWebhook(await webhook(leaked.privateKey, 'old'), opts)).keyid, 'old', 'within the cache age the cached set stands');
  assert.equal(fetches, 1);
  now += 540_000; // 10 min since the fetch
  await assert.rejects(verifyWebhook(await webhook(leaked.privateKey, 'old'), opts), (e: unknown) => e instanceof PortcullisError && e.code === 'signature.unknown-key');
  assert.equal(fetches, 2, 'one refetch of the stale set');
  assert.equal((await verifyWebhook(await webhook(current.privateKey, 'new'), opts)).keyid, 'new');
  assert.equal(fetches, 2);
});

test('attack: when the stale key set cannot be refetched, verification fails closed (unavailable), not with the keys it had', async () => {
  const leaked = await keyPair('old2');
  published = [leaked.jwk];
  let now = 9_000_000;
  const url = `${jwksUrl}?down`;
  let down = false;
  const jwksFetch = ((input: string | URL | Request, init?: RequestInit) => (down ? Promise.resolve(new Response('down', { status: 503 })) : fetch(input, init))) as typeof fetch;
  const opts = { jwksUrl: url, fetch: jwksFetch, now: () => now, cacheMaxAgeMs: 60_000, replayStore: new MemoryReplayStore() };
  assert.equal((await verifyWebhook(await webhook(leaked.privateKey, 'old2'), opts)).keyid, 'old2');
  down = true;
  now += 60_000;
  await assert.rejects(verifyWebhook(await webhook(leaked.privateKey, 'old2'), opts), (e: unknown) => e instanceof PortcullisError && e.code === 'unavailable');
});
