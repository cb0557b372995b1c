/**
 * RFC 6749 §5.2: "unauthorized_client: The authenticated client is not authorized to use this
 * authorization grant type." An app registered for client credentials alone that sends
 * `grant_type=refresh_token` or `authorization_code` with its right secret is refused so, as
 * a sign-in app sending `client_credentials` is: 400 `unauthorized_client`, audited as
 * `token.denied` with that reason and the app as actor. Those grants went to oidc-provider,
 * for which the app is no client: 401 `invalid_client` ("client authentication failed") with
 * a right secret, recorded as an anonymous failed client authentication, a guess.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { startOidcNode } from '../support/oidc-node.js';
import { basic, postForm, type TestNode } from '../support/portcullis.js';

let node: TestNode;
let id: string;
let secret: string;

before(async () => {
  node = await startOidcNode();
  const created = await node.services.apps.create({ name: 'batch-job', audiences: ['https://api.example.test'], scopes: ['read'] }, 'test');
  id = created.app.clientId;
  secret = created.clientSecret!;
});
after(() => node.stop());

async function deniedRows() {
  await node.services.audit.flush();
  return (await node.services.store.tailAudit(500)).filter((r) => r.type === 'token.denied');
}

for (const [grant, extra] of [
  ['refresh_token', { refresh_token: 'x'.repeat(43) }],
  ['authorization_code', { code: 'x'.repeat(43), code_verifier: 'v'.repeat(43), redirect_uri: 'http://127.0.0.1:9/cb' }],
] as const) {
  test(`attack: a client-credentials app asking for the ${grant} grant with its right secret → 400 unauthorized_client, audited as the app's, not as a failed client authentication`, async () => {
    const before = (await deniedRows()).length;
    const viaBasic = await postForm(`${node.urls.identity}/oauth2/token`, { grant_type: grant, ...extra }, { authorization: basic(id, secret) });
    assert.equal(viaBasic.status, 400, JSON.stringify(viaBasic.body));
    assert.equal(viaBasic.body.error, 'unauthorized_client');
    const viaPost = await postForm(`${node.urls.identity}/oauth2/token`, { grant_type: grant, ...extra, client_id: id, client_secret: secret });
    assert.equal(viaPost.status, 400, JSON.stringify(viaPost.body));
    assert.equal(viaPost.body.error, 'unauthorized_client');
    const rows = (await deniedRows()).slice(before);
    assert.equal(rows.length, 2, JSON.stringify(rows));
    for (const r of rows) {
      assert.equal(r.reason, 'oauth.unauthorized-client');
      assert.equal(r.actor, `client:${id}`);
      assert.equal(r.clientId, id);
    }
  });
}

test(`a wrong secret for the refresh_token grant is still 401 invalid_client, audited as a failed client authentication`, async () => {
  const before = (await deniedRows()).length;
  const r = await postForm(`${node.urls.identity}/oauth2/token`, { grant_type: 'refresh_token', refresh_token: 'x'.repeat(43) }, { authorization: basic(id, 'wrong') });
  assert.equal(r.status, 401, JSON.stringify(r.body));
  assert.equal(r.body.error, 'invalid_client');
  const rows = (await deniedRows()).slice(before);
  assert.equal(rows.length, 1);
  assert.equal(rows[0]!.reason, 'oauth.invalid-client');
});
