/**
 * The Host header on the identity plane: oidc-provider (Koa) builds the absolute URLs of its
 * pages and redirects from it (or, from a peer in `gateway.trustedProxies`, from
 * X-Forwarded-Host and -Proto). A value that is not `uri-host [":" port]` naming its host
 * one way only — the rule the gateway applies (RFC 9112 §3.2: "A server MUST respond with a
 * 400 (Bad Request) status code to … any request message that contains more than one Host
 * header field line or a Host header field with an invalid field value") — is refused with
 * 400 `request.malformed` before any handler: never a 500 from a URL that cannot be built,
 * never a page whose URLs name the host a URL parser decodes it to.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { rawRequest, statusOf } from '../gateway/helpers.js';
import { startOidcNode } from '../support/oidc-node.js';
import type { TestNode } from '../support/portcullis.js';

/** No trusted proxy; the client (127.0.0.1) is a trusted proxy. */
let direct: TestNode;
let proxied: TestNode;

before(async () => {
  [direct, proxied] = await Promise.all([startOidcNode(), startOidcNode('gateway: { trustedProxies: [127.0.0.1] }')]);
});
after(async () => {
  await Promise.all([direct?.stop(), proxied?.stop()]);
});

const portOf = (node: TestNode): number => Number(new URL(node.urls.identity!).port);
const bodyOf = (raw: string): string => raw.slice(raw.indexOf('\r\n\r\n') + 4);

async function get(node: TestNode, path: string, headerLines: string): Promise<{ status: number; body: string }> {
  const raw = await rawRequest(portOf(node), `GET ${path} HTTP/1.1\r\n${headerLines}Connection: close\r\n\r\n`);
  return { status: statusOf(raw), body: bodyOf(raw) };
}

const BAD_HOSTS: Array<[string, string]> = [
  ['an unclosed IP literal', '['],
  ['whitespace', 'login example'],
  ['a port out of range', 'login.example:99999'],
  ['a percent-encoded name', 'login%2eexample'],
  ['a legacy IPv4 spelling', '127.1'],
  ['userinfo', 'evil.example@login.example'],
  ['an empty value', ''],
  ['a sub-delimiter (a list)', 'login.example,evil.example'],
  ['an empty label at the end', 'login.example..'],
  ['an empty label at the start', '.login.example'],
  ['an empty label inside', 'login..example'],
];

for (const [what, host] of BAD_HOSTS) {
  test(`attack: a Host with ${what} is refused with 400 request.malformed, on pages and at the token endpoints alike`, async () => {
    const logout = await get(direct, '/oauth2/logout', `Host: ${host}\r\n`);
    assert.equal(logout.status, 400, logout.body);
    assert.equal(JSON.parse(logout.body).error, 'invalid_request', logout.body);
    const page = await get(direct, '/account', `Host: ${host}\r\n`);
    assert.equal(page.status, 400, page.body);
    assert.equal(JSON.parse(page.body).code, 'request.malformed', page.body);
  });
}

test('attack: two Host lines are refused with 400 request.malformed, even when they agree', async () => {
  const host = new URL(direct.urls.identity!).host;
  const r = await get(direct, '/account', `Host: ${host}\r\nHost: ${host}\r\n`);
  assert.equal(r.status, 400, r.body);
  assert.equal(JSON.parse(r.body).code, 'request.malformed');
});

for (const [what, value] of [
  ['an X-Forwarded-Host with an unclosed IP literal', 'X-Forwarded-Host: [\r\n'],
  ['an X-Forwarded-Host listing a percent-encoded name', 'X-Forwarded-Host: login%2eexample, login.example\r\n'],
  ['an X-Forwarded-Host with an empty label', 'X-Forwarded-Host: login.example..\r\n'],
  ['a Forwarded host= with an empty label', 'Forwarded: for=192.0.2.5;host="login..example";proto=https\r\n'],
  ['an X-Forwarded-Proto that is no scheme of this plane', 'X-Forwarded-Proto: a b\r\n'],
  ['an X-Forwarded-Proto listing an empty value', 'X-Forwarded-Proto: https,\r\n'],
  ['an X-Forwarded-Proto listing another scheme before its own', 'X-Forwarded-Proto: javascript\r\nX-Forwarded-Proto: https\r\n'],
  ['a Forwarded proto= that is no scheme of this plane', 'Forwarded: for=192.0.2.5;proto=ftp\r\n'],
  // a proxy that writes only Forwarded and passes its client's X-Forwarded-* on would otherwise let the client choose
  ['an X-Forwarded-Proto that disagrees with the last Forwarded proto=', 'X-Forwarded-Proto: http\r\nForwarded: for=192.0.2.5;proto=https\r\n'],
  ['an X-Forwarded-Host that disagrees with the last Forwarded host=', 'X-Forwarded-Host: evil.example\r\nForwarded: for=192.0.2.5;host=login.example;proto=https\r\n'],
] as const) {
  test(`attack: from a trusted proxy, ${what} is refused with 400 request.malformed`, async () => {
    const host = new URL(proxied.urls.identity!).host;
    const r = await get(proxied, '/oauth2/logout', `Host: ${host}\r\n${value}`);
    assert.equal(r.status, 400, r.body);
    assert.equal(JSON.parse(r.body).error, 'invalid_request', r.body);
  });
}

test('valid Hosts are served: the issuer’s, another name, an IPv6 literal, a trailing dot', async () => {
  for (const host of [new URL(direct.urls.identity!).host, 'login.example', '[::1]:8080', 'login.example.']) {
    const r = await get(direct, '/oauth2/logout', `Host: ${host}\r\n`);
    assert.equal(r.status, 200, `${host}: ${r.body.slice(0, 200)}`);
  }
  const r = await get(proxied, '/oauth2/logout', `Host: ${new URL(proxied.urls.identity!).host}\r\nX-Forwarded-Host: login.example\r\nX-Forwarded-Proto: HTTPS\r\n`);
  assert.equal(r.status, 200, r.body.slice(0, 200));
  assert.match(r.body, /action="https:\/\/login\.example\/oauth2\/logout\/confirm"/);
});

test('from a trusted proxy that sends both forms and they agree (any case), pages use them', async () => {
  const host = new URL(proxied.urls.identity!).host;
  const r = await get(proxied, '/oauth2/logout', `Host: ${host}\r\nX-Forwarded-Host: evil.example, Login.Example\r\nX-Forwarded-Proto: http, HTTPS\r\nForwarded: for=192.0.2.5;host=login.example;proto=https\r\n`);
  assert.equal(r.status, 200, r.body.slice(0, 200));
  assert.match(r.body, /action="https:\/\/login\.example\/oauth2\/logout\/confirm"/i);
});

test('attack: from a trusted proxy that appends, the client’s own X-Forwarded-Host and -Proto (leftmost) are not used: pages name the proxy’s (rightmost)', async () => {
  // the client sent X-Forwarded-Host: evil.example and X-Forwarded-Proto: http; a proxy that
  // appends (Envoy's, HAProxy's `option forwarded`-style set-ups) added what it saw
  const host = new URL(proxied.urls.identity!).host;
  for (const lines of [
    'X-Forwarded-Host: evil.example, login.example\r\nX-Forwarded-Proto: http, https\r\n',
    'X-Forwarded-Host: evil.example\r\nX-Forwarded-Host: login.example\r\nX-Forwarded-Proto: http\r\nX-Forwarded-Proto: https\r\n',
  ]) {
    const r = await get(proxied, '/oauth2/logout', `Host: ${host}\r\n${lines}`);
    assert.equal(r.status, 200, r.body.slice(0, 200));
    assert.match(r.body, /action="https:\/\/login\.example\/oauth2\/logout\/confirm"/, r.body.slice(0, 400));
    assert.doesNotMatch(r.body, /evil\.example/);
  }
});

test('from a trusted proxy that writes only Forwarded (RFC 7239), pages take host and scheme from its own (last) element, never the client\u2019s', async () => {
  const host = new URL(proxied.urls.identity!).host;
  const used = await get(proxied, '/oauth2/logout', `Host: ${host}\r\nForwarded: for=198.51.100.1;host=evil.example;proto=http, for=192.0.2.5;host=login.example;proto=https\r\n`);
  assert.equal(used.status, 200, used.body.slice(0, 200));
  assert.match(used.body, /action="https:\/\/login\.example\/oauth2\/logout\/confirm"/);
  // the proxy's element names no host: the client's element is not used instead
  const none = await get(proxied, '/oauth2/logout', `Host: ${host}\r\nForwarded: for=198.51.100.1;host=evil.example;proto=https, for=192.0.2.5\r\n`);
  assert.equal(none.status, 200, none.body.slice(0, 200));
  assert.doesNotMatch(none.body, /evil\.example/);
  assert.match(none.body, new RegExp(`action="http://${host.replace(/\./g, '\\.')}/oauth2/logout/confirm"`));
});

test('attack: two Authorization lines are refused with 400 before any handler: Node would keep the first, a proxy in front may have checked the second', async () => {
  const host = new URL(direct.urls.identity!).host;
  const token = await get(direct, '/oauth2/userinfo', `Host: ${host}\r\nAuthorization: Bearer a\r\nAuthorization: Bearer b\r\n`);
  assert.equal(token.status, 400, token.body);
  assert.equal(JSON.parse(token.body).error, 'invalid_request', token.body);
  const page = await get(direct, '/account', `Host: ${host}\r\nAuthorization: Basic YTpi\r\nauthorization: Basic YzpK\r\n`);
  assert.equal(page.status, 400, page.body);
  assert.equal(JSON.parse(page.body).code, 'request.malformed', page.body);
  // one line passes the check (userinfo then judges the token itself)
  const one = await get(direct, '/oauth2/userinfo', `Host: ${host}\r\nAuthorization: Bearer a\r\n`);
  assert.equal(one.status, 401, one.body);
});
