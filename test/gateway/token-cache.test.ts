import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { TokenCache, tokenKey, type VerifiedToken } from '../../src/gateway/token-cache.js';
import { RevocationSet } from '../../src/tokens/revocation-set.js';
import { baseClaims, bearer, mint, NOW, NOW_S, problem, route, send, startGateway, startUpstream, TestKeys, type TestGateway, type Upstream } from './helpers.js';

function entry(jti: string, clientId: string, expMs = NOW + 60_000): VerifiedToken {
  return {
    source: 'self',
    alg: 'ES256',
    iss: 'i',
    aud: ['a'],
    scope: '',
    scopes: new Set(),
    sub: 's',
    clientId,
    jti,
    iatMs: NOW - 1000,
    expMs,
    verifiedAtMs: NOW,
    lifetimeMs: expMs - (NOW - 1000),
    claims: {},
    identityHeaders: [],
    x5t: undefined,
  };
}

describe('token cache (unit)', () => {
  it('keys by SHA-256 of the token, never the token itself', () => {
    const k = tokenKey('header.payload.signature');
    assert.equal(k.length, 44);
    assert.ok(!k.includes('payload'));
    assert.notEqual(tokenKey('a.b.c'), tokenKey('a.b.d'));
  });

  it('is bounded: an entry used since it was cached outlives one that was not', () => {
    const c = new TokenCache(2);
    c.set('a', entry('ja', 'c1'));
    c.set('b', entry('jb', 'c1'));
    assert.ok(c.get('a', NOW)); // a is now most recent
    c.set('c', entry('jc', 'c1'));
    assert.equal(c.size, 2);
    assert.equal(c.get('b', NOW), undefined);
    assert.ok(c.get('a', NOW));
    assert.ok(c.get('c', NOW));
  });

  it('stays bounded when every entry was used (second chance clears the marks, oldest goes)', () => {
    const c = new TokenCache(3);
    for (const k of ['a', 'b', 'c']) c.set(k, entry('j' + k, 'c1'));
    for (const k of ['a', 'b', 'c']) assert.ok(c.get(k, NOW));
    c.set('d', entry('jd', 'c1'));
    assert.equal(c.size, 3);
    assert.equal(c.get('a', NOW), undefined);
    // b and c lost their marks; c was used again, so b goes next
    assert.ok(c.get('c', NOW));
    c.set('e', entry('je', 'c1'));
    assert.equal(c.size, 3);
    assert.equal(c.get('b', NOW), undefined);
    for (const k of ['c', 'd', 'e']) assert.ok(c.get(k, NOW), k);
    // an evicted entry's revocation index went with it: revoking its jti drops nothing else
    const rs = new RevocationSet();
    c.attach(rs);
    rs.apply({ type: 'token.revoked', jti: 'ja', expiresAt: NOW + 60_000 });
    assert.equal(c.size, 3);
    rs.apply({ type: 'app.tokens-revoked', clientId: 'c1', before: NOW });
    assert.equal(c.size, 0);
  });

  it('never returns an entry at or past the token exp', () => {
    const c = new TokenCache(10);
    c.set('a', entry('ja', 'c1', NOW + 1000));
    assert.ok(c.get('a', NOW + 999));
    assert.equal(c.get('a', NOW + 1000), undefined);
    assert.equal(c.size, 0);
  });

  it('size 0 disables caching', () => {
    const c = new TokenCache(0);
    c.set('a', entry('ja', 'c1'));
    assert.equal(c.get('a', NOW), undefined);
  });

  it('is purged by revocation events: the jti, every token of an app, a disabled app', () => {
    const c = new TokenCache(10);
    const rs = new RevocationSet();
    c.attach(rs);
    c.set('a', entry('ja', 'c1'));
    c.set('b', entry('jb', 'c1'));
    c.set('x', entry('jx', 'c2'));
    c.set('y', entry('jy', 'c3'));
    rs.apply({ type: 'token.revoked', jti: 'jx', expiresAt: NOW + 60_000 });
    assert.equal(c.get('x', NOW), undefined);
    assert.ok(c.get('a', NOW));
    rs.apply({ type: 'app.tokens-revoked', clientId: 'c1', before: NOW });
    assert.equal(c.get('a', NOW), undefined);
    assert.equal(c.get('b', NOW), undefined);
    rs.apply({ type: 'app.status', clientId: 'c3', disabled: true });
    assert.equal(c.get('y', NOW), undefined);
    assert.equal(c.size, 0);
  });
});

describe('token cache (through the gateway)', () => {
  let upstream: Upstream;
  let gw: TestGateway;
  const keys = new TestKeys();

  before(async () => {
    keys.add('k1');
    upstream = await startUpstream();
    gw = await startGateway(
      [
        route({ name: 'orders', match: { pathPrefix: '/orders' }, upstream: upstream.url, require: { token: { audience: 'orders-api', scopes: ['orders:read'] } } }),
        route({ name: 'billing', match: { pathPrefix: '/billing' }, upstream: upstream.url, require: { token: { audience: 'billing-api' } } }),
      ],
      { keys },
    );
  });
  after(async () => {
    await gw.close();
    await upstream.close();
  });

  it('a revoked token that was cached is rejected right after revocations.apply()', async () => {
    const c = baseClaims();
    const t = await mint(keys, c);
    assert.equal((await send(gw.url, { path: '/orders', headers: bearer(t) })).status, 200);
    assert.equal((await send(gw.url, { path: '/orders', headers: bearer(t) })).status, 200);
    const key = tokenKey(t);
    assert.ok(gw.gw.tokens.cache.get(key, NOW), 'the token is cached after use');
    const seen = upstream.seen.length;
    gw.revocations.apply({ type: 'token.revoked', jti: c.jti!, expiresAt: NOW + 600_000 });
    assert.equal(gw.gw.tokens.cache.get(key, NOW), undefined, 'the revocation purged the entry');
    const r = await send(gw.url, { path: '/orders', headers: bearer(t) });
    assert.equal(r.status, 401);
    assert.equal(problem(r).code, 'token.revoked');
    assert.equal(upstream.seen.length, seen);
  });

  it('revocation is checked on cache hits even without a purge (reconcile replaced the set)', async () => {
    const c = baseClaims({ client_id: 'app-late' });
    const t = await mint(keys, c);
    assert.equal((await send(gw.url, { path: '/orders', headers: bearer(t) })).status, 200);
    // an app watermark for another clientId does not purge this entry; check() still sees the new one
    gw.revocations.apply({ type: 'app.tokens-revoked', clientId: 'someone-else', before: NOW });
    assert.ok(gw.gw.tokens.cache.get(tokenKey(t), NOW));
    const before = gw.gw.tokens.cache.size;
    (gw.revocations as unknown as { watermarks: Map<string, number> }).watermarks.set('app-late', NOW);
    assert.equal(gw.gw.tokens.cache.size, before);
    const r = await send(gw.url, { path: '/orders', headers: bearer(t) });
    assert.equal(problem(r).code, 'token.revoked');
  });

  it('a cached token is never used past its exp', async () => {
    const t = await mint(keys, baseClaims({ exp: NOW_S + 5 }));
    assert.equal((await send(gw.url, { path: '/orders', headers: bearer(t) })).status, 200);
    gw.clock.advance(36_000); // past exp plus the 30 s leeway
    try {
      const r = await send(gw.url, { path: '/orders', headers: bearer(t) });
      assert.equal(r.status, 401);
      assert.equal(problem(r).code, 'token.expired');
    } finally {
      gw.clock.set(NOW);
    }
  });

  it('route checks still run on a cache hit: a cached token for orders-api is refused on billing', async () => {
    const t = await mint(keys, baseClaims());
    assert.equal((await send(gw.url, { path: '/orders', headers: bearer(t) })).status, 200);
    const r = await send(gw.url, { path: '/billing', headers: bearer(t) });
    assert.equal(r.status, 401);
    assert.equal(problem(r).code, 'token.wrong-audience');
  });
});
