/**
 * A failed client authentication is audited at every endpoint that authenticates clients:
 * a secret guessed at the revocation (RFC 7009) or introspection (RFC 7662) endpoint is
 * as visible in the trail as one guessed at the token endpoint.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startTestNode, basic, postForm, type TestNode } from '../support/portcullis.js';

let node: TestNode;
let appId: string;
before(async () => {
  node = await startTestNode();
  appId = (await node.services.apps.create({ name: 'guessed', audiences: ['orders-api'], scopes: ['read'] }, 'test')).app.clientId;
});
after(() => node.stop());

async function deniedRows(type: string) {
  await node.services.audit.flush();
  return (await node.services.store.tailAudit(500)).filter((r) => r.type === type && r.reason === 'oauth.invalid-client');
}

for (const [path, type] of [
  ['/oauth2/token', 'token.denied'],
  ['/oauth2/revoke', 'token.revoke-refused'],
  ['/oauth2/introspect', 'token.introspect-refused'],
] as const) {
  test(`attack: a wrong client secret at ${path} → 401 invalid_client, audited as ${type}`, async () => {
    const before = (await deniedRows(type)).length;
    const form = { grant_type: 'client_credentials', token: 'x', client_id: appId, client_secret: 'guess' };
    const r = await postForm(`${node.urls.identity}${path}`, form);
    assert.equal(r.status, 401);
    assert.equal(r.body.error, 'invalid_client');
    const rows = await deniedRows(type);
    assert.equal(rows.length, before + 1, `no ${type} audit event for the failed client authentication`);
    assert.equal(rows.at(-1)!.clientId, appId);
    assert.equal(rows.at(-1)!.data?.['endpoint'], path);
    assert.ok(!JSON.stringify(rows.at(-1)).includes('guess'), 'the presented secret is not audited');
  });
}

test('attack: a wrong Basic secret at /oauth2/introspect is audited too', async () => {
  const before = (await deniedRows('token.introspect-refused')).length;
  const r = await postForm(`${node.urls.identity}/oauth2/introspect`, { token: 'x' }, { authorization: basic(appId, 'guess') });
  assert.equal(r.status, 401);
  const rows = await deniedRows('token.introspect-refused');
  assert.equal(rows.length, before + 1);
  assert.equal(rows.at(-1)!.clientId, appId, 'the client id of the Basic credentials is audited');
  assert.ok(!JSON.stringify(rows.at(-1)).includes('guess'), 'the presented secret is not audited');
});

for (const [path, type] of [
  ['/oauth2/token', 'token.denied'],
  ['/oauth2/revoke', 'token.revoke-refused'],
  ['/oauth2/introspect', 'token.introspect-refused'],
] as const) {
  test(`attack: a 60 KB client_id at ${path} → 401 invalid_client, audited without storing the id verbatim`, async () => {
    const before = (await deniedRows(type)).length;
    const named = `app_${'A'.repeat(60_000)}`;
    const r = await postForm(`${node.urls.identity}${path}`, { grant_type: 'client_credentials', token: 'x', client_id: named, client_secret: 'guess' });
    assert.equal(r.status, 401);
    assert.equal(r.body.error, 'invalid_client');
    const rows = await deniedRows(type);
    assert.equal(rows.length, before + 1);
    const row = rows.at(-1)!;
    assert.equal(row.clientId, null, 'an id longer than any client id names no app');
    assert.deepEqual(row.data, { endpoint: path, clientIdLength: 60_004, clientIdStart: named.slice(0, 64) });
  });
}
