/**
 * RFC 7009 §2.1: the server "verifies whether the token was issued to the client making the
 * revocation request. If this validation fails, the request is refused". A sign-in app
 * revoking another app's refresh token is refused as Portcullis refuses it for a JWT access
 * token (revocation-introspection.test.ts): 400 `unauthorized_client`, audited as
 * `token.revoke-refused` with reason `oauth.unauthorized-client` and the caller as actor, and
 * the token keeps working. It used to be oidc-provider's default answer, `invalid_request`,
 * with nothing in the audit trail.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { signIn, startTwoAppNode, type OidcApp } from '../support/oidc-node.js';
import { basic, postForm, type TestNode } from '../support/portcullis.js';

const AUD = 'https://api.example.test';
const PASSWORD = 'plum tractor velvet orbit';
let node: TestNode;
let appA: OidcApp;
let b: { id: string; secret: string };

before(async () => {
  ({ node, appA, b } = await startTwoAppNode(AUD, { email: 'victim@example.test', password: PASSWORD }));
});
after(() => node.stop());

async function refusedRows() {
  await node.services.audit.flush();
  return (await node.services.store.tailAudit(500)).filter((r) => r.type === 'token.revoke-refused' && r.reason === 'oauth.unauthorized-client');
}

test("attack: another sign-in app revoking an app's refresh token → 400 unauthorized_client, audited, and the token still refreshes", async () => {
  const { tokens } = await signIn(node, appA, AUD, 'victim@example.test', PASSWORD);
  const rt = tokens.refresh_token!;
  const before = (await refusedRows()).length;
  const r = await postForm(`${node.urls.identity}/oauth2/revoke`, { token: rt, token_type_hint: 'refresh_token' }, { authorization: basic(b.id, b.secret) });
  assert.equal(r.status, 400, JSON.stringify(r.body));
  assert.equal(r.body.error, 'unauthorized_client');
  const rows = await refusedRows();
  assert.equal(rows.length, before + 1, 'the refused revocation is audited');
  assert.equal(rows.at(-1)!.clientId, b.id);
  assert.equal(rows.at(-1)!.actor, `client:${b.id}`);
  assert.doesNotMatch(JSON.stringify(rows.at(-1)), new RegExp(rt.slice(0, 16)), 'the token is not in the audit event');
  const refreshed = await postForm(`${node.urls.identity}/oauth2/token`, { grant_type: 'refresh_token', refresh_token: rt }, { authorization: basic(appA.clientId, (appA.config.clientMetadata().client_secret as string)) });
  assert.equal(refreshed.status, 200, JSON.stringify(refreshed.body));
});

test("the owner revokes its own refresh token: 200, and it no longer refreshes", async () => {
  const { tokens } = await signIn(node, appA, AUD, 'victim@example.test', PASSWORD);
  const secret = appA.config.clientMetadata().client_secret as string;
  const r = await postForm(`${node.urls.identity}/oauth2/revoke`, { token: tokens.refresh_token! }, { authorization: basic(appA.clientId, secret) });
  assert.equal(r.status, 200, JSON.stringify(r.body));
  const refreshed = await postForm(`${node.urls.identity}/oauth2/token`, { grant_type: 'refresh_token', refresh_token: tokens.refresh_token! }, { authorization: basic(appA.clientId, secret) });
  assert.equal(refreshed.body.error, 'invalid_grant');
});
