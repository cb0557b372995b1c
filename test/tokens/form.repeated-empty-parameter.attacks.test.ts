/**
 * RFC 6749 §3.2: "Request and response parameters MUST NOT be included more than once." A
 * parameter repeated with an empty value first (`scope=&scope=write`) is repeated all the
 * same, and refused as every repeat is (400 invalid_request), at the token, revocation and
 * introspection endpoints. The form reader skipped an empty value before it noted the name,
 * so the second value went through as the only one, where oidc-provider, serving the same
 * endpoints for sign-in apps, refuses it.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { basic, startTestNode, type TestNode } from '../support/portcullis.js';

let node: TestNode;
let auth: string;

before(async () => {
  node = await startTestNode();
  const { app, clientSecret } = await node.services.apps.create({ name: 'batch-job', audiences: ['orders-api', 'payroll-api'], scopes: ['read', 'write'] }, 'test');
  auth = basic(app.clientId, clientSecret!);
});
after(() => node.stop());

async function raw(path: string, body: string) {
  const r = await fetch(`${node.urls.identity}${path}`, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded', authorization: auth }, body });
  return { status: r.status, body: (await r.json()) as { error?: string; error_description?: string; access_token?: string } };
}

for (const [path, body] of [
  ['/oauth2/token', 'grant_type=client_credentials&scope=&scope=write'],
  ['/oauth2/token', 'grant_type=&grant_type=client_credentials'],
  ['/oauth2/revoke', 'token=&token=abc'],
  ['/oauth2/introspect', 'token=&token=abc'],
] as const) {
  test(`attack: ${path} with a parameter repeated after an empty value (${body}) → 400 invalid_request`, async () => {
    const r = await raw(path, body);
    assert.equal(r.status, 400, JSON.stringify(r.body));
    assert.equal(r.body.error, 'invalid_request');
    assert.match(r.body.error_description ?? '', /included more than once/);
  });
}

test('attack: /oauth2/token with resource repeated after an empty value → 400 invalid_target (one resource per token)', async () => {
  const r = await raw('/oauth2/token', 'grant_type=client_credentials&resource=&resource=payroll-api');
  assert.equal(r.status, 400, JSON.stringify(r.body));
  assert.equal(r.body.error, 'invalid_target');
  assert.match(r.body.error_description ?? '', /included more than once/);
});

test('a parameter sent once without a value is still taken as omitted (RFC 6749 §3.1)', async () => {
  const r = await raw('/oauth2/token', 'grant_type=client_credentials&scope=');
  assert.equal(r.status, 200, JSON.stringify(r.body));
  assert.ok(r.body.access_token);
});
