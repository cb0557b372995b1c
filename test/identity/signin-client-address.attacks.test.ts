/**
 * The client address of a sign-in, which the per-address attempt cap (identity/lockout.ts)
 * counts and the `signin.failed` audit event records. Behind a proxy listed in
 * `gateway.trustedProxies` the connection's peer is the proxy, shared by every user: the
 * client is the nearest address in X-Forwarded-For that is not a listed proxy (the one the
 * last trusted proxy appended), so one guesser's failures lock that guesser, not everyone
 * behind the proxy. From any other peer X-Forwarded-For is the client's claim about itself
 * and is never believed: rotating it does not dodge the cap.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { DEFAULT_LOCKOUT_POLICY } from '../../src/identity/lockout.js';
import { Browser, csrfOf } from '../support/oidc-harness.js';
import { authorizationRequest, registerOidcApp, REDIRECT, startOidcNode, type OidcApp } from '../support/oidc-node.js';
import type { TestNode } from '../support/portcullis.js';
import { forwardedAddress } from '../../src/http/client-address.js';

const PASSWORD = 'plum tractor velvet orbit';
/** The client (127.0.0.1) is a trusted proxy, behind another listed one; proxies are listed, the client is not one. */
let proxied: TestNode;
let direct: TestNode;
const apps = new Map<TestNode, OidcApp>();

before(async () => {
  [proxied, direct] = await Promise.all([startOidcNode('gateway: { trustedProxies: [127.0.0.1, 192.0.2.0/24] }'), startOidcNode('gateway: { trustedProxies: [192.0.2.0/24] }')]);
  for (const node of [proxied, direct]) {
    apps.set(node, await registerOidcApp(node, 'orders-api'));
    await node.services.identity.users.add({ email: 'victim@example.test', password: PASSWORD }, 'test');
  }
});
after(async () => {
  await Promise.all([proxied?.stop(), direct?.stop()]);
});

/** Opens a sign-in page and posts the password form, every request carrying `forwardedFor` (an X-Forwarded-For value, or the headers to send). */
async function signIn(node: TestNode, forwardedFor: string | Record<string, string>, password: string) {
  const issuer = node.urls.identity!;
  const headers = typeof forwardedFor === 'string' ? { 'x-forwarded-for': forwardedFor } : forwardedFor;
  const browser = new Browser();
  let r = await browser.request((await authorizationRequest(apps.get(node)!.config)).url, { headers });
  for (let i = 0; i < 10 && r.location?.startsWith(issuer); i++) r = await browser.request(r.location, { headers });
  assert.match(r.body, /Sign in/);
  const login = new URL(/action="([^"]*\/login)"/.exec(r.body)![1]!.replace(/&amp;/g, '&'), issuer).toString();
  return browser.request(login, { headers, form: { csrf: csrfOf(r.body), email: 'victim@example.test', password } });
}

/** Clears the victim account's own failures, so a test's many wrong passwords meet only the per-address cap. */
async function unlockVictim(node: TestNode): Promise<void> {
  await node.services.identity.lockout.unlockAccount((await node.services.identity.users.find('victim@example.test')).id);
}

async function lastFailedSignInAddress(node: TestNode): Promise<unknown> {
  await node.services.audit.flush();
  const failed = (await node.services.store.tailAudit(50)).filter((e) => e.type === 'signin.failed');
  return (failed.at(-1)?.data as { ip?: unknown } | undefined)?.ip;
}

test('behind trusted proxies, a failed sign-in is counted and audited against the client, not the proxy', async () => {
  const lockout = proxied.services.identity.lockout;
  // the client's own claim first, then what the trusted proxies appended
  const r = await signIn(proxied, '198.51.100.7, 203.0.113.9, 192.0.2.5', 'wrong password');
  assert.equal(r.status, 401, r.body.slice(0, 200));
  assert.equal(await lastFailedSignInAddress(proxied), '203.0.113.9');
  assert.equal((await lockout.state('ip', '203.0.113.9')).failures, 1);
  assert.equal((await lockout.state('ip', '127.0.0.1')).failures, 0, 'the proxy’s address counts nobody’s failures');
  assert.equal((await lockout.state('ip', '198.51.100.7')).failures, 0, 'the client’s own claim is not believed');
});

test('attack: a guesser locked out behind the proxy stays locked; another user behind the same proxy still signs in', async () => {
  const lockout = proxied.services.identity.lockout;
  for (let i = 0; i < DEFAULT_LOCKOUT_POLICY.ip.lockAfter; i++) await lockout.recordFailure({ ip: '203.0.113.66' });
  const guesser = await signIn(proxied, '203.0.113.66', PASSWORD);
  assert.equal(guesser.status, 429, guesser.body.slice(0, 200));
  assert.match(guesser.body, /locked/);
  const other = await signIn(proxied, '203.0.113.67', PASSWORD);
  assert.ok(other.location?.startsWith(proxied.urls.identity!) || other.location?.startsWith(REDIRECT), `${other.status} ${other.body.slice(0, 200)}`);
});

test('attack: from a peer that is not a trusted proxy, X-Forwarded-For changes nothing: rotating it does not dodge the cap', async () => {
  const lockout = direct.services.identity.lockout;
  const before = (await lockout.state('ip', '127.0.0.1')).failures;
  for (const claimed of ['203.0.113.1', '203.0.113.2']) {
    const r = await signIn(direct, claimed, 'wrong password');
    assert.equal(r.status, 401);
    assert.equal(await lastFailedSignInAddress(direct), '127.0.0.1');
    assert.equal((await lockout.state('ip', claimed)).failures, 0);
  }
  assert.equal((await lockout.state('ip', '127.0.0.1')).failures, before + 2);
});

test('attack: behind a proxy that appends ip:port, a new source port is the same client: the cap is not dodged', async () => {
  const lockout = proxied.services.identity.lockout;
  for (const port of [50001, 50002, 50003]) {
    await unlockVictim(proxied);
    const r = await signIn(proxied, `203.0.113.20:${port}, 192.0.2.5:443`, 'wrong password');
    assert.equal(r.status, 401, r.body.slice(0, 200));
    assert.equal(await lastFailedSignInAddress(proxied), '203.0.113.20');
  }
  assert.equal((await lockout.state('ip', '203.0.113.20')).failures, 3);
  assert.equal((await lockout.state('ip', '192.0.2.5')).failures, 0, 'the proxy written with its port is still a listed proxy');
});

test('attack: a bracketed IPv6 entry with a port ([v6]:port, quoted or not) is counted by its /64, not by the port', async () => {
  const lockout = proxied.services.identity.lockout;
  for (const entry of ['[2001:DB8:5:6::1]:40001', '"[2001:db8:5:6::2]:40002"', '[2001:db8:5:6::3]']) {
    await unlockVictim(proxied);
    const r = await signIn(proxied, `${entry}, 192.0.2.5`, 'wrong password');
    assert.equal(r.status, 401, r.body.slice(0, 200));
  }
  assert.equal(await lastFailedSignInAddress(proxied), '2001:db8:5:6::3');
  assert.equal((await lockout.state('ip', '2001:db8:5:6::9')).failures, 3);
});

test('attack: an entry that is not an IP address is no fresh identity: the attempt counts against the proxy that appended it', async () => {
  const lockout = proxied.services.identity.lockout;
  const before = (await lockout.state('ip', '192.0.2.77')).failures;
  for (const junk of ['unknown', '_hidden', 'attacker-1.example', '203.0.113.30:99999']) {
    await unlockVictim(proxied);
    const r = await signIn(proxied, `${junk}, 192.0.2.77`, 'wrong password');
    assert.equal(r.status, 401, r.body.slice(0, 200));
    assert.equal(await lastFailedSignInAddress(proxied), '192.0.2.77');
    assert.equal((await lockout.state('ip', junk)).failures, 0);
  }
  assert.equal((await lockout.state('ip', '192.0.2.77')).failures, before + 4);
});

test('an X-Forwarded-For entry is its address alone, in one spelling; anything else is no address', () => {
  const cases: Array<[string, string | undefined]> = [
    ['203.0.113.9', '203.0.113.9'],
    ['203.0.113.9:8080', '203.0.113.9'],
    ['"203.0.113.9:8080"', '203.0.113.9'],
    ['[2001:DB8::1]:443', '2001:db8::1'],
    ['"[2001:db8::1]"', '2001:db8::1'],
    ['2001:db8::1', '2001:db8::1'],
    ['[::ffff:203.0.113.9]:1', '203.0.113.9'],
    ['203.0.113.9:65536', undefined],
    ['[203.0.113.9]:80', undefined],
    ['2001:db8::1]:80', undefined],
    ['[2001:db8::1', undefined],
    ['unknown', undefined],
    ['_hidden', undefined],
    ['', undefined],
    ['"', undefined],
  ];
  for (const [entry, address] of cases) assert.equal(forwardedAddress(entry), address, entry);
});

/**
 * RFC 7239 `Forwarded` is the standard form of the same list: a proxy that writes only it
 * (HAProxy's `option forwarded`, nginx set up for it) must not make every client behind
 * it one address, which one guesser could lock for everyone.
 */
test('behind trusted proxies that write only Forwarded (RFC 7239), a failed sign-in is counted against the client its for= names', async () => {
  const lockout = proxied.services.identity.lockout;
  await unlockVictim(proxied);
  const r = await signIn(proxied, { forwarded: 'for=198.51.100.70;proto=http, For="[2001:db8:7:7::1]:4711";by=_edge, for=192.0.2.5;host="login.example"' }, 'wrong password');
  assert.equal(r.status, 401, r.body.slice(0, 200));
  assert.equal(await lastFailedSignInAddress(proxied), '2001:db8:7:7::1');
  assert.equal((await lockout.state('ip', '198.51.100.70')).failures, 0, 'the client\u2019s own claim is not believed');
  assert.equal((await lockout.state('ip', '127.0.0.1')).failures, 0, 'the proxy\u2019s address counts nobody\u2019s failures');
});

test('with both X-Forwarded-For and Forwarded from a trusted proxy, X-Forwarded-For is the one read', async () => {
  await unlockVictim(proxied);
  const r = await signIn(proxied, { 'x-forwarded-for': '203.0.113.81', forwarded: 'for=203.0.113.82' }, 'wrong password');
  assert.equal(r.status, 401, r.body.slice(0, 200));
  assert.equal(await lastFailedSignInAddress(proxied), '203.0.113.81');
});

test('attack: from a peer that is not a trusted proxy, Forwarded changes nothing', async () => {
  const r = await signIn(direct, { forwarded: 'for=203.0.113.83' }, 'wrong password');
  assert.equal(r.status, 401, r.body.slice(0, 200));
  assert.equal(await lastFailedSignInAddress(direct), '127.0.0.1');
});

test('attack: a Forwarded field from a trusted proxy that is not RFC 7239 syntax is 400 request.malformed', async () => {
  for (const value of ['for=203.0.113.9;for=203.0.113.10', 'for="203.0.113.9', 'for', '=203.0.113.9', 'for=a b']) {
    const r = await new Browser().request(`${proxied.urls.identity!}/account`, { headers: { forwarded: value } });
    assert.equal(r.status, 400, `${value}: ${r.body.slice(0, 200)}`);
    assert.equal(JSON.parse(r.body).code, 'request.malformed', value);
  }
});
