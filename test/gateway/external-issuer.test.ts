/**
 * External issuers: tokens of a trusted third-party issuer verified against its JWKS,
 * served here by a test server that counts fetches.
 */
import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { exportJWK, generateKeyPair, SignJWT, type CryptoKey, type JWTPayload } from 'jose';
import { baseClaims, bearer, ISSUER, mint, NOW_S, problem, route, send, startGateway, startUpstream, TestKeys, type TestGateway, type Upstream } from './helpers.js';

const EXT = 'https://partner.example';

describe('external issuer via JWKS', () => {
  let upstream: Upstream;
  let gw: TestGateway;
  let jwksServer: http.Server;
  let fetches = 0;
  let extKey: { privateKey: CryptoKey; publicKey: CryptoKey };
  let rsKey: { privateKey: CryptoKey; publicKey: CryptoKey };
  const keys = new TestKeys();

  const extClaims = (over: JWTPayload = {}): JWTPayload => ({
    iss: EXT,
    sub: 'partner-user',
    aud: 'orders-api',
    scope: 'orders:read',
    exp: NOW_S + 300,
    iat: NOW_S - 5,
    ...over,
  });
  const mintExt = (c: JWTPayload, kid = 'ext-1', key = extKey.privateKey, alg = 'ES256') =>
    new SignJWT(c).setProtectedHeader({ alg, kid, typ: 'at+jwt' }).sign(key);

  before(async () => {
    keys.add('k1');
    extKey = await generateKeyPair('ES256');
    rsKey = await generateKeyPair('RS256');
    const jwks = {
      keys: [
        { ...(await exportJWK(extKey.publicKey)), kid: 'ext-1', alg: 'ES256', use: 'sig' },
        { ...(await exportJWK(rsKey.publicKey)), kid: 'ext-rs', alg: 'RS256', use: 'sig' },
      ],
    };
    jwksServer = http.createServer((_req, res) => {
      fetches++;
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify(jwks));
    });
    await new Promise<void>((r) => jwksServer.listen(0, '127.0.0.1', r));
    const jwksUri = `http://127.0.0.1:${(jwksServer.address() as AddressInfo).port}/jwks.json`;
    upstream = await startUpstream();
    gw = await startGateway(
      [
        route({
          name: 'partner',
          match: { pathPrefix: '/partner' },
          upstream: upstream.url,
          require: { token: { audience: 'orders-api', scopes: ['orders:read'], issuers: ['self', { issuer: EXT, jwksUri, algorithms: ['ES256'] }] } },
        }),
        route({ name: 'self-only', match: { pathPrefix: '/internal' }, upstream: upstream.url, require: { token: { audience: 'orders-api' } } }),
      ],
      { keys },
    );
  });
  after(async () => {
    await gw.close();
    await upstream.close();
    await new Promise<void>((r) => jwksServer.close(() => r()));
  });

  it('accepts tokens of the external issuer and fetches its JWKS once, not per request', async () => {
    for (let i = 0; i < 5; i++) {
      const r = await send(gw.url, { path: '/partner/x', headers: bearer(await mintExt(extClaims({ jti: `e${i}` }))) });
      assert.equal(r.status, 200, r.body);
      const e = JSON.parse(r.body) as { headers: Record<string, string> };
      assert.equal(e.headers['x-portcullis-subject'], 'partner-user');
    }
    assert.equal(fetches, 1);
  });

  it('identity confusion: the same sub from two issuers reaches the upstream with each token\'s issuer in x-portcullis-issuer', async () => {
    const seen = async (token: string): Promise<{ sub: string; iss: string }> => {
      const r = await send(gw.url, { path: '/partner/x', headers: bearer(token) });
      assert.equal(r.status, 200, r.body);
      const h = (JSON.parse(r.body) as { headers: Record<string, string> }).headers;
      return { sub: h['x-portcullis-subject']!, iss: h['x-portcullis-issuer']! };
    };
    const partner = await seen(await mintExt(extClaims({ sub: 'user-1' })));
    const own = await seen(await mint(keys, baseClaims({ sub: 'user-1' })));
    assert.deepEqual(partner, { sub: 'user-1', iss: EXT });
    assert.deepEqual(own, { sub: 'user-1', iss: ISSUER });
  });

  it('a client\'s own x-portcullis-issuer, in any spelling, is replaced by the verified issuer', async () => {
    const r = await send(gw.url, {
      path: '/partner/x',
      headers: { ...bearer(await mintExt(extClaims())), 'X-Portcullis-Issuer': ISSUER, X_Portcullis_Issuer: ISSUER },
    });
    assert.equal(r.status, 200, r.body);
    const raw = upstream.seen.at(-1)!.rawHeaders;
    const lines = raw.flatMap((n, i) => (i % 2 === 0 && n.toLowerCase().replaceAll('_', '-') === 'x-portcullis-issuer' ? [raw[i + 1]] : []));
    assert.deepEqual(lines, [EXT]);
  });

  it('the same route still accepts this issuer\'s own tokens', async () => {
    const r = await send(gw.url, { path: '/partner/x', headers: bearer(await mint(keys, baseClaims())) });
    assert.equal(r.status, 200);
  });

  it('external token on a route that trusts only self: token.wrong-issuer, upstream sees nothing', async () => {
    const before = upstream.seen.length;
    const r = await send(gw.url, { path: '/internal', headers: bearer(await mintExt(extClaims())) });
    assert.equal(r.status, 401);
    assert.equal(problem(r).code, 'token.wrong-issuer');
    assert.equal(upstream.seen.length, before);
  });

  it('an algorithm the issuer config does not allow (RS256 key in its JWKS): token.alg-not-allowed', async () => {
    const r = await send(gw.url, { path: '/partner/x', headers: bearer(await mintExt(extClaims(), 'ext-rs', rsKey.privateKey, 'RS256')) });
    assert.equal(r.status, 401);
    assert.equal(problem(r).code, 'token.alg-not-allowed');
  });

  it('an attacker key with an unknown kid: token.unknown-key, and refetching is bounded by the cooldown', async () => {
    const attacker = await generateKeyPair('ES256');
    const before = fetches;
    for (let i = 0; i < 3; i++) {
      const r = await send(gw.url, { path: '/partner/x', headers: bearer(await mintExt(extClaims(), `rogue-${i}`, attacker.privateKey)) });
      assert.equal(r.status, 401);
      assert.equal(problem(r).code, 'token.unknown-key');
    }
    assert.ok(fetches - before <= 1, `at most one refetch within the cooldown, got ${fetches - before}`);
  });

  it('an attacker key under the issuer\'s kid: token.invalid-signature', async () => {
    const attacker = await generateKeyPair('ES256');
    const r = await send(gw.url, { path: '/partner/x', headers: bearer(await mintExt(extClaims(), 'ext-1', attacker.privateKey)) });
    assert.equal(r.status, 401);
    assert.equal(problem(r).code, 'token.invalid-signature');
  });

  it('expired external token: token.expired', async () => {
    const r = await send(gw.url, { path: '/partner/x', headers: bearer(await mintExt(extClaims({ exp: NOW_S - 120 }))) });
    assert.equal(r.status, 401);
    assert.equal(problem(r).code, 'token.expired');
  });
});
