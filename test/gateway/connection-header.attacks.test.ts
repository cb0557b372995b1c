/**
 * RFC 9110 §7.6.1 has a proxy remove the fields a Connection header names. Connection is
 * not signed, so anyone on the path could add `Connection: x-tenant` and have the gateway
 * verify the signed `X-Tenant`, then drop it before the upstream (signatures review #4).
 * A Connection option naming a field the request relies on end to end (Authorization,
 * Host, Content-*, the signature fields, a field the route's signature must cover, or one
 * the verified signature covers) is refused with 400 request.malformed; other options
 * still remove their fields.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { signMessage } from '../../src/signatures/sign.js';
import { MemoryEphemeralStore } from '../../src/store/memory/ephemeral.js';
import { NOW, codeOf, rawRequest, route, startHmacGateway, statusOf, type TestGateway, type Upstream } from './helpers.js';

describe('Connection options that would strip what a request relies on', () => {
  let upstream: Upstream;
  let gw: TestGateway;
  let ephemeral: MemoryEphemeralStore;
  let signKey: CryptoKey;
  let host: string;

  before(async () => {
    ({ gw, upstream, ephemeral, signKey, host } = await startHmacGateway((up) => [
      route({ name: 'orders', match: { pathPrefix: '/orders' }, upstream: up, require: { signature: { components: ['@method', '@target-uri', 'x-tenant'] } } }),
      route({ name: 'public', match: { pathPrefix: '/' }, upstream: up }),
    ]));
  });
  after(async () => {
    await gw.close();
    await upstream.close();
    await ephemeral.close();
  });

  async function signed(extra: string, components = ['@method', '@target-uri', 'x-tenant']): Promise<string> {
    const headers = { 'x-tenant': 'acme', 'x-amount': '10' };
    const s = await signMessage({ method: 'GET', url: `http://${host}/orders`, headers }, { key: signKey, alg: 'hmac-sha256', keyid: 'app1-key', components, created: NOW / 1000, nonce: randomBytes(12).toString('base64url') });
    return rawRequest(gw.port, `GET /orders HTTP/1.1\r\nHost: ${host}\r\nX-Tenant: acme\r\nX-Amount: 10\r\n${extra}Signature-Input: ${s.signatureInput}\r\nSignature: ${s.signature}\r\nConnection: close\r\n\r\n`);
  }

  it('control: the signed request passes and the upstream gets X-Tenant', async () => {
    const raw = await signed('');
    assert.equal(statusOf(raw), 200, raw);
    assert.equal(upstream.seen.at(-1)!.headers['x-tenant'], 'acme');
  });

  it('Connection naming a field the route requires the signature to cover is refused with 400 request.malformed', async () => {
    const seen = upstream.seen.length;
    const raw = await signed('Connection: x-tenant\r\n');
    assert.equal(statusOf(raw), 400, raw);
    assert.equal(codeOf(raw), 'request.malformed');
    assert.equal(upstream.seen.length, seen);
    assert.ok(gw.audit.events.some((e) => e.type === 'gateway.denied' && e.reason === 'request.malformed' && e.route === 'orders'));
  });

  it('Connection naming a field the verified signature covers (beyond the route minimum) is refused', async () => {
    const seen = upstream.seen.length;
    const raw = await signed('Connection: keep-alive, X-Amount\r\n', ['@method', '@target-uri', 'x-tenant', 'x-amount']);
    assert.equal(statusOf(raw), 400, raw);
    assert.equal(codeOf(raw), 'request.malformed');
    assert.equal(upstream.seen.length, seen);
  });

  for (const named of ['content-type', 'Content-Length', 'content-digest', 'authorization', 'signature', 'signature-input', 'host']) {
    it(`Connection: ${named} is refused on any route`, async () => {
      const seen = upstream.seen.length;
      const raw = await rawRequest(gw.port, `POST /x HTTP/1.1\r\nHost: a.example\r\nContent-Type: application/json\r\nContent-Length: 2\r\nConnection: ${named}\r\n\r\n{}`);
      assert.equal(statusOf(raw), 400, raw);
      assert.equal(codeOf(raw), 'request.malformed');
      assert.equal(upstream.seen.length, seen);
    });
  }

  it('other Connection options still remove their fields', async () => {
    const raw = await rawRequest(gw.port, `GET /x HTTP/1.1\r\nHost: a.example\r\nConnection: close, x-hop\r\nX-Hop: 1\r\nX-Amount: 10\r\n\r\n`);
    assert.equal(statusOf(raw), 200, raw);
    const h = upstream.seen.at(-1)!.headers;
    assert.equal(h['x-hop'], undefined);
    assert.equal(h['x-amount'], '10');
  });
});
