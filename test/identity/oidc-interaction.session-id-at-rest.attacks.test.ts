/**
 * The session id is the session cookie's value, a bearer secret: the adapter keeps Session
 * rows under its SHA-256 and without it in the payload (adapter.ts). oidc-provider copies it
 * into every Interaction begun by a signed-in browser (`session.cookie`), and Interactions
 * live in the ephemeral store, which is Redis on a cluster (written to disk by RDB or AOF):
 * what is stored there must not carry the id in clear. Nothing reads it back (oidc-provider
 * finds the session from the cookie), so the sign-in still finishes without it.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { REDIRECT, authorizationRequest, post, registerOidcApp, signIn, startOidcNode, type OidcApp } from '../support/oidc-node.js';
import type { TestNode } from '../support/portcullis.js';

const AUDIENCE = 'https://orders.example.test';
const EMAIL = 'ann@example.test';
const PASSWORD = 'Correct-Horse-Battery-9';
let node: TestNode;
let app: OidcApp;

before(async () => {
  node = await startOidcNode();
  app = await registerOidcApp(node, AUDIENCE);
  await node.services.identity.users.add({ email: EMAIL, password: PASSWORD }, 'test');
});
after(() => node.stop());

test('attack: an Interaction begun by a signed-in browser keeps no session id in the ephemeral store (a Redis dump yields no session cookie value)', async () => {
  const { browser } = await signIn(node, app, AUDIENCE, EMAIL, PASSWORD);
  const sessionId = browser.cookie('_session');
  assert.ok(sessionId && sessionId.length >= 32, 'the browser holds a session');
  const issuer = node.urls.identity!;
  const { url } = await authorizationRequest(app.config, { resource: AUDIENCE });
  let r = await browser.follow(url, issuer);
  assert.match(r.body, /Sign in/, `expected the sign-in page, got ${r.status} ${r.body.slice(0, 200)}`);
  const uid = /\/interaction\/([^/?"]+)/.exec(r.url)?.[1];
  assert.ok(uid, `an interaction url: ${r.url}`);
  const stored = await node.services.ephemeral.get(`oidc:Interaction:${uid}`);
  assert.ok(stored, 'the interaction is in the ephemeral store');
  const payload = JSON.parse(stored) as { session?: { accountId?: string; cookie?: string } };
  assert.ok(payload.session?.accountId, 'control: the interaction names the signed-in session');
  assert.equal(stored.includes(sessionId), false, 'the session id (the session cookie value) is stored in clear with the interaction');
  assert.equal(payload.session?.cookie, undefined);

  // the sign-in still finishes, in the same session
  r = await post(browser, issuer, r.body, 'login', { email: EMAIL, password: PASSWORD });
  if (r.location?.startsWith(issuer)) r = await browser.follow(r.location, issuer);
  if (r.body.includes('Allow access?')) {
    r = await post(browser, issuer, r.body, 'consent', {});
    if (r.location?.startsWith(issuer)) r = await browser.follow(r.location, issuer);
  }
  assert.ok(r.location?.startsWith(REDIRECT), `back at the app: ${r.status} ${r.location} ${r.body.slice(0, 200)}`);
  assert.ok(new URL(r.location!).searchParams.get('code'), 'with a code');
});
