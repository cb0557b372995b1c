/**
 * A route whose signature covers `@query-param;name="amount"` (and not the whole query) lets
 * the rest of the query change. RFC 9421 §2.2.8 parses the query as the URL Standard does, on
 * `&` only, but Rack 2, Go before 1.17, Perl's CGI and Python before 3.9.2 (CVE-2021-23336)
 * split it on `;` too: `?amount=1&note=x;amount=1000` has one `amount` to the gateway, whose
 * value was signed, and a second one, 1000, to those upstreams (the last wins in Rack). The
 * signature step refuses a covered parameter that a `;` would split otherwise.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { FrozenClock } from '../../src/core/clock.js';
import { signMessage } from '../../src/signatures/sign.js';
import { MemoryEphemeralStore } from '../../src/store/memory/ephemeral.js';
import { codeOf, rawRequest, route, startHmacGateway, statusOf, type TestGateway, type Upstream } from './helpers.js';

describe('a `;` in the query cannot add an unsigned value to a covered query parameter', () => {
  let upstream: Upstream;
  let gw: TestGateway;
  let ephemeral: MemoryEphemeralStore;
  let signKey: CryptoKey;
  let clock: FrozenClock;
  let host: string;

  before(async () => {
    ({ gw, upstream, ephemeral, signKey, clock, host } = await startHmacGateway((up) => [
      route({ name: 'pay', match: { pathPrefix: '/pay' }, upstream: up, require: { signature: { nonce: false, components: ['@method', '@authority', '@path', '@query-param;name="amount"'] } } }),
    ]));
  });
  after(async () => {
    await gw.close();
    await upstream.close();
    await ephemeral.close();
  });

  async function signed(query: string): Promise<{ input: string; signature: string }> {
    const s = await signMessage(
      { method: 'GET', url: `http://${host}/pay${query}`, headers: {} },
      { key: signKey, alg: 'hmac-sha256', keyid: 'app1-key', components: ['@method', '@authority', '@path', '@query-param;name="amount"'], created: clock.now() / 1000 },
    );
    return { input: s.signatureInput, signature: s.signature };
  }

  const get = (target: string, s: { input: string; signature: string }): Promise<string> =>
    rawRequest(gw.port, `GET ${target} HTTP/1.1\r\nHost: ${host}\r\nSignature-Input: ${s.input}\r\nSignature: ${s.signature}\r\nConnection: close\r\n\r\n`);

  it('control: the request as signed passes, and so does a `;` that names no covered parameter', async () => {
    const s = await signed('?amount=1&note=x');
    assert.equal(statusOf(await get('/pay?amount=1&note=x', s)), 200);
    assert.equal(statusOf(await get('/pay?amount=1&note=x;y=2', s)), 200);
    assert.equal(upstream.seen.at(-1)!.url, '/pay?amount=1&note=x;y=2');
  });

  for (const [what, target] of [
    ['after an uncovered parameter', '/pay?amount=1&note=x;amount=1000'],
    ['before the signed one, where the first wins (Go, Flask)', '/pay?note=x;amount=1000&amount=1'],
    ['percent-encoded', '/pay?amount=1&note=x;%61mount=1000'],
  ] as const) {
    it(`a second amount ${what} (${target}) is refused with 401 signature.component-missing; the upstream sees nothing`, async () => {
      const s = await signed('?amount=1&note=x');
      const seen = upstream.seen.length;
      const raw = await get(target, s);
      assert.equal(statusOf(raw), 401, raw);
      assert.equal(codeOf(raw), 'signature.component-missing');
      assert.equal(upstream.seen.length, seen);
      assert.ok(gw.audit.events.some((e) => e.type === 'gateway.denied' && e.reason === 'signature.component-missing'));
    });
  }

  it('a covered value with a `;` in it, which those upstreams read cut short, cannot be signed', async () => {
    await assert.rejects(signed('?amount=1;x=2'), (e: unknown) => (e as { code?: string }).code === 'signature.component-missing');
  });
});
