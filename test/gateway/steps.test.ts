/** Extra policy steps after the token step (here: RFC 9470 step-up via assurance-policy.ts). */
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
        route({ name: 'payments', match: { pathPrefix: '/payments' }, upstream: upstream.url, require: { token: { audience: 'orders-api' } } }),
        route({ name: 'orders', match: { pathPrefix: '/orders' }, upstream: upstream.url, require: { token: { audience: 'orders-api' } } }),
      ],
      {
        keys,
        steps: (r) => (r.name === 'payments' ? [(ctx) => checkAssurance(ctx.token!.claims, { mfa: true, maxAge: 15 * 60_000 }, NOW)] : []),
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

  it('a token proving a second factor, recently, passes; routes without the step do not ask', async () => {
    const mfa = await mint(keys, baseClaims({ amr: ['pwd', 'otp'], auth_time: NOW_S - 60 }));
    assert.equal((await send(gw.url, { path: '/payments', headers: bearer(mfa) })).status, 200);
    const single = await mint(keys, baseClaims({ amr: ['pwd'] }));
    assert.equal((await send(gw.url, { path: '/orders', headers: bearer(single) })).status, 200);
  });
});
