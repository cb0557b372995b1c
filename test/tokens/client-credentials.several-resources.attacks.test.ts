/**
 * RFC 8707 §2: `resource` "MAY be repeated" to ask for a token for several resources. The
 * client-credentials grant issues a token for one resource, so that every resource sees only
 * a token meant for it (scopes are the app's, not a resource's: a token for two would carry
 * each one's scopes to the other), and refuses a repeat with `invalid_target` saying so. It
 * was refused as a duplicate parameter (`invalid_request`, "included more than once"), which
 * misstated the problem. `resource` and `audience` naming two resources are refused the same
 * way; they used to give a token for both.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { decodeJwt } from 'jose';
import { basic, startTestNode, type TestNode } from '../support/portcullis.js';

let node: TestNode;
let auth: string;
let clientId: string;

before(async () => {
  node = await startTestNode();
  const { app, clientSecret } = await node.services.apps.create({ name: 'batch-job', audiences: ['orders-api', 'payroll-api'], scopes: ['read'] }, 'test');
  clientId = app.clientId;
  auth = basic(app.clientId, clientSecret!);
});
after(() => node.stop());

async function token(body: string) {
  const r = await fetch(`${node.urls.identity}/oauth2/token`, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded', authorization: auth }, body });
  return { status: r.status, body: (await r.json()) as { error?: string; error_description?: string; access_token?: string } };
}
async function deniedRows() {
  await node.services.audit.flush();
  return (await node.services.store.tailAudit(500)).filter((r) => r.type === 'token.denied' && r.clientId === clientId);
}

for (const body of [
  'grant_type=client_credentials&resource=orders-api&resource=payroll-api',
  'grant_type=client_credentials&resource=orders-api&resource=orders-api',
  'grant_type=client_credentials&audience=orders-api&audience=payroll-api',
  'grant_type=client_credentials&resource=orders-api&audience=payroll-api',
]) {
  test(`attack: several resources in one request (${body.slice(30)}) → 400 invalid_target, one resource per token`, async () => {
    const r = await token(body);
    assert.equal(r.status, 400, JSON.stringify(r.body));
    assert.equal(r.body.error, 'invalid_target');
    assert.match(r.body.error_description ?? '', /one resource per token/);
    assert.equal(r.body.access_token, undefined);
  });
}

test('resource and audience naming two registered resources are refused after client authentication, audited as token.denied', async () => {
  const before = (await deniedRows()).length;
  const r = await token('grant_type=client_credentials&resource=orders-api&audience=payroll-api');
  assert.equal(r.status, 400, JSON.stringify(r.body));
  assert.equal(r.body.error, 'invalid_target');
  const rows = await deniedRows();
  assert.equal(rows.length, before + 1);
  assert.equal(rows.at(-1)!.reason, 'oauth.invalid-target');
});

test('one resource, or resource and audience naming the same one, gives a token for that resource alone', async () => {
  for (const body of ['grant_type=client_credentials&resource=payroll-api', 'grant_type=client_credentials&resource=payroll-api&audience=payroll-api']) {
    const r = await token(body);
    assert.equal(r.status, 200, JSON.stringify(r.body));
    assert.equal(decodeJwt(r.body.access_token!).aud, 'payroll-api');
  }
});

test('another repeated parameter is still invalid_request (RFC 6749 §3.1)', async () => {
  const r = await token('grant_type=client_credentials&scope=read&scope=read');
  assert.equal(r.status, 400, JSON.stringify(r.body));
  assert.equal(r.body.error, 'invalid_request');
  assert.match(r.body.error_description ?? '', /included more than once/);
});
