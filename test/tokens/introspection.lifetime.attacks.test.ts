/**
 * Introspection agrees with the gateway on `tokens.maxTokenLifetime`: a token of ours that
 * lives longer (signed when the bound was higher, or with a leaked key) is refused by the
 * gateway as `token.lifetime-too-long`, so RFC 7662 must not describe it as active.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { SignJWT } from 'jose';
import { basic, postForm, startTestNode, testConfig, type TestNode } from '../support/portcullis.js';

let node: TestNode;
let app: { id: string; secret: string };
before(async () => {
  node = await startTestNode({ config: testConfig('tokens: { maxTokenLifetime: 1h }') });
  const r = await node.services.apps.create({ name: 'lifetime-app', audiences: ['orders-api'], scopes: ['read'] }, 'test');
  app = { id: r.app.clientId, secret: r.clientSecret! };
});
after(() => node.stop());

async function ownToken(lifetimeS: number, jti: string): Promise<string> {
  const key = node.services.keys.signingKey();
  const iat = Math.floor(node.services.clock.now() / 1000) - 5;
  return new SignJWT({ client_id: app.id, scope: 'read' })
    .setProtectedHeader({ alg: key.alg, kid: key.kid, typ: 'at+jwt' })
    .setIssuer(node.services.config.issuer)
    .setSubject(app.id)
    .setAudience('orders-api')
    .setJti(jti)
    .setIssuedAt(iat)
    .setExpirationTime(iat + lifetimeS)
    .sign(key.privateKey);
}
const introspect = (t: string) => postForm(`${node.urls.identity}/oauth2/introspect`, { token: t }, { authorization: basic(app.id, app.secret) });

test('a token of ours living longer than tokens.maxTokenLifetime is active:false; one within it is active', async () => {
  assert.equal((await introspect(await ownToken(3600, 'life-ok'))).body.active, true);
  assert.deepEqual((await introspect(await ownToken(3601, 'life-long'))).body, { active: false });
  assert.deepEqual((await introspect(await ownToken(100 * 365 * 86_400, 'life-century'))).body, { active: false });
});
