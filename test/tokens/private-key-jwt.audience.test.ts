/**
 * private_key_jwt at the revocation and introspection endpoints: an assertion whose `aud`
 * is the token endpoint URL — what OIDC Core §9 says it SHOULD be, and RFC 7523 §3 allows —
 * authenticates there too, as it does for oidc-provider's clients; another audience does not,
 * and the assertion stays single-use across endpoints.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { SignJWT, exportJWK, generateKeyPair, type CryptoKey } from 'jose';
import { startTestNode, postForm, type TestNode } from '../support/portcullis.js';

let node: TestNode;
let clientId: string;
let privateKey: CryptoKey;
const ISSUER = 'http://127.0.0.1:8080';

before(async () => {
  node = await startTestNode();
  const kp = await generateKeyPair('ES256');
  privateKey = kp.privateKey;
  const jwk = { ...(await exportJWK(kp.publicKey)), kid: 'k1', alg: 'ES256' };
  clientId = (await node.services.apps.create({ name: 'pkjwt-rs', audiences: ['orders-api'], scopes: ['read'], jwks: [jwk] }, 'test')).app.clientId;
});
after(() => node.stop());

const assertion = (aud: string) =>
  new SignJWT({}).setProtectedHeader({ alg: 'ES256', kid: 'k1' }).setIssuer(clientId).setSubject(clientId).setAudience(aud).setJti(crypto.randomUUID()).setIssuedAt().setExpirationTime('2m').sign(privateKey);
const call = (path: string, a: string) =>
  postForm(`${node.urls.identity}${path}`, { token: 'not-a-token', client_assertion_type: 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer', client_assertion: a });

for (const path of ['/oauth2/introspect', '/oauth2/revoke']) {
  test(`private_key_jwt with aud = the token endpoint URL authenticates at ${path}`, async () => {
    const r = await call(path, await assertion(`${ISSUER}/oauth2/token`));
    assert.equal(r.status, 200, JSON.stringify(r.body));
  });
}

test('attack: an assertion for another audience is refused (401 invalid_client); one already used at the token endpoint URL is a replay', async () => {
  const other = await call('/oauth2/introspect', await assertion('https://elsewhere.example/oauth2/token'));
  assert.equal(other.status, 401);
  assert.equal(other.body.error, 'invalid_client');
  const a = await assertion(`${ISSUER}/oauth2/token`);
  assert.equal((await call('/oauth2/introspect', a)).status, 200);
  const replay = await call('/oauth2/revoke', a);
  assert.equal(replay.status, 401);
  assert.match(replay.body.error_description, /replay/);
});
