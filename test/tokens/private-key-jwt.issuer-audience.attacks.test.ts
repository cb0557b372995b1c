/**
 * The audience injection attack on private_key_jwt (draft-ietf-oauth-rfc7523bis §1; Hosseyni,
 * Küsters, Würtele 2025): a client that signs assertions for whatever endpoint URL another
 * (malicious) authorization server advertises can be made to sign one whose `aud` is an
 * endpoint of this server, which the attacker then presents here as the client. The fix is an
 * `aud` of this server's issuer identifier alone. A client that follows it marks its assertion
 * `typ: client-authentication+jwt`, and for such an assertion TokenService enforces it (an
 * endpoint URL, or the issuer beside another value, is 401 invalid_client, audited
 * `oauth.invalid-client`); `tokens.clientAssertions.issuerAudienceOnly` enforces it for every
 * assertion. Unmarked assertions keep OIDC Core §9's audiences by default.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startTestNode, testConfig, postForm, type TestNode } from '../support/portcullis.js';
import { JWT_BEARER_ASSERTION } from '../../src/tokens/client-auth.js';
import { clientAssertion, clientKey, pastReplayStoreStart, type ClientKey } from '../identity/client-assertion-fixture.js';

const ISSUER = 'http://127.0.0.1:8080';
const TOKEN_ENDPOINT = `${ISSUER}/oauth2/token`;
let lenient: TestNode;
let strict: TestNode;
let key: ClientKey;
const clientIds = new Map<TestNode, string>();

async function register(node: TestNode): Promise<void> {
  clientIds.set(node, (await node.services.apps.create({ name: 'pkjwt-cc', audiences: ['orders-api'], scopes: ['read'], jwks: [key.jwk] }, 'test')).app.clientId);
}

before(async () => {
  key = await clientKey();
  lenient = await startTestNode();
  strict = await startTestNode({ config: testConfig('tokens: { clientAssertions: { issuerAudienceOnly: true } }') });
  await register(lenient);
  await register(strict);
  await pastReplayStoreStart();
});
after(async () => {
  await lenient?.stop();
  await strict?.stop();
});

async function token(node: TestNode, aud: string | string[], typ?: string) {
  const clientId = clientIds.get(node)!;
  return postForm(`${node.urls.identity}/oauth2/token`, { grant_type: 'client_credentials', scope: 'read', resource: 'orders-api', client_assertion_type: JWT_BEARER_ASSERTION, client_assertion: await clientAssertion(key.privateKey, clientId, aud, typ) });
}

async function deniedRows(node: TestNode) {
  await node.services.audit.flush();
  return (await node.services.store.tailAudit(500)).filter((r) => r.type === 'token.denied' && r.reason === 'oauth.invalid-client');
}

async function assertRefused(node: TestNode, aud: string | string[], typ?: string) {
  const before = (await deniedRows(node)).length;
  const r = await token(node, aud, typ);
  assert.equal(r.status, 401, JSON.stringify(r.body));
  assert.equal(r.body.error, 'invalid_client');
  assert.match(r.body.error_description, /issuer identifier/);
  assert.equal((await deniedRows(node)).length, before + 1, 'the refusal is audited as token.denied, oauth.invalid-client');
}

for (const typ of ['client-authentication+jwt', 'application/Client-Authentication+JWT']) {
  test(`attack: an assertion typed ${typ} with aud = the token endpoint URL is refused (401 invalid_client)`, async () => {
    await assertRefused(lenient, TOKEN_ENDPOINT, typ);
  });
}

test('attack: an assertion typed client-authentication+jwt with aud = [issuer, token endpoint] is refused (the issuer is not its sole audience)', async () => {
  await assertRefused(lenient, [ISSUER, TOKEN_ENDPOINT], 'client-authentication+jwt');
});

test('an assertion typed client-authentication+jwt with aud = the issuer authenticates', async () => {
  const r = await token(lenient, ISSUER, 'client-authentication+jwt');
  assert.equal(r.status, 200, JSON.stringify(r.body));
  assert.equal(r.body.token_type, 'Bearer');
});

test('an assertion typed client-authentication+jwt with aud = [issuer] (a single-member array, allowed since draft -03) authenticates', async () => {
  const r = await token(lenient, [ISSUER], 'client-authentication+jwt');
  assert.equal(r.status, 200, JSON.stringify(r.body));
});

test('an unmarked assertion with aud = the token endpoint URL authenticates by default (OIDC Core §9 clients)', async () => {
  const r = await token(lenient, TOKEN_ENDPOINT);
  assert.equal(r.status, 200, JSON.stringify(r.body));
});

test('attack: with tokens.clientAssertions.issuerAudienceOnly, an unmarked assertion with aud = the token endpoint URL is refused (401 invalid_client)', async () => {
  await assertRefused(strict, TOKEN_ENDPOINT);
  await assertRefused(strict, [ISSUER, TOKEN_ENDPOINT]);
});

test('with tokens.clientAssertions.issuerAudienceOnly, an unmarked assertion with aud = the issuer authenticates', async () => {
  const r = await token(strict, ISSUER);
  assert.equal(r.status, 200, JSON.stringify(r.body));
});
