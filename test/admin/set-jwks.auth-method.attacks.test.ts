/**
 * Replacing an app's JWKS must not silently change how it authenticates: a `tls_client_auth`
 * app switched to `private_key_jwt` would get bearer tokens where they are meant to be bound to
 * its certificate (RFC 8705 §3), and a public app (no client authentication) would end up a
 * public app with private_key_jwt. Both are refused, and the app stays as it was.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { startTestNode, type TestNode } from './node.js';

let t: TestNode;
before(async () => {
  // tls_client_auth apps are registered only on a node with a trust domain
  t = await startTestNode({ config: 'pki: { trustDomain: example.org }\n' });
});
after(() => t.close());

const KEY = { kty: 'OKP', crv: 'Ed25519', x: '11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo' };

test('attack: set-jwks on a tls_client_auth app → 400 request.invalid; it stays certificate-bound', async () => {
  const created = await t.api('/v1/apps', { body: { name: 'mtls', audiences: ['api'], scopes: ['read'], token_endpoint_auth_method: 'tls_client_auth' } });
  assert.equal(created.status, 201, JSON.stringify(created.body));
  const id = created.body.client_id as string;
  const r = await t.api(`/v1/apps/${id}/jwks`, { method: 'PUT', body: { keys: [KEY] } });
  assert.equal(r.status, 400);
  assert.equal(r.body.code, 'request.invalid');
  assert.match(r.body.detail, /token_endpoint_auth_method/);
  assert.match(r.body.detail, /tls_client_auth/);
  assert.match(r.body.detail, /new app/);
  const shown = await t.api(`/v1/apps/${id}`);
  assert.equal(shown.body.app.token_endpoint_auth_method, 'tls_client_auth');
  assert.equal(shown.body.app.jwks_keys, 0);
});

test('attack: set-jwks on a public app → 400 request.invalid; it stays public without keys', async () => {
  const created = await t.api('/v1/apps', { body: { name: 'spa', audiences: ['api'], scopes: ['read'], type: 'public', redirect_uris: ['https://spa.example/cb'] } });
  assert.equal(created.status, 201, JSON.stringify(created.body));
  const id = created.body.client_id as string;
  const before = (await t.api(`/v1/apps/${id}`)).body.app;
  const r = await t.api(`/v1/apps/${id}/jwks`, { method: 'PUT', body: { keys: [KEY] } });
  assert.equal(r.status, 400);
  assert.equal(r.body.code, 'request.invalid');
  assert.match(r.body.detail, /token_endpoint_auth_method/);
  assert.match(r.body.detail, /public/);
  assert.match(r.body.detail, /new app/);
  const after = (await t.api(`/v1/apps/${id}`)).body.app;
  assert.equal(after.token_endpoint_auth_method, before.token_endpoint_auth_method);
  assert.equal(after.jwks_keys, 0);
});

test('set-jwks on a client_secret_basic app still switches it to private_key_jwt', async () => {
  const created = await t.api('/v1/apps', { body: { name: 'secret-app', audiences: ['api'], scopes: ['read'] } });
  const id = created.body.client_id as string;
  const r = await t.api(`/v1/apps/${id}/jwks`, { method: 'PUT', body: { keys: [KEY] } });
  assert.equal(r.status, 200, JSON.stringify(r.body));
  assert.equal(r.body.app.token_endpoint_auth_method, 'private_key_jwt');
  assert.equal(r.body.app.jwks_keys, 1);
});
