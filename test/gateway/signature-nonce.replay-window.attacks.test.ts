/**
 * A signature nonce is remembered for as long as its signature can be accepted. The
 * verifier compares `created` in whole seconds, so a signature made at second C stays
 * acceptable until the end of second C + maxAge + clockSkew; a nonce first spent at the
 * start of second C - clockSkew (the earliest moment) must still be remembered then, or
 * the identical request replayed in that last second passes.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { FrozenClock } from '../../src/core/clock.js';
import { signMessage } from '../../src/signatures/sign.js';
import { MemoryEphemeralStore } from '../../src/store/memory/ephemeral.js';
import { NOW, codeOf, rawRequest, route, startHmacGateway, statusOf, type TestGateway, type Upstream } from './helpers.js';

describe('signature nonce: remembered for the whole acceptance window', () => {
  let upstream: Upstream;
  let gw: TestGateway;
  let ephemeral: MemoryEphemeralStore;
  let signKey: CryptoKey;
  let clock: FrozenClock;
  let host: string;

  before(async () => {
    ({ gw, upstream, ephemeral, signKey, clock, host } = await startHmacGateway((up) => [route({ name: 'orders', match: { pathPrefix: '/orders' }, upstream: up, require: { signature: { maxAge: '5m', clockSkew: '30s' } } })]));
  });
  after(async () => {
    await gw.close();
    await upstream.close();
    await ephemeral.close();
  });

  it('replay in the last accepted second (first use at created - clockSkew, replay at created + maxAge + clockSkew + 0.5 s): 401 signature.replayed', async () => {
    const created = NOW / 1000 + 1000;
    const s = await signMessage({ method: 'GET', url: `http://${host}/orders/1`, headers: {} }, { key: signKey, alg: 'hmac-sha256', keyid: 'app1-key', components: ['@method', '@target-uri'], created, nonce: randomBytes(12).toString('base64url') });
    const request = `GET /orders/1 HTTP/1.1\r\nHost: ${host}\r\nSignature-Input: ${s.signatureInput}\r\nSignature: ${s.signature}\r\nConnection: close\r\n\r\n`;

    clock.set((created - 30) * 1000);
    const first = await rawRequest(gw.port, request);
    assert.equal(statusOf(first), 200, first);
    const seen = upstream.seen.length;

    clock.set((created + 300 + 30) * 1000 + 500);
    const replay = await rawRequest(gw.port, request);
    assert.equal(statusOf(replay), 401, replay);
    assert.equal(codeOf(replay), 'signature.replayed');
    assert.equal(upstream.seen.length, seen);
  });

  it('one second later the signature itself has expired: 401 signature.expired', async () => {
    const created = NOW / 1000 + 5000;
    const s = await signMessage({ method: 'GET', url: `http://${host}/orders/2`, headers: {} }, { key: signKey, alg: 'hmac-sha256', keyid: 'app1-key', components: ['@method', '@target-uri'], created, nonce: randomBytes(12).toString('base64url') });
    clock.set((created + 300 + 30 + 1) * 1000);
    const raw = await rawRequest(gw.port, `GET /orders/2 HTTP/1.1\r\nHost: ${host}\r\nSignature-Input: ${s.signatureInput}\r\nSignature: ${s.signature}\r\nConnection: close\r\n\r\n`);
    assert.equal(statusOf(raw), 401, raw);
    assert.equal(codeOf(raw), 'signature.expired');
  });
});
