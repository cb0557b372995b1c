/**
 * RFC 7662 §4: the authorization server must decide whether the caller may introspect a
 * token. A sign-in app's refresh token (and opaque access token) is only ever presented by
 * that app: another app — even a confidential one that authenticates — gets
 * `{active:false}`, never the user id, scope or session of someone else's grant. The same
 * holds for the user's JWT access token: only its app and the resource servers that serve
 * its audience (`servedAudiences`) see it, not another client of that audience.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import * as client from 'openid-client';
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

test('attack: another sign-in app introspecting an app\'s refresh token gets active:false; the owner sees it active', async () => {
  const { tokens } = await signIn(node, appA, AUD, 'victim@example.test', PASSWORD);
  const rt = tokens.refresh_token!;
  assert.ok(rt);
  const byOther = await postForm(`${node.urls.identity}/oauth2/introspect`, { token: rt }, { authorization: basic(b.id, b.secret) });
  assert.equal(byOther.status, 200);
  assert.deepEqual(byOther.body, { active: false });
  await node.services.audit.flush();
  const refused = (await node.services.store.tailAudit(500)).filter((r) => r.type === 'token.introspect-refused' && r.reason === 'oauth.unauthorized-client');
  assert.equal(refused.at(-1)?.actor, `client:${b.id}`, 'the refusal is audited');
  assert.deepEqual(refused.at(-1)?.data, { endpoint: '/oauth2/introspect', tokenClientId: appA.clientId, tokenKind: 'RefreshToken' });
  assert.ok(!JSON.stringify(refused.at(-1)).includes(rt), 'the token is not in the audit event');

  const byOwner = await client.tokenIntrospection(appA.config, rt);
  assert.equal(byOwner.active, true);
  assert.equal(byOwner.client_id, appA.clientId);
});

test("attack: another sign-in app of the same API introspecting a user's JWT access token gets active:false (being a client of the API is no right to read its tokens); a resource server that serves the API sees it", async () => {
  const { tokens } = await signIn(node, appA, AUD, 'victim@example.test', PASSWORD);
  const at = tokens.access_token;
  assert.equal(at.split('.').length, 3, 'a JWT access token (resource-bound)');
  const byOther = await postForm(`${node.urls.identity}/oauth2/introspect`, { token: at }, { authorization: basic(b.id, b.secret) });
  assert.equal(byOther.status, 200);
  assert.deepEqual(byOther.body, { active: false });

  const rs = await node.services.apps.create({ name: 'api-service', audiences: ['audit-api'], scopes: [], servedAudiences: [AUD] }, 'test');
  const byRs = await postForm(`${node.urls.identity}/oauth2/introspect`, { token: at }, { authorization: basic(rs.app.clientId, rs.clientSecret!) });
  assert.equal(byRs.body.active, true);
  assert.equal(byRs.body.client_id, appA.clientId);
});
