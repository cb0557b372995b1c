/**
 * The audience injection attack (draft-ietf-oauth-rfc7523bis) at the endpoints oidc-provider
 * serves for sign-in apps, through its `assertJwtClientAuthClaimsAndHeader` hook: an assertion
 * typed `client-authentication+jwt` authenticates only with `aud` = the issuer identifier as
 * its sole value, and `tokens.clientAssertions.issuerAudienceOnly` requires that of every
 * assertion, as TokenService does (test/tokens/private-key-jwt.issuer-audience.attacks.test.ts).
 * Refusals are 401 invalid_client, audited `oauth.invalid-client`.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startOidcNode } from '../support/oidc-node.js';
import { postForm, type TestNode } from '../support/portcullis.js';
import { JWT_BEARER_ASSERTION } from '../../src/tokens/client-auth.js';
import { clientAssertion, clientKey, pastReplayStoreStart, registerSignInApp, type ClientKey } from './client-assertion-fixture.js';

let lenient: TestNode;
let strict: TestNode;
let key: ClientKey;
const clientIds = new Map<TestNode, string>();

async function register(node: TestNode): Promise<void> {
  clientIds.set(node, await registerSignInApp(node, key.jwk));
}

before(async () => {
  key = await clientKey();
  lenient = await startOidcNode();
  strict = await startOidcNode('tokens: { clientAssertions: { issuerAudienceOnly: true } }');
  await register(lenient);
  await register(strict);
  await pastReplayStoreStart();
});
after(async () => {
  await lenient?.stop();
  await strict?.stop();
});

/** aud values are built from the issuer (node.urls.identity), `endpoint` being a path under it. */
const audOf = (node: TestNode, aud: string | string[]) => (Array.isArray(aud) ? aud.map((a) => `${node.urls.identity}${a}`) : `${node.urls.identity}${aud}`);

async function call(node: TestNode, path: '/oauth2/revoke' | '/oauth2/token', aud: string | string[], typ?: string) {
  const clientId = clientIds.get(node)!;
  const grant: Record<string, string> = path === '/oauth2/token' ? { grant_type: 'refresh_token', refresh_token: 'not-a-refresh-token' } : { token: 'not-a-token' };
  return postForm(`${node.urls.identity}${path}`, { ...grant, client_id: clientId, client_assertion_type: JWT_BEARER_ASSERTION, client_assertion: await clientAssertion(key.privateKey, clientId, audOf(node, aud), typ) });
}

async function deniedRows(node: TestNode, type: string) {
  await node.services.audit.flush();
  return (await node.services.store.tailAudit(500)).filter((r) => r.type === type && r.reason === 'oauth.invalid-client' && r.clientId === clientIds.get(node));
}

const AUDITED = { '/oauth2/revoke': 'token.revoke-refused', '/oauth2/token': 'token.denied' } as const;

async function assertRefused(node: TestNode, path: '/oauth2/revoke' | '/oauth2/token', aud: string | string[], typ?: string) {
  const before = (await deniedRows(node, AUDITED[path])).length;
  const r = await call(node, path, aud, typ);
  assert.equal(r.status, 401, JSON.stringify(r.body));
  assert.equal(r.body.error, 'invalid_client');
  assert.equal((await deniedRows(node, AUDITED[path])).length, before + 1, `the refusal is audited as ${AUDITED[path]}, oauth.invalid-client`);
}

for (const typ of ['client-authentication+jwt', 'application/CLIENT-AUTHENTICATION+JWT']) {
  test(`attack: an assertion typed ${typ} with aud = the endpoint URL is refused at /oauth2/revoke and /oauth2/token (401 invalid_client)`, async () => {
    await assertRefused(lenient, '/oauth2/revoke', '/oauth2/revoke', typ);
    await assertRefused(lenient, '/oauth2/token', '/oauth2/token', typ);
  });
}

test('attack: an assertion typed client-authentication+jwt with aud = [issuer, token endpoint] is refused (the issuer is not its sole audience)', async () => {
  await assertRefused(lenient, '/oauth2/revoke', ['', '/oauth2/token'], 'client-authentication+jwt');
});

test('an assertion typed client-authentication+jwt with aud = the issuer authenticates (revoke 200; refresh reaches the grant: invalid_grant)', async () => {
  const v = await call(lenient, '/oauth2/revoke', '', 'client-authentication+jwt');
  assert.equal(v.status, 200, JSON.stringify(v.body));
  const t = await call(lenient, '/oauth2/token', [''], 'client-authentication+jwt');
  assert.equal(t.status, 400, JSON.stringify(t.body));
  assert.equal(t.body.error, 'invalid_grant');
});

test('an unmarked assertion with aud = the endpoint URL authenticates by default (OIDC Core §9 clients)', async () => {
  const v = await call(lenient, '/oauth2/revoke', '/oauth2/revoke');
  assert.equal(v.status, 200, JSON.stringify(v.body));
});

test('attack: with tokens.clientAssertions.issuerAudienceOnly, an unmarked assertion with aud = an endpoint URL is refused (401 invalid_client)', async () => {
  await assertRefused(strict, '/oauth2/revoke', '/oauth2/revoke');
  await assertRefused(strict, '/oauth2/token', '/oauth2/token');
});

test('with tokens.clientAssertions.issuerAudienceOnly, an unmarked assertion with aud = the issuer authenticates', async () => {
  const v = await call(strict, '/oauth2/revoke', '');
  assert.equal(v.status, 200, JSON.stringify(v.body));
});
