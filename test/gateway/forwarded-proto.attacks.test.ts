/**
 * `require.signature.trustForwardedProto` takes the scheme of `@target-uri` from
 * X-Forwarded-Proto, which any client can send. It is believed only from a direct peer
 * listed in `gateway.trustedProxies`; from any other peer the scheme is the connection's
 * own, so a client cannot replay at the gateway's plain listener a signature made for
 * the https one (or the other way round). A route that sets it while no proxy is trusted
 * is a configuration error.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { validateConfig } from '../../src/core/config/load.js';
import { PortcullisError } from '../../src/core/errors.js';
import { signMessage } from '../../src/signatures/sign.js';
import { MemoryEphemeralStore } from '../../src/store/memory/ephemeral.js';
import { NOW, codeOf, rawRequest, route, startHmacGateway, statusOf, type TestGateway, type Upstream } from './helpers.js';

/** The trusted proxy of these tests: a loopback address other than the client's 127.0.0.1. */
const PROXY = '127.0.0.2';

describe('trustForwardedProto only from a trusted proxy', () => {
  let upstream: Upstream;
  let gw: TestGateway;
  let ephemeral: MemoryEphemeralStore;
  let signKey: CryptoKey;
  let host: string;

  before(async () => {
    ({ gw, upstream, ephemeral, signKey, host } = await startHmacGateway((up) => [route({ name: 'fwd', match: { pathPrefix: '/fwd' }, upstream: up, require: { signature: { trustForwardedProto: true } } })], { gateway: { trustedProxies: [PROXY] } }));
  });
  after(async () => {
    await gw.close();
    await upstream.close();
    await ephemeral.close();
  });

  /** A GET of /fwd signed for `scheme://host/fwd`, sent with `X-Forwarded-Proto: https` from `from`. */
  async function send(scheme: 'http' | 'https', from: string): Promise<string> {
    const s = await signMessage({ method: 'GET', url: `${scheme}://${host}/fwd`, headers: {} }, { key: signKey, alg: 'hmac-sha256', keyid: 'app1-key', components: ['@method', '@target-uri'], created: NOW / 1000, nonce: randomBytes(12).toString('base64url') });
    return rawRequest(gw.port, `GET /fwd HTTP/1.1\r\nHost: ${host}\r\nX-Forwarded-Proto: https\r\nSignature-Input: ${s.signatureInput}\r\nSignature: ${s.signature}\r\nConnection: close\r\n\r\n`, 2000, from);
  }

  it('a client (not a trusted proxy) claiming X-Forwarded-Proto: https for a signature over https://…: 401 signature.invalid, nothing upstream', async () => {
    const seen = upstream.seen.length;
    const raw = await send('https', '127.0.0.1');
    assert.equal(statusOf(raw), 401, raw);
    assert.equal(codeOf(raw), 'signature.invalid');
    assert.equal(upstream.seen.length, seen);
    assert.ok(gw.audit.events.some((e) => e.type === 'gateway.denied' && e.reason === 'signature.invalid' && e.route === 'fwd'));
  });

  it("from a client, the scheme is the connection's own (http), whatever X-Forwarded-Proto says", async () => {
    const raw = await send('http', '127.0.0.1');
    assert.equal(statusOf(raw), 200, raw);
  });

  it('from the trusted proxy, X-Forwarded-Proto: https gives the scheme', async () => {
    const raw = await send('https', PROXY);
    assert.equal(statusOf(raw), 200, raw);
  });
});

describe('trustForwardedProto without gateway.trustedProxies', () => {
  const withRoute = (gateway: Record<string, unknown>) => ({
    gateway,
    routes: [
      { name: 'plain', match: { pathPrefix: '/plain' }, upstream: 'http://127.0.0.1:9000' },
      { name: 'fwd', match: { pathPrefix: '/fwd' }, upstream: 'http://127.0.0.1:9000', require: { signature: { trustForwardedProto: true } } },
    ],
  });

  it('is refused at load with config.invalid naming the route key and gateway.trustedProxies', () => {
    let err: unknown;
    try {
      validateConfig(withRoute({}));
    } catch (e) {
      err = e;
    }
    assert.ok(err instanceof PortcullisError, String(err));
    assert.equal(err.code, 'config.invalid');
    assert.match(err.message, /routes\[1\]\.require\.signature\.trustForwardedProto: .*gateway\.trustedProxies/);
  });

  it('loads once a proxy is trusted', () => {
    assert.equal(validateConfig(withRoute({ trustedProxies: ['10.0.0.0/8'] })).routes[1]!.require.signature!.trustForwardedProto, true);
  });
});
