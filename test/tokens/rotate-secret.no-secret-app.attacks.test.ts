/**
 * An app registered to authenticate without a secret (mutual TLS, RFC 8705 §2; a public
 * app) must not be given one by rotate-secret: a secret would let it authenticate with
 * client_secret_basic and get bearer tokens where its tokens are meant to be bound to its
 * certificate (RFC 8705 §3).
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { PortcullisError } from '../../src/core/errors.js';
import { startTestNode, basic, postForm, testConfig, type TestNode } from '../support/portcullis.js';

let node: TestNode;
before(async () => {
  // tls_client_auth apps are registered only on a node with a trust domain
  node = await startTestNode({ config: testConfig('pki: { trustDomain: example.org }') });
});
after(() => node.stop());

const conflict = (e: unknown) => e instanceof PortcullisError && e.code === 'conflict';

for (const method of ['tls_client_auth', 'self_signed_tls_client_auth'] as const) {
  test(`attack: rotate-secret on a ${method} app → conflict, and no secret authenticates it`, async () => {
    const jwks = method === 'self_signed_tls_client_auth' ? [{ kty: 'OKP', crv: 'Ed25519', x: '11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo' }] : undefined;
    const { app } = await node.services.apps.create({ name: `mtls-${method}`, audiences: ['orders-api'], scopes: ['read'], tokenEndpointAuthMethod: method, ...(jwks ? { jwks } : {}) }, 'test');
    let secret: string | undefined;
    await assert.rejects(async () => {
      secret = (await node.services.apps.rotateSecret(app.clientId, 'test')).clientSecret;
    }, conflict);
    assert.equal(node.services.apps.get(app.clientId).secretVerifier, null);
    if (secret) {
      const r = await postForm(`${node.urls.identity}/oauth2/token`, { grant_type: 'client_credentials' }, { authorization: basic(app.clientId, secret) });
      assert.equal(r.status, 401, 'a rotated-in secret must not authenticate a certificate-bound app');
    }
  });
}

test('attack: rotate-secret on a public app → conflict (it has no secret)', async () => {
  const { app } = await node.services.apps.create({ name: 'spa', audiences: ['orders-api'], scopes: ['read'], type: 'public', redirectUris: ['https://spa.example/cb'] }, 'test');
  await assert.rejects(node.services.apps.rotateSecret(app.clientId, 'test'), conflict);
});

test('rotate-secret on a client_secret_basic app still works', async () => {
  const { app } = await node.services.apps.create({ name: 'secret-app', audiences: ['orders-api'], scopes: ['read'] }, 'test');
  const { clientSecret } = await node.services.apps.rotateSecret(app.clientId, 'test');
  const r = await postForm(`${node.urls.identity}/oauth2/token`, { grant_type: 'client_credentials' }, { authorization: basic(app.clientId, clientSecret) });
  assert.equal(r.status, 200);
});
