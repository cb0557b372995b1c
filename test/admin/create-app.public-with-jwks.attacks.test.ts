/**
 * A public app (no secret, PKCE only) does not authenticate to the token endpoint. Registering
 * one with keys for client authentication (`private_key_jwt`, `self_signed_tls_client_auth`)
 * would make a public app that claims a key-based method; it is refused at registration as
 * `set-jwks` refuses it later, and nothing is stored.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { startTestNode, type TestNode } from './node.js';

let t: TestNode;
before(async () => {
  t = await startTestNode();
});
after(() => t.close());

const KEY = { kty: 'OKP', crv: 'Ed25519', x: '11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo' };
const SPA = { audiences: ['api'], scopes: ['read'], type: 'public', redirect_uris: ['https://spa.example/cb'] };
const REFUSED = 'a public app (no client authentication, PKCE only) has no keys for private_key_jwt or self_signed_tls_client_auth; an app that authenticates with keys is a confidential app (register it without type public)';

async function appCount(): Promise<number> {
  return ((await t.api('/v1/apps')).body.apps as unknown[]).length;
}

test('attack: POST /v1/apps with type public and jwks → 400 request.invalid naming jwks; no app registered', async () => {
  const before = await appCount();
  for (const method of [undefined, 'private_key_jwt', 'self_signed_tls_client_auth', 'client_secret_basic']) {
    const r = await t.api('/v1/apps', { body: { name: 'spa', ...SPA, jwks: { keys: [KEY] }, ...(method ? { token_endpoint_auth_method: method } : {}) } });
    assert.equal(r.status, 400, `${method}: ${JSON.stringify(r.body)}`);
    assert.equal(r.body.code, 'request.invalid');
    assert.equal(r.body.detail, `jwks: ${REFUSED}`);
  }
  assert.equal(await appCount(), before);
});

test('attack: POST /v1/apps with type public and a key-based method without jwks → 400 request.invalid naming token_endpoint_auth_method', async () => {
  for (const method of ['private_key_jwt', 'self_signed_tls_client_auth']) {
    const r = await t.api('/v1/apps', { body: { name: 'spa', ...SPA, token_endpoint_auth_method: method } });
    assert.equal(r.status, 400, `${method}: ${JSON.stringify(r.body)}`);
    assert.equal(r.body.code, 'request.invalid');
    assert.equal(r.body.detail, `token_endpoint_auth_method: ${REFUSED}`);
  }
});

test('a public app without keys is still registered, without a secret', async () => {
  const r = await t.api('/v1/apps', { body: { name: 'spa', ...SPA } });
  assert.equal(r.status, 201, JSON.stringify(r.body));
  assert.equal(r.body.client_secret, null);
  assert.equal(r.body.app.type, 'public');
  assert.equal(r.body.app.jwks_keys, 0);
});
