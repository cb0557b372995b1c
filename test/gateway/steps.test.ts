/** Policy steps after the token step: RFC 9470 step-up from the route config, and deps.steps. */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { checkAssurance } from '../../src/gateway/assurance-policy.js';
import { baseClaims, bearer, mint, NOW, NOW_S, problem, route, send, startGateway, startUpstream, TestKeys, type TestGateway, type Upstream } from './helpers.js';

describe('gateway policy steps', () => {
  let upstream: Upstream;
  let gw: TestGateway;
  const keys = new TestKeys();

  before(async () => {
    keys.add('k1');
    upstream = await startUpstream();
    gw = await startGateway(
      [
        route({ name: 'payments', match: { pathPrefix: '/payments' }, upstream: upstream.url, require: { token: { audience: 'orders-api' }, mfa: true, maxAge: '15m' } }),
        route({ name: 'orders', match: { pathPrefix: '/orders' }, upstream: upstream.url, require: { token: { audience: 'orders-api' } } }),
        route({ name: 'hooked', match: { pathPrefix: '/hooked' }, upstream: upstream.url, require: { token: { audience: 'orders-api' } } }),
      ],
      {
        keys,
        steps: (r) => (r.name === 'hooked' ? [(ctx) => checkAssurance(ctx.token!.claims, { acr: ['urn:example:gold'] }, NOW)] : []),
      },
    );
  });
  after(async () => {
    await gw.close();
    await upstream.close();
  });

  it('step-up bypass: a single-factor token on an MFA route is refused with token.insufficient-user-authentication', async () => {
    const seen = upstream.seen.length;
    const r = await send(gw.url, { path: '/payments', headers: bearer(await mint(keys, baseClaims({ amr: ['pwd'], auth_time: NOW_S - 60 }))) });
    assert.equal(r.status, 401);
    assert.equal(problem(r).code, 'token.insufficient-user-authentication');
    assert.match(r.headers['www-authenticate']!, /error="insufficient_user_authentication".*acr_values="urn:portcullis:acr:mfa", max_age=900$/);
    assert.equal(upstream.seen.length, seen);
  });

  it('step-up: a stale sign-in (auth_time older than maxAge) is refused even with a second factor', async () => {
    const r = await send(gw.url, { path: '/payments', headers: bearer(await mint(keys, baseClaims({ amr: ['pwd', 'otp'], auth_time: NOW_S - 3600 }))) });
    assert.equal(r.status, 401);
    assert.equal(problem(r).code, 'token.insufficient-user-authentication');
  });

  it('deps.steps adds a route step after the token step, with the verified token in the context', async () => {
    const r = await send(gw.url, { path: '/hooked', headers: bearer(await mint(keys, baseClaims({ acr: 'urn:example:silver' }))) });
    assert.equal(problem(r).code, 'token.insufficient-user-authentication');
    assert.match(r.headers['www-authenticate']!, /acr_values="urn:example:gold"/);
    const ok = await send(gw.url, { path: '/hooked', headers: bearer(await mint(keys, baseClaims({ acr: 'urn:example:gold' }))) });
    assert.equal(ok.status, 200);
  });

  it('a token proving a second factor, recently, passes; routes without the step do not ask', async () => {
    const mfa = await mint(keys, baseClaims({ amr: ['pwd', 'otp'], auth_time: NOW_S - 60 }));
    assert.equal((await send(gw.url, { path: '/payments', headers: bearer(mfa) })).status, 200);
    const single = await mint(keys, baseClaims({ amr: ['pwd'] }));
    assert.equal((await send(gw.url, { path: '/orders', headers: bearer(single) })).status, 200);
  });
});
