/**
 * The Host header is the authority of the target URI (RFC 9110 §7.2): the gateway routes
 * on it, hands it to the upstream in X-Forwarded-Host and signatures cover it through
 * `@target-uri`/`@authority`. A Host that is not `uri-host [":" port]` (RFC 3986 §3.2.2),
 * or more than one Host line (RFC 9112 §3.2: "A server MUST respond with a 400 (Bad
 * Request) status code to any HTTP/1.1 request message that lacks a Host header field
 * and to any request message that contains more than one Host header field line or a Host
 * header field with an invalid field value"), is refused before routing and before any
 * policy.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { signMessage } from '../../src/signatures/sign.js';
import { codeOf, rawRequest, route, startGateway, startUpstream, statusOf, type TestGateway, type Upstream } from './helpers.js';
import { addSigningKey, auditMark, createApp, deniedSince, startPolicyNode, type PolicyNode, type TestSigningKey } from './message-policy-support.js';

describe('Host header validation', () => {
  let upstream: Upstream;
  let gw: TestGateway;

  before(async () => {
    upstream = await startUpstream();
    gw = await startGateway([route({ name: 'any', match: { pathPrefix: '/' }, upstream: upstream.url })]);
  });
  after(async () => {
    await gw.close();
    await upstream.close();
  });

  const bad: Array<[string, string]> = [
    ['a path in Host', 'gw.example/payments'],
    ['userinfo in Host', 'evil.example@gw.example'],
    ['an empty Host', ''],
    ['a fragment in Host', 'gw.example#x'],
    ['a query in Host', 'gw.example?x'],
    ['whitespace in Host', 'gw example'],
    ['a backslash in Host', 'gw.example\\x'],
    ['a port that is not digits', 'gw.example:8x'],
    ['two colons', 'gw.example:80:80'],
    ['an unclosed IP literal', '[::1'],
    ['an IP literal that is not IPv6', '[gw.example]'],
    ['text after an IP literal', '[::1]x'],
    ['a broken percent-encoding', 'gw%zz.example'],
    ['a port that is too long', 'gw.example:123456'],
    ['a port above 65535', 'gw.example:65536'],
  ];
  for (const [what, host] of bad) {
    it(`refuses ${what} with 400 request.malformed; the upstream sees nothing`, async () => {
      const seen = upstream.seen.length;
      const raw = await rawRequest(gw.port, `GET /x HTTP/1.1\r\nHost: ${host}\r\nConnection: close\r\n\r\n`);
      assert.equal(statusOf(raw), 400, raw);
      assert.equal(codeOf(raw), 'request.malformed');
      assert.equal(upstream.seen.length, seen);
      assert.ok(gw.audit.events.some((e) => e.type === 'gateway.denied' && e.reason === 'request.malformed'));
    });
  }

  it('refuses two Host lines with 400 request.malformed, even when they agree', async () => {
    const seen = upstream.seen.length;
    const raw = await rawRequest(gw.port, `GET /x HTTP/1.1\r\nHost: gw.example\r\nHost: gw.example\r\nConnection: close\r\n\r\n`);
    assert.equal(statusOf(raw), 400, raw);
    assert.equal(codeOf(raw), 'request.malformed');
    assert.equal(upstream.seen.length, seen);
  });

  const good = ['gw.example', 'GW.Example:8443', '127.0.0.1', '127.0.0.1:80', '[::1]', '[::1]:8080', 'gw.example.', 'my_host-1.example', 'gw.example:', 'gw.example:65535'];
  for (const host of good) {
    it(`forwards a request with Host: ${host}`, async () => {
      const raw = await rawRequest(gw.port, `GET /x HTTP/1.1\r\nHost: ${host}\r\nConnection: close\r\n\r\n`);
      assert.equal(statusOf(raw), 200, raw);
    });
  }
});

describe('signature re-targeting through Host (signatures review #1)', () => {
  let p: PolicyNode;
  let key: TestSigningKey;

  before(async () => {
    p = await startPolicyNode(`
  - name: payments
    match: { pathPrefix: /payments }
    upstream: UPSTREAM
    require:
      signature: { nonce: false }
  - name: legacy
    match: { pathPrefix: /transfer }
    upstream: UPSTREAM
    require:
      signature: { nonce: false }
`);
    const app = await createApp(p.node, 'signer');
    key = await addSigningKey(p.node, app.clientId, 'hmac-sha256');
  });
  after(() => p.stop());

  async function signedFor(url: string): Promise<{ input: string; signature: string }> {
    const s = await signMessage({ method: 'GET', url, headers: {} }, { key: key.key, alg: key.alg, keyid: key.keyid, components: ['@method', '@target-uri'], nonce: randomBytes(12).toString('base64url') });
    return { input: s.signatureInput, signature: s.signature };
  }

  it('a request signed for /payments/transfer, sent to /transfer with Host: <gw>/payments, is refused before any policy', async () => {
    const gwUrl = new URL(p.gateway);
    const s = await signedFor(`${p.gateway}/payments/transfer`);
    const seen = p.upstream.seen.length;
    const mark = await auditMark(p.node);
    const raw = await rawRequest(Number(gwUrl.port), `GET /transfer HTTP/1.1\r\nHost: ${gwUrl.host}/payments\r\nSignature-Input: ${s.input}\r\nSignature: ${s.signature}\r\nConnection: close\r\n\r\n`);
    assert.equal(statusOf(raw), 400, raw);
    assert.equal(codeOf(raw), 'request.malformed');
    assert.equal(p.upstream.seen.length, seen, 'the upstream saw nothing');
    assert.ok((await deniedSince(p.node, mark)).some((e) => e.reason === 'request.malformed'));
  });

  it('the same signature sent honestly to /payments/transfer passes (the refusal above is the Host, not the signature)', async () => {
    const gwUrl = new URL(p.gateway);
    const s = await signedFor(`${p.gateway}/payments/transfer`);
    const raw = await rawRequest(Number(gwUrl.port), `GET /payments/transfer HTTP/1.1\r\nHost: ${gwUrl.host}\r\nSignature-Input: ${s.input}\r\nSignature: ${s.signature}\r\nConnection: close\r\n\r\n`);
    assert.equal(statusOf(raw), 200, raw);
    assert.equal(p.upstream.seen.at(-1)!.url, '/payments/transfer');
  });

  it('a fragment in Host (signed for /orders, sent to /admin with Host: <gw>/orders#) is refused', async () => {
    const gwUrl = new URL(p.gateway);
    const s = await signedFor(`${p.gateway}/payments`);
    const seen = p.upstream.seen.length;
    const raw = await rawRequest(Number(gwUrl.port), `GET /transfer/x HTTP/1.1\r\nHost: ${gwUrl.host}/payments#\r\nSignature-Input: ${s.input}\r\nSignature: ${s.signature}\r\nConnection: close\r\n\r\n`);
    assert.equal(statusOf(raw), 400, raw);
    assert.equal(codeOf(raw), 'request.malformed');
    assert.equal(p.upstream.seen.length, seen);
  });
});

describe('Host spellings that name a host route’s host otherwise (gateway review #3)', () => {
  let hosted: Upstream;
  let open: Upstream;
  let gw: TestGateway;

  before(async () => {
    hosted = await startUpstream();
    open = await startUpstream();
    const token = { token: { audience: 'orders-api' } };
    gw = await startGateway([
      route({ name: 'api', match: { host: 'api.example.com', pathPrefix: '/' }, upstream: hosted.url, require: token }),
      route({ name: 'loopback', match: { host: '127.0.0.1', pathPrefix: '/' }, upstream: hosted.url, require: token }),
      route({ name: 'v6', match: { host: '[::1]', pathPrefix: '/' }, upstream: hosted.url, require: token }),
      route({ name: 'any', match: { pathPrefix: '/' }, upstream: open.url }),
    ]);
  });
  after(async () => {
    await gw.close();
    await hosted.close();
    await open.close();
  });

  const get = (host: string): Promise<string> => rawRequest(gw.port, `GET /orders HTTP/1.1\r\nHost: ${host}\r\nConnection: close\r\n\r\n`);

  // an upstream building its URL with the WHATWG parser (Node's URL, fetch-style frameworks) reads each as the host route's host
  const aliases: Array<[string, string]> = [
    ['a percent-encoded dot', 'api%2eexample.com'],
    ['a percent-encoded letter, with a port', '%61pi.example.com:8443'],
    ['upper-case percent-encoding', 'API%2Eexample.com'],
    ['hex IPv4', '0x7f.0.0.1'],
    ['a shortened IPv4', '127.1'],
    ['IPv4 as one number', '2130706433'],
    ['octal IPv4', '0177.0.0.1'],
    ['IPv4 with a leading zero', '127.0.0.01'],
    ['an IPv6 literal that is no IPv6 address', '[::1::]'],
    ['an IPvFuture literal', '[v1.x]'],
    ['an IPv6 zone id', '[fe80::1%25eth0]'],
  ];
  for (const [what, host] of aliases) {
    it(`refuses ${what} (${host}) with 400 request.malformed instead of routing it to the any-host route`, async () => {
      const seen = hosted.seen.length + open.seen.length;
      const raw = await get(host);
      assert.equal(statusOf(raw), 400, raw);
      assert.equal(codeOf(raw), 'request.malformed');
      assert.equal(hosted.seen.length + open.seen.length, seen, 'no upstream saw it');
      assert.ok(gw.audit.events.some((e) => e.type === 'gateway.denied' && e.reason === 'request.malformed' && e.route === null));
    });
  }

  // X-Forwarded-Host is a list: Express's req.hostname takes its first name, Rack and Rails its last,
  // so an upstream behind the gateway would serve the any-host route's request as api.example.com
  const lists: Array<[string, string]> = [
    ['the host route\'s host first in a comma list', 'api.example.com,other.example'],
    ['the host route\'s host last in a comma list', 'other.example, api.example.com'],
    ['a comma list with a port', 'api.example.com,:8443'],
    ['a sub-delimiter in the name', 'api.example.com;x'],
    ['another sub-delimiter', "api.example.com'"],
  ];
  for (const [what, host] of lists) {
    it(`refuses ${what} (${host}) with 400 request.malformed instead of routing it to the any-host route`, async () => {
      const seen = hosted.seen.length + open.seen.length;
      const raw = await get(host);
      assert.equal(statusOf(raw), 400, raw);
      assert.equal(codeOf(raw), 'request.malformed');
      assert.equal(hosted.seen.length + open.seen.length, seen, 'no upstream saw it');
    });
  }

  // a trailing dot is the absolute form of the same name, which routes ignore; a second one, or a dot that
  // starts the name or follows another, is an empty label: no DNS name, and routes compare it as written, so
  // api.example.com.. missed the api.example.com route and went through the any-host route without its policy
  const emptyLabels: Array<[string, string]> = [
    ['two trailing dots', 'api.example.com..'],
    ['two trailing dots, with a port', 'API.example.com..:8443'],
    ['a leading dot', '.api.example.com'],
    ['two dots inside the name', 'api..example.com'],
    ['a dot alone', '.'],
    ['two dots alone', '..'],
    ['an IPv4 address with two trailing dots', '127.0.0.1..'],
  ];
  for (const [what, host] of emptyLabels) {
    it(`refuses an empty label: ${what} (${host}) with 400 request.malformed instead of routing it to the any-host route`, async () => {
      const seen = hosted.seen.length + open.seen.length;
      const raw = await get(host);
      assert.equal(statusOf(raw), 400, raw);
      assert.equal(codeOf(raw), 'request.malformed');
      assert.equal(hosted.seen.length + open.seen.length, seen, 'no upstream saw it');
      assert.ok(gw.audit.events.some((e) => e.type === 'gateway.denied' && e.reason === 'request.malformed' && e.route === null));
    });
  }

  it('another spelling of the IPv6 literal ([0:0::1]) matches its host route, whose policy answers', async () => {
    const raw = await get('[0:0::1]:8080');
    assert.equal(statusOf(raw), 401, raw);
    assert.equal(codeOf(raw), 'token.missing');
  });

  for (const host of ['api.example.com', 'API.example.com.:8443', '127.0.0.1', '127.0.0.1.', '[::1]:80']) {
    it(`control: Host ${host} reaches its host route (401 token.missing)`, async () => {
      const raw = await get(host);
      assert.equal(statusOf(raw), 401, raw);
      assert.equal(codeOf(raw), 'token.missing');
    });
  }

  for (const host of ['other.example.com', '10.0.0.1', 'host-1.example:80']) {
    it(`control: Host ${host} goes to the any-host route`, async () => {
      const raw = await get(host);
      assert.equal(statusOf(raw), 200, raw);
    });
  }
});
