/**
 * X-Forwarded-Host / -Proto / -For on the identity plane: oidc-provider (Koa) takes the
 * host, scheme and client address from them when told to trust proxies. They are honoured
 * only from a peer in `gateway.trustedProxies`; from any other peer they cannot change a
 * URL oidc-provider emits (the logout form's action, the redirect back after sign-in) nor
 * make its cookies `secure` on a plain-HTTP listener.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { Browser, csrfOf } from '../support/oidc-harness.js';
import { authorizationRequest, registerOidcApp, REDIRECT, startOidcNode, type OidcApp } from '../support/oidc-node.js';
import type { TestNode } from '../support/portcullis.js';

const PASSWORD = 'correct horse battery staple';
const FORWARDED = { 'x-forwarded-host': 'evil.example', 'x-forwarded-proto': 'https', 'x-forwarded-for': '203.0.113.9' };

/** No trusted proxy at all; proxies trusted, but the client (127.0.0.1) is not one; the client is one. */
let none: TestNode;
let others: TestNode;
let trusted: TestNode;
const apps = new Map<TestNode, OidcApp>();

before(async () => {
  [none, others, trusted] = await Promise.all([startOidcNode(), startOidcNode('gateway: { trustedProxies: [192.0.2.0/24, "2001:db8::/32"] }'), startOidcNode('gateway: { trustedProxies: [127.0.0.1] }')]);
  for (const node of [none, others]) {
    apps.set(node, await registerOidcApp(node, 'orders-api'));
    await node.services.identity.users.add({ email: 'fwd@example.test', password: PASSWORD }, 'test');
  }
});
after(async () => {
  await Promise.all([none?.stop(), others?.stop(), trusted?.stop()]);
});

/** Every response of `browser` with `headers` on every request; follows redirects on `issuer`. */
async function walk(browser: Browser, url: string, issuer: string, seen: Array<{ location?: string; cookies: string[]; body: string }>, init: { form?: Record<string, string> } = {}) {
  let r = await browser.request(url, { headers: FORWARDED, ...init });
  seen.push({ ...(r.location ? { location: r.location } : {}), cookies: r.headers.getSetCookie(), body: r.body });
  for (let i = 0; i < 10 && r.location?.startsWith(issuer); i++) {
    r = await browser.request(r.location, { headers: FORWARDED });
    seen.push({ ...(r.location ? { location: r.location } : {}), cookies: r.headers.getSetCookie(), body: r.body });
  }
  return r;
}

async function signInThroughForwardedHeaders(node: TestNode): Promise<void> {
  const issuer = node.urls.identity!;
  const browser = new Browser();
  const seen: Array<{ location?: string; cookies: string[]; body: string }> = [];
  const { url } = await authorizationRequest(apps.get(node)!.config);
  let r = await walk(browser, url, issuer, seen);
  assert.match(r.body, /Sign in/);
  const login = new URL(/action="([^"]*\/login)"/.exec(r.body)![1]!.replace(/&amp;/g, '&'), issuer).toString();
  r = await walk(browser, login, issuer, seen, { form: { csrf: csrfOf(r.body), email: 'fwd@example.test', password: PASSWORD } });
  if (r.body.includes('Allow access?')) {
    const consent = new URL(/action="([^"]*\/consent)"/.exec(r.body)![1]!.replace(/&amp;/g, '&'), issuer).toString();
    r = await walk(browser, consent, issuer, seen, { form: { csrf: csrfOf(r.body) } });
  }
  assert.ok(r.location?.startsWith(REDIRECT), `back to the app, got ${r.status} ${r.location}`);
  // the RP-initiated logout page: its form posts to an absolute URL oidc-provider builds from the request
  const logout = await browser.request(`${issuer}/oauth2/logout`, { headers: FORWARDED });
  seen.push({ cookies: logout.headers.getSetCookie(), body: logout.body });
  assert.match(logout.body, new RegExp(`action="${issuer.replace(/[.]/g, '\\.')}/oauth2/logout/confirm"`));

  for (const s of seen) {
    if (s.location) assert.ok(s.location.startsWith(issuer) || s.location.startsWith(REDIRECT), `Location ${s.location}`);
    assert.doesNotMatch(s.body, /evil\.example|https:\/\/127\.0\.0\.1/, 'no forwarded host or scheme in a page');
    for (const c of s.cookies) assert.doesNotMatch(c, /;\s*secure/i, `cookie ${c}`);
  }
  assert.ok(seen.some((s) => s.cookies.length > 0), 'cookies were set along the way');
}

test('attack: X-Forwarded-Host/-Proto from a client change no URL oidc-provider emits and no cookie’s secure flag, through a whole sign-in (no trusted proxies)', async () => {
  await signInThroughForwardedHeaders(none);
});

test('attack: the same, with trusted proxies configured but the client not among them (decided per request)', async () => {
  await signInThroughForwardedHeaders(others);
});

test('from a trusted proxy (gateway.trustedProxies) the forwarded host and scheme are honoured', async () => {
  const issuer = trusted.urls.identity!;
  const logout = await new Browser().request(`${issuer}/oauth2/logout`, { headers: { 'x-forwarded-host': 'login.example', 'x-forwarded-proto': 'https' } });
  assert.equal(logout.status, 200);
  assert.match(logout.body, /action="https:\/\/login\.example\/oauth2\/logout\/confirm"/);
  const secure = logout.headers.getSetCookie();
  assert.ok(secure.length > 0 && secure.every((c) => /;\s*secure/i.test(c)), `secure cookies behind a TLS-terminating proxy: ${secure.join(' | ')}`);
});
