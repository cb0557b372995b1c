/**
 * A URL's scheme is case-insensitive (RFC 3986 §3.1), and `HTTPS://id.example` loaded, kept as
 * written. The identity plane decides whether its sign-in cookies are `Secure` and `__Host-` by
 * `issuer.startsWith('https:')`, so an issuer written `HTTPS://` set them without: sent over
 * plain http to anyone who gets the browser to a http: URL of the host. The issuer, the routes'
 * upstreams and the JWKS URLs are lower-cased in their scheme at load, the rest as written. An
 * external issuer is an identifier the token's `iss` must equal exactly (RFC 9068 §4, OpenID
 * Connect Core §3.1.3.7), which issuers write in lower case: one whose scheme is not is refused,
 * naming the setting, rather than refusing every token of that issuer with nothing said why.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { validateConfig } from '../../src/core/config/load.js';
import { isPortcullisError } from '../../src/core/errors.js';
import { bindingCookieName } from '../../src/identity/pages/signin-browser.js';

const routeWith = (over: Record<string, unknown>, token?: Record<string, unknown>) => ({
  routes: [{ name: 'a', match: { pathPrefix: '/' }, upstream: 'http://127.0.0.1:9/base', ...over, ...(token === undefined ? {} : { require: { token } }) }],
});

test('attack: an issuer written HTTPS:// loads as https://, so what is decided from its scheme (Secure, __Host- sign-in cookies) holds', () => {
  const { issuer } = validateConfig({ issuer: 'HTTPS://id.example/Tenant' });
  assert.equal(issuer, 'https://id.example/Tenant');
  assert.ok(bindingCookieName('uid', issuer.startsWith('https:')).startsWith('__Host-'));
  assert.equal(validateConfig({ issuer: 'Http://127.0.0.1:8080' }).issuer, 'http://127.0.0.1:8080');
});

test('a route upstream and an external JWKS URL written in upper case load with the scheme lower-cased, the rest as written', () => {
  const cfg = validateConfig(routeWith({ upstream: 'HTTP://127.0.0.1:9/Base' }, { audience: 'x', issuers: [{ issuer: 'https://idp.example/Realm', jwksUri: 'HTTPS://idp.example/Realm/JWKS' }] }));
  const r = cfg.routes[0]!;
  assert.equal(r.upstream, 'http://127.0.0.1:9/Base');
  const external = r.require.token!.issuers[0] as { issuer: string; jwksUri: string };
  assert.equal(external.jwksUri, 'https://idp.example/Realm/JWKS');
  assert.equal(external.issuer, 'https://idp.example/Realm');
});

test('attack: an external issuer written HTTPS:// (which no token iss carries) → config.invalid naming it', () => {
  try {
    validateConfig(routeWith({}, { audience: 'x', issuers: [{ issuer: 'HTTPS://idp.example', jwksUri: 'https://idp.example/jwks' }] }));
    assert.fail('accepted');
  } catch (e) {
    assert.ok(isPortcullisError(e) && e.code === 'config.invalid', String(e));
    assert.match(e.message, /routes\[0\]\.require\.token\.issuers\[0\]\.issuer: .*lower case/);
  }
});
