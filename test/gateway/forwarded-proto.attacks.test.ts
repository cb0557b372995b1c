/**
 * `require.signature.trustForwardedProto` takes the scheme of `@target-uri` from
 * X-Forwarded-Proto, else from the `proto=` of the last RFC 7239 Forwarded element (the one
 * the proxy added), which any client can send. They are believed only from a direct peer
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

  /** A GET of /fwd signed for `scheme://host/fwd`, sent with `forwarding` (by default `X-Forwarded-Proto: https`) from `from`. */
  async function send(scheme: 'http' | 'https', from: string, forwarding = 'X-Forwarded-Proto: https\r\n'): Promise<string> {
    const s = await signMessage({ method: 'GET', url: `${scheme}://${host}/fwd`, headers: {} }, { key: signKey, alg: 'hmac-sha256', keyid: 'app1-key', components: ['@method', '@target-uri'], created: NOW / 1000, nonce: randomBytes(12).toString('base64url') });
    return rawRequest(gw.port, `GET /fwd HTTP/1.1\r\nHost: ${host}\r\n${forwarding}Signature-Input: ${s.signatureInput}\r\nSignature: ${s.signature}\r\nConnection: close\r\n\r\n`, 2000, from);
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

  it('from a trusted proxy that writes only RFC 7239 Forwarded, the proto= of its (last) element gives the scheme', async () => {
    const only = 'Forwarded: for=198.51.100.1;proto=http, for=192.0.2.5;proto=https\r\n';
    assert.equal(statusOf(await send('https', PROXY, only)), 200);
    const http = await send('https', PROXY, 'Forwarded: for=198.51.100.1;proto=https, for=192.0.2.5;proto=HTTP\r\n');
    assert.equal(statusOf(http), 401, http);
    assert.equal(codeOf(http), 'signature.invalid');
    // on two lines, the last line's last element
    assert.equal(statusOf(await send('https', PROXY, 'Forwarded: for=198.51.100.1;proto=http\r\nForwarded: for=192.0.2.5;proto=https\r\n')), 200);
    // a last element without proto=: the connection's own scheme, never an earlier (the client's) element's
    const none = await send('https', PROXY, 'Forwarded: for=198.51.100.1;proto=https, for=192.0.2.5\r\n');
    assert.equal(statusOf(none), 401, none);
    assert.equal(statusOf(await send('http', PROXY, 'Forwarded: for=198.51.100.1;proto=https, for=192.0.2.5\r\n')), 200);
  });

  it("attack: a client's Forwarded: proto=https is not believed: the scheme stays the connection's own", async () => {
    const raw = await send('https', '127.0.0.1', 'Forwarded: for=192.0.2.5;proto=https\r\n');
    assert.equal(statusOf(raw), 401, raw);
    assert.equal(codeOf(raw), 'signature.invalid');
    assert.equal(statusOf(await send('http', '127.0.0.1', 'Forwarded: for=192.0.2.5;proto=https\r\n')), 200);
  });

  it("attack: from a trusted proxy, an X-Forwarded-Proto that disagrees with its last Forwarded proto= is refused with 400 request.malformed (a proxy writing one form may pass the client's other form on)", async () => {
    for (const both of ['X-Forwarded-Proto: http\r\nForwarded: for=192.0.2.5;proto=https\r\n', 'X-Forwarded-Proto: https\r\nForwarded: for=192.0.2.5;proto=http\r\n']) {
      const raw = await send('https', PROXY, both);
      assert.equal(statusOf(raw), 400, raw);
      assert.equal(codeOf(raw), 'request.malformed');
    }
    // agreeing (any case), or a last element without proto=, the scheme is used
    assert.equal(statusOf(await send('https', PROXY, 'X-Forwarded-Proto: HTTPS\r\nForwarded: for=192.0.2.5;proto=https\r\n')), 200);
    assert.equal(statusOf(await send('https', PROXY, 'X-Forwarded-Proto: https\r\nForwarded: for=192.0.2.5;proto=http, for=192.0.2.6\r\n')), 200);
  });

  it('from a trusted proxy, a Forwarded proto= other than http or https, or a malformed Forwarded, is refused with 400 request.malformed', async () => {
    for (const f of ['for=192.0.2.5;proto=ftp', 'for=192.0.2.5;proto=', 'proto="https, http"']) {
      const raw = await send('https', PROXY, `Forwarded: ${f}\r\n`);
      assert.equal(statusOf(raw), 400, f);
      assert.equal(codeOf(raw), 'request.malformed', f);
    }
  });

  it('from a trusted proxy, a scheme field it named in Connection (for its hop only) is not used', async () => {
    const raw = await send('https', PROXY, 'X-Forwarded-Proto: https\r\nConnection: X-Forwarded-Proto\r\n');
    assert.equal(statusOf(raw), 401, raw);
    assert.equal(statusOf(await send('http', PROXY, 'Forwarded: for=192.0.2.5;proto=https\r\nConnection: forwarded\r\n')), 200);
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
