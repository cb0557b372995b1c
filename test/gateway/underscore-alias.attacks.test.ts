/**
 * CGI, WSGI and Rack read `_` in a field name as `-` (both `X-Tenant` and `X_Tenant` are
 * HTTP_X_TENANT to them). A signature covers the field by its exact name, so anyone on
 * the path could add an unsigned `X_Tenant: evil` beside a signed `X-Tenant: acme` and
 * have such an upstream read the unsigned value. A forwarded field that would read as a
 * field the verified signature covers, spelled otherwise, is refused with 400
 * request.malformed before the upstream; other underscore fields still pass.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { signMessage } from '../../src/signatures/sign.js';
import { MemoryEphemeralStore } from '../../src/store/memory/ephemeral.js';
import { NOW, codeOf, rawRequest, route, startHmacGateway, statusOf, type TestGateway, type Upstream } from './helpers.js';

describe('underscore spellings of signed fields', () => {
  let upstream: Upstream;
  let gw: TestGateway;
  let ephemeral: MemoryEphemeralStore;
  let signKey: CryptoKey;
  let host: string;

  before(async () => {
    ({ gw, upstream, ephemeral, signKey, host } = await startHmacGateway((up) => [route({ name: 'orders', match: { pathPrefix: '/orders' }, upstream: up, require: { signature: { components: ['@method', '@target-uri', 'x-tenant'] } } })]));
  });
  after(async () => {
    await gw.close();
    await upstream.close();
    await ephemeral.close();
  });

  /** A GET signed over `signedHeaders` (lower-case names), sent with `extra` header lines after them. */
  async function send(signedHeaders: Record<string, string>, extra: string, components = ['@method', '@target-uri', 'x-tenant']): Promise<string> {
    const s = await signMessage({ method: 'GET', url: `http://${host}/orders`, headers: signedHeaders }, { key: signKey, alg: 'hmac-sha256', keyid: 'app1-key', components, created: NOW / 1000, nonce: randomBytes(12).toString('base64url') });
    const lines = Object.entries(signedHeaders).map(([k, v]) => `${k}: ${v}\r\n`).join('');
    return rawRequest(gw.port, `GET /orders HTTP/1.1\r\nHost: ${host}\r\n${lines}${extra}Signature-Input: ${s.signatureInput}\r\nSignature: ${s.signature}\r\nConnection: close\r\n\r\n`);
  }

  async function refused(raw: string, seen: number): Promise<void> {
    assert.equal(statusOf(raw), 400, raw);
    assert.equal(codeOf(raw), 'request.malformed');
    assert.equal(upstream.seen.length, seen);
    assert.ok(gw.audit.events.some((e) => e.type === 'gateway.denied' && e.reason === 'request.malformed' && e.route === 'orders'));
  }

  it('control: a signed request with an unrelated underscore field passes, and the upstream gets both', async () => {
    const raw = await send({ 'x-tenant': 'acme' }, 'X_Trace: 1\r\n');
    assert.equal(statusOf(raw), 200, raw);
    assert.equal(upstream.seen.at(-1)!.headers['x-tenant'], 'acme');
    assert.equal(upstream.seen.at(-1)!.rawHeaders.includes('X_Trace'), true);
  });

  it('an unsigned X_Tenant beside the route-required, signed X-Tenant: 400 request.malformed, nothing upstream', async () => {
    const seen = upstream.seen.length;
    await refused(await send({ 'x-tenant': 'acme' }, 'X_Tenant: evil\r\n'), seen);
  });

  it('an unsigned x_amount beside an X-Amount the signature covers beyond the route minimum: 400 request.malformed', async () => {
    const seen = upstream.seen.length;
    await refused(await send({ 'x-tenant': 'acme', 'x-amount': '10' }, 'x_AMOUNT: 1000000\r\n', ['@method', '@target-uri', 'x-tenant', 'x-amount']), seen);
  });

  it('a signed x_amount (underscore spelling covered) with an unsigned X-Amount added: 400 request.malformed', async () => {
    const seen = upstream.seen.length;
    await refused(await send({ 'x-tenant': 'acme', x_amount: '10' }, 'X-Amount: 1000000\r\n', ['@method', '@target-uri', 'x-tenant', 'x_amount']), seen);
  });
});
