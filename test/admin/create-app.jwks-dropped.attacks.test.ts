/**
 * `jwks` belongs to the methods that authenticate with keys (private_key_jwt,
 * self_signed_tls_client_auth). Given with a method that does not (client_secret_basic,
 * client_secret_post, tls_client_auth), the keys were dropped without a word: the app was
 * registered with a secret (or its Portcullis certificate) and no keys, while the request
 * asked for keys. Such a request is refused, naming jwks, and nothing is registered.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { startTestNode, type TestNode } from './node.js';

let t: TestNode;
before(async () => {
  t = await startTestNode({ config: 'pki: { trustDomain: example.org }\n' });
});
after(() => t.close());

const KEY = { kty: 'OKP', crv: 'Ed25519', x: '11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo' };

async function appCount(): Promise<number> {
  return ((await t.api('/v1/apps')).body.apps as unknown[]).length;
}

test('attack: POST /v1/apps with jwks and a method that uses no keys → 400 request.invalid naming jwks; no app registered', async () => {
  const before = await appCount();
  for (const method of ['client_secret_basic', 'client_secret_post', 'tls_client_auth']) {
    const r = await t.api('/v1/apps', { body: { name: 'svc', audiences: ['api'], token_endpoint_auth_method: method, jwks: { keys: [KEY] } } });
    assert.equal(r.status, 400, `${method}: ${JSON.stringify(r.body)}`);
    assert.equal(r.body.code, 'request.invalid');
    assert.equal(r.body.detail, `jwks: an app that authenticates with ${method} registers no keys; give jwks with private_key_jwt or self_signed_tls_client_auth, or leave it out`);
  }
  assert.equal(await appCount(), before);
});

test('jwks without a method still registers a private_key_jwt app with its keys', async () => {
  const r = await t.api('/v1/apps', { body: { name: 'svc', audiences: ['api'], jwks: { keys: [KEY] } } });
  assert.equal(r.status, 201, JSON.stringify(r.body));
  assert.equal(r.body.app.token_endpoint_auth_method, 'private_key_jwt');
  assert.equal(r.body.app.jwks_keys, 1);
});
