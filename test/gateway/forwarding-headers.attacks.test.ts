/**
 * X-Forwarded-For/-Proto/-Host and Forwarded (RFC 7239) tell the upstream who the client
 * is and what it addressed; Express, Django and Rails read the first value. By default
 * the gateway states them itself (the client's values are replaced, Forwarded removed);
 * only a peer listed in `gateway.trustedProxies` has its X-Forwarded-For and Forwarded
 * `for=` chain kept, with the gateway's appended, and its scheme believed. The host and
 * scheme reach the upstream as one value each, the ones the gateway routed on and decided.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { configSchema } from '../../src/core/config/schema.js';
import { codeOf, rawRequest, route, startGateway, startUpstream, type TestGateway, type Upstream } from './helpers.js';

/**
 * Single-address client-IP headers of CDNs and proxies. Upstream frameworks read them
 * before X-Forwarded-For (go-chi's RealIP takes True-Client-IP, then X-Real-IP; Rails
 * reads Client-IP; Gin and Echo X-Real-IP), so from a client each is a claim about itself.
 */
const CLIENT_IP = ['X-Real-IP', 'True-Client-IP', 'X-Client-IP', 'Client-IP', 'CF-Connecting-IP', 'Fastly-Client-IP', 'X-Cluster-Client-IP', 'X-Original-Forwarded-For'];

/**
 * Proxy-set headers that tell the upstream the scheme, port and path prefix the client
 * used. Rack decides the scheme from X-Forwarded-Ssl, X-Forwarded-Scheme and
 * Front-End-Https (and the port from X-Forwarded-Port); Spring's ForwardedHeaderFilter
 * builds links and redirects from X-Forwarded-Prefix and -Port; nginx setups pass the
 * original path in X-Forwarded-Uri / X-Original-URI. From a client each is a claim.
 */
const PROXY_STATED = ['X-Forwarded-Prefix', 'X-Forwarded-Port', 'X-Forwarded-Ssl', 'X-Forwarded-Uri', 'X-Original-URI', 'Front-End-Https', 'X-Forwarded-Scheme', 'X-Url-Scheme'];

/**
 * Proxy-set headers naming the scheme and host the client addressed, beside X-Forwarded-Proto
 * and -Host: Apache's mod_proxy sets X-Forwarded-Server, and some frameworks build URLs and
 * redirects from X-Forwarded-Protocol and X-Host. From a client each is a claim.
 */
const SCHEME_HOST = ['X-Forwarded-Protocol', 'X-Forwarded-Server', 'X-Host'];

const SPOOF =
  'X-Forwarded-Proto: https\r\nX-Forwarded-Host: evil.example\r\nX-Forwarded-For: 10.0.0.1\r\nForwarded: for=10.0.0.1;proto=https;host=evil.example\r\n';

async function through(gw: TestGateway, upstream: Upstream, extra: string): Promise<Record<string, string | string[] | undefined>> {
  const before = upstream.seen.length;
  const raw = await rawRequest(gw.port, `GET /x HTTP/1.1\r\nHost: api.example\r\n${extra}Connection: close\r\n\r\n`);
  assert.match(raw, /^HTTP\/1\.1 200 /, raw);
  assert.equal(upstream.seen.length, before + 1);
  return upstream.seen.at(-1)!.headers;
}

describe('forwarding headers from an untrusted client', () => {
  let upstream: Upstream;
  let gw: TestGateway;

  before(async () => {
    upstream = await startUpstream();
    gw = await startGateway([route({ name: 'public', match: { pathPrefix: '/' }, upstream: upstream.url })]);
  });
  after(async () => {
    await gw.close();
    await upstream.close();
  });

  it("replaces the client's X-Forwarded-Proto/-Host/-For with the gateway's own values and drops Forwarded", async () => {
    const h = await through(gw, upstream, SPOOF);
    assert.equal(h['x-forwarded-proto'], 'http');
    assert.equal(h['x-forwarded-host'], 'api.example');
    assert.equal(h['x-forwarded-for'], '127.0.0.1');
    assert.equal(h['forwarded'], undefined);
  });

  it('attack: client-IP headers (X-Real-IP, True-Client-IP, …, and their _ spellings) never reach the upstream', async () => {
    const h = await through(gw, upstream, [...CLIENT_IP, 'X_Real_IP'].map((n) => `${n}: 10.0.0.1\r\n`).join('') + 'X-Kept: 1\r\n');
    for (const n of [...CLIENT_IP, 'x_real_ip']) assert.equal(h[n.toLowerCase()], undefined, `${n} reached the upstream`);
    assert.equal(h['x-forwarded-for'], '127.0.0.1');
    assert.equal(h['x-kept'], '1');
  });

  it('attack: scheme, port and prefix headers (X-Forwarded-Ssl, -Port, -Prefix, Front-End-Https, …, and their _ spellings) never reach the upstream', async () => {
    const h = await through(gw, upstream, [...PROXY_STATED, 'X_Forwarded_Prefix', 'Front_End_Https'].map((n) => `${n}: on\r\n`).join('') + 'X-Kept: 1\r\n');
    for (const n of [...PROXY_STATED, 'x_forwarded_prefix', 'front_end_https']) assert.equal(h[n.toLowerCase()], undefined, `${n} reached the upstream`);
    assert.equal(h['x-forwarded-proto'], 'http');
    assert.equal(h['x-kept'], '1');
  });

  it('attack: scheme and host headers (X-Forwarded-Protocol, X-Forwarded-Server, X-Host, and their _ spellings) never reach the upstream', async () => {
    const h = await through(gw, upstream, [...SCHEME_HOST, 'X_Host'].map((n) => `${n}: ${n.endsWith('Protocol') ? 'https' : 'evil.example'}\r\n`).join('') + 'X-Kept: 1\r\n');
    for (const n of [...SCHEME_HOST, 'x_host']) assert.equal(h[n.toLowerCase()], undefined, `${n} reached the upstream`);
    assert.equal(h['x-forwarded-proto'], 'http');
    assert.equal(h['x-forwarded-host'], 'api.example');
    assert.equal(h['x-kept'], '1');
  });

  it('sets them when the client sent none', async () => {
    const h = await through(gw, upstream, '');
    assert.equal(h['x-forwarded-proto'], 'http');
    assert.equal(h['x-forwarded-host'], 'api.example');
    assert.equal(h['x-forwarded-for'], '127.0.0.1');
  });
});

describe('forwarding headers from a trusted proxy (gateway.trustedProxies)', () => {
  let upstream: Upstream;
  let gw: TestGateway;

  before(async () => {
    upstream = await startUpstream();
    gw = await startGateway([route({ name: 'public', match: { pathPrefix: '/' }, upstream: upstream.url })], { gateway: { trustedProxies: ['10.9.0.0/16', '127.0.0.1'] } });
  });
  after(async () => {
    await gw.close();
    await upstream.close();
  });

  it("keeps the proxy's X-Forwarded-For and Forwarded for= first and appends the gateway's; the proxy's scheme is passed on alone", async () => {
    const h = await through(gw, upstream, SPOOF);
    assert.equal(h['x-forwarded-proto'], 'https');
    assert.equal(h['x-forwarded-host'], 'api.example');
    assert.equal(h['x-forwarded-for'], '10.0.0.1, 127.0.0.1');
    assert.equal(h['forwarded'], 'for=10.0.0.1, for=127.0.0.1;host=api.example;proto=https');
  });

  it("attack: a client's X-Forwarded-Proto that the trusted proxy appended to (https, http) reaches the upstream only as the proxy's scheme", async () => {
    // Express's req.protocol (trust proxy) and others read the first value: the client's
    for (const [xfp, want] of [
      ['https, http', 'http'],
      ['https,http', 'http'],
      ['http, https', 'https'],
      ['https, HTTP', 'http'],
    ] as const) {
      const h = await through(gw, upstream, `X-Forwarded-Proto: ${xfp}\r\n`);
      assert.equal(h['x-forwarded-proto'], want, xfp);
    }
    const h = await through(gw, upstream, 'X-Forwarded-Proto: https\r\nX-Forwarded-Proto: http\r\n');
    assert.equal(h['x-forwarded-proto'], 'http');
  });

  it('attack: an X-Forwarded-Proto from a trusted proxy listing anything but http or https is refused with 400 request.malformed', async () => {
    for (const xfp of ['ftp', 'https, ftp', 'javascript, http', 'https, ', ', http', 'https;x', 'https http', 'wss']) {
      const before = upstream.seen.length;
      const raw = await rawRequest(gw.port, `GET /x HTTP/1.1\r\nHost: api.example\r\nX-Forwarded-Proto: ${xfp}\r\nConnection: close\r\n\r\n`);
      assert.match(raw, /^HTTP\/1\.1 400 /, xfp);
      assert.equal(codeOf(raw), 'request.malformed', xfp);
      assert.equal(upstream.seen.length, before, xfp);
    }
  });

  it("an X-Forwarded-Proto from a peer that is not a trusted proxy is replaced by the gateway's own scheme, never refused", async () => {
    const raw = await rawRequest(gw.port, 'GET /x HTTP/1.1\r\nHost: api.example\r\nX-Forwarded-Proto: https, ftp\r\nForwarded: host=evil.example;proto=\r\nConnection: close\r\n\r\n', 2000, '127.0.0.2');
    assert.match(raw, /^HTTP\/1\.1 200 /, raw);
    const h = upstream.seen.at(-1)!.headers;
    assert.equal(h['x-forwarded-proto'], 'http');
    assert.equal(h['x-forwarded-for'], '127.0.0.2');
    assert.equal(h['forwarded'], undefined);
  });

  it("attack: a client's Forwarded host= and proto= that the trusted proxy appended to reach the upstream only as the gateway's host and scheme, the for= chain kept", async () => {
    // Spring's ForwardedHeaderFilter and others read host= and proto= from the first element: the client's
    let h = await through(gw, upstream, 'Forwarded: for=10.0.0.1;host=admin.example;proto=https, for=10.9.0.1;proto=http\r\n');
    assert.equal(h['forwarded'], 'for=10.0.0.1, for=10.9.0.1, for=127.0.0.1;host=api.example;proto=http');
    assert.equal(h['x-forwarded-proto'], 'http');
    assert.equal(h['x-forwarded-host'], 'api.example');
    // on two lines, with quoted values, by= and an element of host= alone
    h = await through(gw, upstream, 'Forwarded: host="admin.example:443"\r\nForwarded: for="[2001:db8::1]:4711";by=10.9.0.1;proto=https;Host=api.example\r\n');
    assert.equal(h['forwarded'], 'for="[2001:db8::1]:4711";by=10.9.0.1, for=127.0.0.1;host=api.example;proto=https');
    assert.equal(h['x-forwarded-proto'], 'https');
    // both forms from the proxy, agreeing: one scheme for both
    h = await through(gw, upstream, 'X-Forwarded-Proto: https, http\r\nForwarded: for=10.0.0.1;proto=HTTP\r\n');
    assert.equal(h['x-forwarded-proto'], 'http');
    assert.equal(h['forwarded'], 'for=10.0.0.1, for=127.0.0.1;host=api.example;proto=http');
  });

  it("attack: a route chosen for one host is not served upstream as the client's Forwarded host=", async () => {
    const other = await startUpstream();
    const g = await startGateway(
      [route({ name: 'api', match: { host: 'api.example', pathPrefix: '/' }, upstream: other.url }), route({ name: 'admin', match: { host: 'admin.example', pathPrefix: '/' }, upstream: upstream.url })],
      { gateway: { trustedProxies: ['127.0.0.1'] } },
    );
    try {
      const raw = await rawRequest(g.port, 'GET /x HTTP/1.1\r\nHost: api.example:8080\r\nForwarded: host=admin.example, for=10.9.0.1;host=api.example\r\nConnection: close\r\n\r\n');
      assert.match(raw, /^HTTP\/1\.1 200 /, raw);
      assert.equal(other.seen.at(-1)!.headers['forwarded'], 'for=10.9.0.1, for=127.0.0.1;host="api.example:8080";proto=http');
    } finally {
      await g.close();
      await other.close();
    }
  });

  it('attack: a Forwarded field from a trusted proxy that is not RFC 7239 syntax, or whose last proto= is not http or https, is refused with 400 request.malformed', async () => {
    for (const fwd of ['for', 'for=10.0.0.1;for=10.0.0.2', 'host="admin.example', 'for=10.0.0.1 x', 'proto=ftp', 'for=10.0.0.1, proto=javascript', 'proto=""']) {
      const before = upstream.seen.length;
      const raw = await rawRequest(gw.port, `GET /x HTTP/1.1\r\nHost: api.example\r\nForwarded: ${fwd}\r\nConnection: close\r\n\r\n`);
      assert.match(raw, /^HTTP\/1\.1 400 /, fwd);
      assert.equal(codeOf(raw), 'request.malformed', fwd);
      assert.equal(upstream.seen.length, before, fwd);
    }
  });

  it("attack: a client's X-Forwarded-Host that the trusted proxy appended to (evil, proxy's) reaches the upstream only as the Host the gateway routed on", async () => {
    // Express's req.hostname (trust proxy) and others read the first value: the client's
    for (const xfh of ['evil.example, api.example', 'evil.example,api.example', 'api.example, evil.example']) {
      const h = await through(gw, upstream, `X-Forwarded-Host: ${xfh}\r\n`);
      assert.equal(h['x-forwarded-host'], 'api.example', xfh);
    }
    const h = await through(gw, upstream, 'X-Forwarded-Host: evil.example\r\nX-Forwarded-Host: api.example\r\n');
    assert.equal(h['x-forwarded-host'], 'api.example');
  });

  it("attack: a route chosen for one host is not served upstream as the client's forged host", async () => {
    const other = await startUpstream();
    const g = await startGateway(
      [route({ name: 'api', match: { host: 'api.example', pathPrefix: '/' }, upstream: other.url }), route({ name: 'admin', match: { host: 'admin.example', pathPrefix: '/' }, upstream: upstream.url })],
      { gateway: { trustedProxies: ['127.0.0.1'] } },
    );
    try {
      const raw = await rawRequest(g.port, 'GET /x HTTP/1.1\r\nHost: api.example\r\nX-Forwarded-Host: admin.example, api.example\r\nConnection: close\r\n\r\n');
      assert.match(raw, /^HTTP\/1\.1 200 /, raw);
      assert.equal(other.seen.at(-1)!.headers['x-forwarded-host'], 'api.example');
    } finally {
      await g.close();
      await other.close();
    }
  });

  it("keeps the proxy's client-IP headers", async () => {
    const h = await through(gw, upstream, CLIENT_IP.map((n) => `${n}: 10.0.0.1\r\n`).join(''));
    for (const n of CLIENT_IP) assert.equal(h[n.toLowerCase()], '10.0.0.1', `${n} was dropped`);
  });

  it("keeps the proxy's scheme, port and prefix headers; their _ spellings are still dropped", async () => {
    const h = await through(gw, upstream, [...PROXY_STATED, 'X_Forwarded_Port'].map((n) => `${n}: on\r\n`).join(''));
    for (const n of PROXY_STATED) assert.equal(h[n.toLowerCase()], 'on', `${n} was dropped`);
    assert.equal(h['x_forwarded_port'], undefined);
  });

  it("keeps the proxy's X-Forwarded-Protocol, X-Forwarded-Server and X-Host", async () => {
    const h = await through(gw, upstream, SCHEME_HOST.map((n) => `${n}: proxy.example\r\n`).join(''));
    for (const n of SCHEME_HOST) assert.equal(h[n.toLowerCase()], 'proxy.example', `${n} was dropped`);
  });

  it('attack: a proxy-stated header the trusted proxy names in Connection (hop-by-hop, RFC 9110 §7.6.1) is not passed on', async () => {
    const before = upstream.seen.length;
    const raw = await rawRequest(gw.port, `GET /x HTTP/1.1\r\nHost: api.example\r\nX-Real-IP: 10.0.0.1\r\nX-Forwarded-Prefix: /evil\r\nTrue-Client-IP: 10.0.0.2\r\nX-Kept: 1\r\nConnection: close, X-Real-IP, x-forwarded-prefix\r\n\r\n`);
    assert.match(raw, /^HTTP\/1\.1 200 /, raw);
    assert.equal(upstream.seen.length, before + 1);
    const h = upstream.seen.at(-1)!.headers;
    assert.equal(h['x-real-ip'], undefined);
    assert.equal(h['x-forwarded-prefix'], undefined);
    assert.equal(h['true-client-ip'], '10.0.0.2');
    assert.equal(h['x-kept'], '1');
  });

  it("attack: X-Forwarded-For/-Proto/-Host and Forwarded named in Connection carry only the gateway's own values upstream", async () => {
    const before = upstream.seen.length;
    const raw = await rawRequest(gw.port, `GET /x HTTP/1.1\r\nHost: api.example\r\n${SPOOF}Connection: close, x-forwarded-for, X-Forwarded-Proto, x-forwarded-host, forwarded\r\n\r\n`);
    assert.match(raw, /^HTTP\/1\.1 200 /, raw);
    assert.equal(upstream.seen.length, before + 1);
    const h = upstream.seen.at(-1)!.headers;
    assert.equal(h['x-forwarded-for'], '127.0.0.1');
    assert.equal(h['x-forwarded-proto'], 'http');
    assert.equal(h['x-forwarded-host'], 'api.example');
    assert.equal(h['forwarded'], undefined);
  });

  it('a trustedProxies entry that is not an address or CIDR is a config error naming its path', () => {
    const r = configSchema.safeParse({ gateway: { trustedProxies: ['10.0.0.0/99'] } });
    assert.equal(r.success, false);
    assert.deepEqual(r.error!.issues[0]!.path, ['gateway', 'trustedProxies', 0]);
    assert.equal(configSchema.safeParse({ gateway: { trustedProxies: ['proxy.example'] } }).success, false);
    assert.equal(configSchema.safeParse({ gateway: { trustedProxies: ['::1', 'fd00::/8', '192.0.2.7'] } }).success, true);
  });
});
