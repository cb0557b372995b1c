/**
 * A public app (no secret, PKCE only) has no client authentication: its method is `none`
 * (RFC 7591 §2). Registering one with another `token_endpoint_auth_method` (`tls_client_auth`,
 * `client_secret_basic`, `client_secret_post`) used to be accepted and the method then ignored
 * (the app treated as having no client authentication): the registration said one thing and
 * the token endpoint did another. It is refused, naming the field, and nothing is stored;
 * `none` is refused for a confidential app, which must authenticate.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { startTestNode, type TestNode } from './node.js';

let t: TestNode;
before(async () => {
  // so that tls_client_auth is not refused for want of a trust domain
  t = await startTestNode({ config: 'pki: { trustDomain: example.org }\n' });
});
after(() => t.close());

const SPA = { audiences: ['api'], scopes: ['read'], type: 'public', redirect_uris: ['https://spa.example/cb'] };

async function appCount(): Promise<number> {
  return ((await t.api('/v1/apps')).body.apps as unknown[]).length;
}

test('attack: POST /v1/apps with type public and a client authentication method → 400 request.invalid naming token_endpoint_auth_method; no app registered', async () => {
  const before = await appCount();
  for (const method of ['tls_client_auth', 'client_secret_basic', 'client_secret_post']) {
    const r = await t.api('/v1/apps', { body: { name: 'spa', ...SPA, token_endpoint_auth_method: method } });
    assert.equal(r.status, 400, `${method}: ${JSON.stringify(r.body)}`);
    assert.equal(r.body.code, 'request.invalid');
    assert.equal(
      r.body.detail,
      `token_endpoint_auth_method: a public app (no client authentication, PKCE only) uses none; ${method} is client authentication, for a confidential app (register it without type public)`,
    );
  }
  assert.equal(await appCount(), before);
});

test('a public app registers with token_endpoint_auth_method none, or none given, and shows none', async () => {
  for (const body of [{ name: 'spa-none', ...SPA, token_endpoint_auth_method: 'none' }, { name: 'spa-default', ...SPA }]) {
    const r = await t.api('/v1/apps', { body });
    assert.equal(r.status, 201, JSON.stringify(r.body));
    assert.equal(r.body.client_secret, null);
    assert.equal(r.body.app.type, 'public');
    assert.equal(r.body.app.token_endpoint_auth_method, 'none');
    assert.equal((await t.api(`/v1/apps/${r.body.client_id}`)).body.app.token_endpoint_auth_method, 'none');
  }
});

test('attack: POST /v1/apps with token_endpoint_auth_method none for a confidential app → 400 request.invalid naming token_endpoint_auth_method; no app registered', async () => {
  const before = await appCount();
  for (const extra of [{}, { type: 'confidential' }, { redirect_uris: ['https://web.example/cb'] }]) {
    const r = await t.api('/v1/apps', { body: { name: 'svc', audiences: ['api'], token_endpoint_auth_method: 'none', ...extra } });
    assert.equal(r.status, 400, JSON.stringify(r.body));
    assert.equal(r.body.code, 'request.invalid');
    assert.equal(r.body.detail, 'token_endpoint_auth_method: none (no client authentication) is for a public app (type public, PKCE only); a confidential app authenticates');
  }
  assert.equal(await appCount(), before);
});
