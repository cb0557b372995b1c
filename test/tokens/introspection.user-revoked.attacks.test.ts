/**
 * A user's access token (sub = user id) issued before the user's "revoked before"
 * watermark (user disabled, sessions ended, factors reset) is refused by every gateway;
 * introspection (RFC 7662 §2.2) must then answer `{active:false}` too, not describe it.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { SignJWT } from 'jose';
import { startTestNode, basic, postForm, type TestNode } from '../support/portcullis.js';

let node: TestNode;
let app: { id: string; secret: string };
before(async () => {
  node = await startTestNode();
  const r = await node.services.apps.create({ name: 'signin-app', audiences: ['orders-api'], scopes: ['read'] }, 'test');
  app = { id: r.app.clientId, secret: r.clientSecret! };
});
after(() => node.stop());

/** An access token of ours for a user, as the sign-in flow issues them (RFC 9068, sub = the user). */
async function userToken(userId: string, iat: number): Promise<string> {
  const key = node.services.keys.signingKey();
  return new SignJWT({ client_id: app.id, scope: 'read' })
    .setProtectedHeader({ alg: key.alg, kid: key.kid, typ: 'at+jwt' })
    .setIssuer(node.services.config.issuer)
    .setSubject(userId)
    .setAudience('orders-api')
    .setJti(`jti-${userId}`)
    .setIssuedAt(iat)
    .setExpirationTime(iat + 600)
    .sign(key.privateKey);
}

test('attack: a user token issued before the user was revoked is active:false at introspection, as the gateway refuses it', async () => {
  const now = node.services.clock.now();
  const iat = Math.floor(now / 1000) - 5;
  const t = await userToken('usr_revoked', iat);
  const introspect = () => postForm(`${node.urls.identity}/oauth2/introspect`, { token: t }, { authorization: basic(app.id, app.secret) });
  assert.equal((await introspect()).body.active, true, 'active before the user is revoked');

  node.services.revocations.apply({ type: 'user.tokens-revoked', userId: 'usr_revoked', before: now });
  assert.equal(node.services.revocations.check(`jti-usr_revoked`, app.id, iat * 1000, 'usr_revoked'), 'token.revoked', 'the gateway refuses it');
  assert.deepEqual((await introspect()).body, { active: false });

  const admin = await fetch(`${node.urls.admin}/v1/tokens/introspect`, { method: 'POST', headers: { authorization: `Bearer ${node.adminToken}`, 'content-type': 'application/json' }, body: JSON.stringify({ token: t }) });
  assert.deepEqual(await admin.json(), { active: false });
});

test('another user\'s token is still active after one user is revoked', async () => {
  const now = node.services.clock.now();
  const t = await userToken('usr_other', Math.floor(now / 1000) - 5);
  node.services.revocations.apply({ type: 'user.tokens-revoked', userId: 'usr_someone_else', before: now });
  const r = await postForm(`${node.urls.identity}/oauth2/introspect`, { token: t }, { authorization: basic(app.id, app.secret) });
  assert.equal(r.body.active, true);
  assert.equal(r.body.sub, 'usr_other');
});
