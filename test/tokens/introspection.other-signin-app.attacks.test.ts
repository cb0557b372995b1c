/**
 * RFC 7662 §4: the authorization server must decide whether the caller may introspect a
 * token. A sign-in app's refresh token (and opaque access token) is only ever presented by
 * that app: another app — even a confidential one that authenticates — gets
 * `{active:false}`, never the user id, scope or session of someone else's grant.
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

  const byOwner = await client.tokenIntrospection(appA.config, rt);
  assert.equal(byOwner.active, true);
  assert.equal(byOwner.client_id, appA.clientId);
});
