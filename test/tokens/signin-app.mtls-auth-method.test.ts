/**
 * Sign-in (authorization code, refresh token) is served by oidc-provider, which takes
 * client_secret_basic, client_secret_post, private_key_jwt, tls_client_auth (RFC 8705, its
 * features.mTLS wired to the Portcullis CA: test/pki-node/oidc-tls-client-auth.attacks.test.ts)
 * self_signed_tls_client_auth (matched by its keys' x5c:
 * test/pki-node/oidc-self-signed-tls-client-auth.attacks.test.ts) and none. oidc-provider
 * matches a self-signed certificate by the x5c of a registered key only, so a sign-in app
 * with `self_signed_tls_client_auth` whose keys carry no certificate could never sign a user
 * in: it is refused at registration, naming the key; a mutual-TLS app of the
 * client-credentials grant is not.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { generateKeyPairSync } from 'node:crypto';
import { startTestNode, type TestNode } from '../admin/node.js';

const REDIRECT = 'https://app.example.test/cb';

describe('sign-in apps and mutual-TLS client authentication', () => {
  let t: TestNode;
  before(async () => {
    // tls_client_auth apps are registered only on a node with a trust domain (tls-client-auth.no-trust-domain.test.ts)
    t = await startTestNode({ config: 'pki: { trustDomain: example.org }\n' });
  });
  after(() => t.close());

  const selfSignedJwk = () => {
    const { publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    return publicKey.export({ format: 'jwk' });
  };

  test('tls_client_auth with redirect URIs (the code flow) is registered, without a secret', async () => {
    const r = await t.api('/v1/apps', { body: { name: 'web-tls', audiences: ['orders-api'], scopes: ['read'], token_endpoint_auth_method: 'tls_client_auth', redirect_uris: [REDIRECT] } });
    assert.equal(r.status, 201, JSON.stringify(r.body));
    assert.equal(r.body.app.token_endpoint_auth_method, 'tls_client_auth');
    assert.equal(r.body.client_secret ?? null, null);
  });

  for (const method of ['tls_client_auth', 'self_signed_tls_client_auth'] as const) {
    const jwks = method === 'self_signed_tls_client_auth' ? { jwks: { keys: [selfSignedJwk()] } } : {};
    test(`${method} for the client-credentials grant (no redirect URI) is still registered`, async () => {
      const r = await t.api('/v1/apps', { body: { name: `svc-${method}`, audiences: ['orders-api'], scopes: ['read'], token_endpoint_auth_method: method, ...jwks } });
      assert.equal(r.status, 201, JSON.stringify(r.body));
      assert.equal(r.body.app.token_endpoint_auth_method, method);
    });
  }

  {
    const method = 'self_signed_tls_client_auth';
    const jwks = { jwks: { keys: [selfSignedJwk()] } };
    test(`${method} with redirect URIs (the code flow) and a key without its certificate (x5c) → 400 request.invalid naming jwks[0].x5c; no app is stored`, async () => {
      const before = (await t.api('/v1/apps')).body.apps?.length;
      const r = await t.api('/v1/apps', { body: { name: `web-${method}`, audiences: ['orders-api'], scopes: ['read'], token_endpoint_auth_method: method, redirect_uris: [REDIRECT], ...jwks } });
      assert.equal(r.status, 400, JSON.stringify(r.body));
      assert.equal(r.body.code, 'request.invalid');
      assert.match(r.body.detail, /^jwks\[0\]\.x5c: /);
      assert.equal((await t.api('/v1/apps')).body.apps?.length, before);
    });

    test(`${method} with only the refresh_token or authorization_code grant and a key without x5c → 400 request.invalid`, async () => {
      const r = await t.api('/v1/apps', { body: { name: `web2-${method}`, audiences: ['orders-api'], scopes: ['read'], token_endpoint_auth_method: method, redirect_uris: [REDIRECT], grant_types: ['authorization_code', 'refresh_token'], ...jwks } });
      assert.equal(r.status, 400, JSON.stringify(r.body));
      assert.equal(r.body.code, 'request.invalid');
    });
  }

  test('a sign-in app with client_secret_basic or private_key_jwt is still registered', async () => {
    const basic = await t.api('/v1/apps', { body: { name: 'web-basic', audiences: ['orders-api'], scopes: ['read'], redirect_uris: [REDIRECT] } });
    assert.equal(basic.status, 201, JSON.stringify(basic.body));
    const pkjwt = await t.api('/v1/apps', { body: { name: 'web-pkjwt', audiences: ['orders-api'], scopes: ['read'], redirect_uris: [REDIRECT], jwks: { keys: [{ ...selfSignedJwk(), alg: 'ES256' }] } } });
    assert.equal(pkjwt.status, 201, JSON.stringify(pkjwt.body));
  });
});
