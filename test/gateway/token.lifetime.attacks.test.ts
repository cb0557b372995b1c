/**
 * A token that lives for a century: `exp` far ahead was accepted (from an external issuer
 * especially, whose issuance this deployment does not control) and stayed in the
 * verified-token cache for as long as the cache kept it. The lifetime (`exp - iat`, or
 * `exp - now` when `iat` is absent) is now bounded per issuer (`maxTokenLifetime`, 24 h by
 * default; `tokens.maxTokenLifetime` for this Portcullis's own tokens) and refused as
 * `token.lifetime-too-long`; and a cache entry lives at most TOKEN_CACHE_MAX_AGE_MS, so a
 * key withdrawn from a key set stops being honoured even for tokens that do not expire soon.
 */
import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, beforeEach, describe, it } from 'node:test';
import { exportJWK, generateKeyPair, SignJWT, type CryptoKey, type JWTPayload } from 'jose';
import { configSchema } from '../../src/core/config/schema.js';
import { TOKEN_CACHE_MAX_AGE_MS } from '../../src/gateway/token-cache.js';
import { baseClaims, bearer, mint, NOW, NOW_S, problem, route, send, startGateway, startUpstream, TestKeys, type Reply, type TestGateway, type Upstream } from './helpers.js';

const EXT = 'https://partner.example';
const HOUR_S = 3600;

describe('token policy: maximum token lifetime', () => {
  let upstream: Upstream;
  let gw: TestGateway;
  const keys = new TestKeys();
  let extKey: { privateKey: CryptoKey; publicKey: CryptoKey };
  let jwksServer: http.Server;
  let seenBefore = 0;

  before(async () => {
    keys.add('k1', 'ES256');
    extKey = await generateKeyPair('ES256');
    const jwks = JSON.stringify({ keys: [{ ...(await exportJWK(extKey.publicKey)), kid: 'ext-1', alg: 'ES256', use: 'sig' }] });
    jwksServer = http.createServer((_req, res) => res.end(jwks));
    await new Promise<void>((r) => jwksServer.listen(0, '127.0.0.1', r));
    const jwksUri = `http://127.0.0.1:${(jwksServer.address() as AddressInfo).port}/jwks.json`;
    upstream = await startUpstream();
    gw = await startGateway(
      [
        route({ name: 'orders', match: { pathPrefix: '/orders' }, upstream: upstream.url, require: { token: { audience: 'orders-api' } } }),
        route({
          name: 'partner',
          match: { pathPrefix: '/partner' },
          upstream: upstream.url,
          require: { token: { audience: 'orders-api', issuers: [{ issuer: `${EXT}/default`, jwksUri }, { issuer: `${EXT}/week`, jwksUri, maxTokenLifetime: '7d' }] } },
        }),
        // the same issuer and key set with a tighter bound: a token cached by one route is still bounded by the other
        route({ name: 'strict', match: { pathPrefix: '/strict' }, upstream: upstream.url, require: { token: { audience: 'orders-api', issuers: [{ issuer: `${EXT}/week`, jwksUri, maxTokenLifetime: '1h' }] } } }),
      ],
      { keys, tokens: { maxTokenLifetime: '1h' } },
    );
  });
  after(async () => {
    await gw.close();
    await upstream.close();
    jwksServer.closeAllConnections();
    await new Promise<void>((r) => jwksServer.close(() => r()));
  });
  beforeEach(() => {
    gw.clock.set(NOW);
    seenBefore = upstream.seen.length;
  });

  const mintExt = (c: JWTPayload, path = 'default') =>
    new SignJWT({ iss: `${EXT}/${path}`, sub: 'partner-user', aud: 'orders-api', iat: NOW_S, exp: NOW_S + 300, ...c }).setProtectedHeader({ alg: 'ES256', kid: 'ext-1', typ: 'at+jwt' }).sign(extKey.privateKey);
  const get = (token: string, path: string) => send(gw.url, { path, headers: bearer(token) });
  async function denied(r: Reply, code: string): Promise<void> {
    assert.equal(r.status, 401, r.body);
    assert.equal(problem(r).code, code);
    assert.match(String(r.headers['www-authenticate']), /^Bearer realm="portcullis", error="invalid_token", error_description="[^"]*"$/);
    assert.equal(upstream.seen.length, seenBefore, 'the upstream must see nothing');
    const ev = gw.audit.events.at(-1)!;
    assert.equal(ev.type, 'gateway.denied');
    assert.equal(ev.reason, code);
  }
  async function allowed(r: Reply): Promise<void> {
    assert.equal(r.status, 200, r.body);
    seenBefore = upstream.seen.length;
  }

  it('an external token valid for 100 years (exp - iat): 401 token.lifetime-too-long, with the RFC 6750 challenge', async () => {
    await denied(await get(await mintExt({ exp: NOW_S + 100 * 365 * 24 * HOUR_S }), '/partner/x'), 'token.lifetime-too-long');
  });

  it('an external token without iat whose exp is 100 years ahead (exp - now): 401 token.lifetime-too-long', async () => {
    await denied(await get(await mintExt({ iat: undefined, exp: NOW_S + 100 * 365 * 24 * HOUR_S }), '/partner/x'), 'token.lifetime-too-long');
    await denied(await get(await mintExt({ iat: undefined, exp: NOW_S + 25 * HOUR_S }), '/partner/x'), 'token.lifetime-too-long');
    await allowed(await get(await mintExt({ iat: undefined, exp: NOW_S + 23 * HOUR_S }), '/partner/x'));
  });

  it('the default bound is 24 h: exactly 24 h passes, one second more is refused; an old iat does not stretch it', async () => {
    await allowed(await get(await mintExt({ iat: NOW_S - 60, exp: NOW_S - 60 + 24 * HOUR_S }), '/partner/x'));
    await denied(await get(await mintExt({ iat: NOW_S - 60, exp: NOW_S - 60 + 24 * HOUR_S + 1 }), '/partner/x'), 'token.lifetime-too-long');
  });

  it('an issuer with maxTokenLifetime 7d accepts a 48 h token; on a route bounding the same issuer to 1 h, the cached token is refused', async () => {
    const t = await mintExt({ exp: NOW_S + 48 * HOUR_S }, 'week');
    await allowed(await get(t, '/partner/x'));
    await denied(await get(t, '/strict/x'), 'token.lifetime-too-long');
    await denied(await get(await mintExt({ exp: NOW_S + 8 * 24 * HOUR_S }, 'week'), '/partner/x'), 'token.lifetime-too-long');
  });

  it('own tokens are bounded by tokens.maxTokenLifetime (1 h here)', async () => {
    await allowed(await get(await mint(keys, baseClaims({ iat: NOW_S - 10, exp: NOW_S - 10 + HOUR_S })), '/orders/1'));
    await denied(await get(await mint(keys, baseClaims({ iat: NOW_S - 10, exp: NOW_S + 100 * 365 * 24 * HOUR_S })), '/orders/1'), 'token.lifetime-too-long');
  });

  it('a cache entry lives at most TOKEN_CACHE_MAX_AGE_MS: a key withdrawn from the key ring stops being honoured then, not at exp', async () => {
    const k2 = keys.add('k2', 'ES256');
    const t = await mint(keys, baseClaims({ exp: NOW_S + 50 * 60 }), { kid: 'k2' });
    await allowed(await get(t, '/orders/1'));
    keys.byKid.delete('k2');
    gw.clock.set(NOW + TOKEN_CACHE_MAX_AGE_MS - 1);
    await allowed(await get(t, '/orders/1'));
    gw.clock.set(NOW + TOKEN_CACHE_MAX_AGE_MS);
    await denied(await get(t, '/orders/1'), 'token.unknown-key');
    assert.ok(k2);
  });

  it('config: maxTokenLifetime is a duration; tokens.accessTokenTtl may not exceed tokens.maxTokenLifetime', () => {
    assert.equal(configSchema.parse({}).tokens.maxTokenLifetime, 24 * HOUR_S * 1000);
    const bad = configSchema.safeParse({ tokens: { accessTokenTtl: '2h', maxTokenLifetime: '1h' } });
    assert.equal(bad.success, false);
    assert.match(JSON.stringify(bad.error!.issues), /maxTokenLifetime/);
    assert.equal(configSchema.safeParse({ tokens: { accessTokenTtl: '1h', maxTokenLifetime: '1h' } }).success, true);
  });
});
