import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createRemoteJWKSet, decodeProtectedHeader, jwtVerify, SignJWT, generateKeyPair, exportJWK } from 'jose';
import { startTestNode, basic, postForm, type TestNode } from '../support/portcullis.js';

let node: TestNode;
let id: string;
let secret: string;

before(async () => {
  node = await startTestNode();
  const r = await node.services.apps.create({ name: 'orders-client', audiences: ['orders-api', 'billing-api'], scopes: ['orders:read', 'orders:write'] }, 'test');
  id = r.app.clientId;
  secret = r.clientSecret!;
});
after(() => node.stop());

const tokenUrl = () => `${node.urls.identity}/oauth2/token`;

test('discovery: RFC 8414 metadata and OIDC discovery name the endpoints and the issuer', async () => {
  for (const path of ['/.well-known/oauth-authorization-server', '/.well-known/openid-configuration']) {
    const res = await fetch(`${node.urls.identity}${path}`);
    assert.equal(res.status, 200);
    const m = (await res.json()) as Record<string, unknown>;
    assert.equal(m.issuer, 'http://127.0.0.1:8080');
    assert.equal(m.token_endpoint, 'http://127.0.0.1:8080/oauth2/token');
    assert.equal(m.jwks_uri, 'http://127.0.0.1:8080/jwks');
    assert.ok((m.grant_types_supported as string[]).includes('client_credentials'));
    assert.ok((m.token_endpoint_auth_methods_supported as string[]).includes('private_key_jwt'));
  }
});

test('client credentials: client_secret_basic yields an RFC 9068 access token that verifies against the JWKS', async () => {
  const r = await postForm(tokenUrl(), { grant_type: 'client_credentials', scope: 'orders:read', resource: 'orders-api' }, { authorization: basic(id, secret) });
  assert.equal(r.status, 200);
  assert.equal(r.headers.get('cache-control'), 'no-store');
  assert.equal(r.body.token_type, 'Bearer');
  assert.equal(r.body.expires_in, 600);
  assert.equal(r.body.scope, 'orders:read');
  const header = decodeProtectedHeader(r.body.access_token);
  assert.equal(header.typ, 'at+jwt');
  assert.equal(header.alg, 'ES256');
  const jwks = createRemoteJWKSet(new URL(`${node.urls.identity}/jwks`));
  const { payload } = await jwtVerify(r.body.access_token, jwks, { issuer: 'http://127.0.0.1:8080', audience: 'orders-api', typ: 'at+jwt' });
  assert.equal(payload.sub, id);
  assert.equal(payload.client_id, id);
  assert.equal(payload.scope, 'orders:read');
  assert.equal(payload.aud, 'orders-api');
  assert.equal(typeof payload.jti, 'string');
  assert.equal((payload.exp as number) - (payload.iat as number), 600);
});

test('client credentials: client_secret_post works and no scope asked means every allowed scope', async () => {
  const r = await postForm(tokenUrl(), { grant_type: 'client_credentials', client_id: id, client_secret: secret });
  assert.equal(r.status, 200);
  assert.equal(r.body.scope, 'orders:read orders:write');
});

test('attack: wrong client secret → 401 invalid_client with WWW-Authenticate Basic', async () => {
  const r = await postForm(tokenUrl(), { grant_type: 'client_credentials' }, { authorization: basic(id, secret.slice(0, -1) + (secret.endsWith('A') ? 'B' : 'A')) });
  assert.equal(r.status, 401);
  assert.equal(r.body.error, 'invalid_client');
  assert.match(r.headers.get('www-authenticate') ?? '', /^Basic /);
});

test('a client authenticating in the body (client_secret_post, an assertion) that fails gets 401 with a challenge too (RFC 9110 §15.5.2)', async () => {
  const post = await postForm(tokenUrl(), { grant_type: 'client_credentials', client_id: id, client_secret: 'wrong' });
  assert.equal(post.status, 401);
  assert.equal(post.body.error, 'invalid_client');
  assert.match(post.headers.get('www-authenticate') ?? '', /^Basic realm="portcullis"$/);
  const assertion = await postForm(tokenUrl(), { grant_type: 'client_credentials', client_id: id, client_assertion_type: 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer', client_assertion: 'not.a.jwt' });
  assert.equal(assertion.status, 401);
  assert.equal(assertion.body.error, 'invalid_client');
  assert.match(assertion.headers.get('www-authenticate') ?? '', /^Basic realm="portcullis"$/);
});

test('attack: unknown client gets exactly the answer a wrong secret gets (no client enumeration)', async () => {
  const a = await postForm(tokenUrl(), { grant_type: 'client_credentials' }, { authorization: basic('nobody', secret) });
  const b = await postForm(tokenUrl(), { grant_type: 'client_credentials' }, { authorization: basic(id, 'wrong') });
  assert.equal(a.status, 401);
  assert.deepEqual(a.body, b.body);
});

test('attack: scope escalation → 400 invalid_scope; audience of another API → invalid_target (RFC 8707 §2)', async () => {
  const r = await postForm(tokenUrl(), { grant_type: 'client_credentials', scope: 'orders:read admin' }, { authorization: basic(id, secret) });
  assert.equal(r.status, 400);
  assert.equal(r.body.error, 'invalid_scope');
  const r2 = await postForm(tokenUrl(), { grant_type: 'client_credentials', resource: 'payroll-api' }, { authorization: basic(id, secret) });
  assert.equal(r2.status, 400);
  assert.equal(r2.body.error, 'invalid_target');
});

test('bad input: missing and unsupported grant types, duplicated parameters, JSON bodies, two auth methods', async () => {
  assert.equal((await postForm(tokenUrl(), {}, { authorization: basic(id, secret) })).body.error, 'invalid_request');
  assert.equal((await postForm(tokenUrl(), { grant_type: 'password' }, { authorization: basic(id, secret) })).body.error, 'unsupported_grant_type');
  const dup = await fetch(tokenUrl(), { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded', authorization: basic(id, secret) }, body: 'grant_type=client_credentials&scope=a&scope=b' });
  assert.equal(dup.status, 400);
  assert.equal(((await dup.json()) as { error: string }).error, 'invalid_request');
  const json = await fetch(tokenUrl(), { method: 'POST', headers: { 'content-type': 'application/json', authorization: basic(id, secret) }, body: '{"grant_type":"client_credentials"}' });
  assert.equal(json.status, 415);
  const both = await postForm(tokenUrl(), { grant_type: 'client_credentials', client_id: id, client_secret: secret }, { authorization: basic(id, secret) });
  assert.equal(both.body.error, 'invalid_request');
  const malformed = await postForm(tokenUrl(), { grant_type: 'client_credentials' }, { authorization: 'Basic %%%' });
  assert.equal(malformed.status, 401);
});

test('private_key_jwt: a signed client assertion authenticates; a replayed one is refused', async () => {
  const { publicKey, privateKey } = await generateKeyPair('ES256');
  const jwk = { ...(await exportJWK(publicKey)), kid: 'k1', alg: 'ES256' };
  const { app } = await node.services.apps.create({ name: 'pkjwt', audiences: ['orders-api'], scopes: ['orders:read'], jwks: [jwk] }, 'test');
  const assertion = await new SignJWT({})
    .setProtectedHeader({ alg: 'ES256', kid: 'k1' })
    .setIssuer(app.clientId)
    .setSubject(app.clientId)
    .setAudience('http://127.0.0.1:8080/oauth2/token')
    .setJti(crypto.randomUUID())
    .setIssuedAt()
    .setExpirationTime('2m')
    .sign(privateKey);
  const form = { grant_type: 'client_credentials', client_assertion_type: 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer', client_assertion: assertion };
  const r = await postForm(tokenUrl(), form);
  assert.equal(r.status, 200, JSON.stringify(r.body));
  const replay = await postForm(tokenUrl(), form);
  assert.equal(replay.status, 401);
  assert.equal(replay.body.error, 'invalid_client');
  assert.match(replay.body.error_description, /replay/);
  const other = await generateKeyPair('ES256');
  const forged = await new SignJWT({}).setProtectedHeader({ alg: 'ES256', kid: 'k1' }).setIssuer(app.clientId).setSubject(app.clientId).setAudience('http://127.0.0.1:8080').setJti('x').setIssuedAt().setExpirationTime('2m').sign(other.privateKey);
  assert.equal((await postForm(tokenUrl(), { ...form, client_assertion: forged })).body.error, 'invalid_client');
});

test('disabled app: no new token (invalid_client)', async () => {
  const { app, clientSecret } = await node.services.apps.create({ name: 'to-disable', audiences: ['orders-api'], scopes: [] }, 'test');
  await node.services.apps.disable(app.clientId, 'test');
  const r = await postForm(tokenUrl(), { grant_type: 'client_credentials' }, { authorization: basic(app.clientId, clientSecret!) });
  assert.equal(r.status, 401);
  assert.equal(r.body.error, 'invalid_client');
});
