import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { PortcullisError } from '../../src/core/errors.js';
import type { VerificationKey, VerificationKeys } from '../../src/crypto/verification-keys.js';
import { problemOf, wwwAuthenticate } from '../../src/gateway/errors.js';
import { baseClaims, bearer, mint, route, send, startGateway, startUpstream, TestKeys } from './helpers.js';

describe('gateway wire errors', () => {
  it('header injection through an error description is impossible: quotes, backslashes and CR/LF are dropped', () => {
    const v = wwwAuthenticate(new PortcullisError('token.malformed', 'bad "x"\\\r\nSet-Cookie: a=b'))!;
    assert.equal(v, 'Bearer realm="portcullis", error="invalid_token", error_description="bad xSet-Cookie: a=b"');
  });

  it('non-token errors carry no challenge; problem bodies carry the stable code', () => {
    assert.equal(wwwAuthenticate(new PortcullisError('route.not-found', 'x')), undefined);
    assert.deepEqual(problemOf(new PortcullisError('route.not-found', 'no route')), {
      type: 'urn:portcullis:error:route.not-found',
      title: 'No gateway route matches the host, path and method.',
      status: 404,
      detail: 'no route',
      code: 'route.not-found',
    });
  });

  it('an internal error exposes no detail', () => {
    const p = problemOf(new PortcullisError('internal', 'db password is hunter2', { expose: false }));
    assert.equal(p.detail, undefined);
    assert.equal(p.status, 500);
  });

  it('an unexpected failure in a check is a 500 internal with no details, and fails closed', async () => {
    const upstream = await startUpstream();
    const real = new TestKeys();
    real.add('k1');
    const broken: VerificationKeys & TestKeys = Object.assign(Object.create(real) as TestKeys, {
      getVerificationKey(_kid: string): VerificationKey | undefined {
        throw new Error('key ring exploded: secret-material-xyz');
      },
    });
    const gw = await startGateway([route({ name: 'o', match: { pathPrefix: '/' }, upstream: upstream.url, require: { token: { audience: 'orders-api' } } })], { keys: broken });
    try {
      const r = await send(gw.url, { path: '/x', headers: bearer(await mint(real, baseClaims())) });
      assert.equal(r.status, 500);
      const body = JSON.parse(r.body) as Record<string, unknown>;
      assert.equal(body['code'], 'internal');
      assert.equal(body['detail'], undefined);
      assert.doesNotMatch(r.body, /exploded|secret-material/);
      assert.equal(upstream.seen.length, 0);
    } finally {
      await gw.close();
      await upstream.close();
    }
  });
});
