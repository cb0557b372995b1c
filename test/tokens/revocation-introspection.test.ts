import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { SignJWT, generateKeyPair } from 'jose';
import { startTestNode, basic, postForm, type TestNode } from '../support/portcullis.js';

let node: TestNode;
let a: { id: string; secret: string };
let b: { id: string; secret: string };
let rs: { id: string; secret: string };

async function app(name: string, audiences: string[], servedAudiences?: string[]) {
  const r = await node.services.apps.create({ name, audiences, scopes: ['read'], ...(servedAudiences ? { servedAudiences } : {}) }, 'test');
  return { id: r.app.clientId, secret: r.clientSecret! };
}
async function token(c: { id: string; secret: string }): Promise<string> {
  const r = await postForm(`${node.urls.identity}/oauth2/token`, { grant_type: 'client_credentials' }, { authorization: basic(c.id, c.secret) });
  assert.equal(r.status, 200);
  return r.body.access_token;
}
const introspect = (caller: { id: string; secret: string }, t: string) =>
  postForm(`${node.urls.identity}/oauth2/introspect`, { token: t }, { authorization: basic(caller.id, caller.secret) });
const revoke = (caller: { id: string; secret: string }, t: string, extra: Record<string, string> = {}) =>
  postForm(`${node.urls.identity}/oauth2/revoke`, { token: t, ...extra }, { authorization: basic(caller.id, caller.secret) });

before(async () => {
  node = await startTestNode();
  a = await app('app-a', ['orders-api']);
  b = await app('app-b', ['orders-api']);
  rs = await app('orders-resource-server', ['audit-api'], ['orders-api']);
});
after(() => node.stop());

test('introspection: an active token of ours is described (RFC 7662 §2.2)', async () => {
  const t = await token(a);
  const r = await introspect(a, t);
  assert.equal(r.status, 200);
  assert.equal(r.body.active, true);
  assert.equal(r.body.client_id, a.id);
  assert.equal(r.body.sub, a.id);
  assert.equal(r.body.scope, 'read');
  assert.equal(r.body.token_type, 'Bearer');
  assert.equal(r.body.iss, 'http://127.0.0.1:8080');
  const viaRs = await introspect(rs, t);
  assert.equal(viaRs.body.active, true, 'a resource server that serves the audience may introspect');
  assert.deepEqual((await introspect(b, t)).body, { active: false }, 'another client of the audience may not');
});

test('introspection: a foreign token (signed by another key) and garbage are active:false', async () => {
  const { privateKey } = await generateKeyPair('ES256');
  const foreign = await new SignJWT({ client_id: a.id, scope: 'read' }).setProtectedHeader({ alg: 'ES256', kid: 'nope', typ: 'at+jwt' }).setIssuer('http://127.0.0.1:8080').setSubject(a.id).setAudience('orders-api').setJti('j').setIssuedAt().setExpirationTime('5m').sign(privateKey);
  assert.deepEqual((await introspect(a, foreign)).body, { active: false });
  assert.deepEqual((await introspect(a, 'not.a.token')).body, { active: false });
});

test('introspection: requires client authentication', async () => {
  const r = await postForm(`${node.urls.identity}/oauth2/introspect`, { token: 'x' });
  assert.equal(r.status, 401);
  assert.equal(r.body.error, 'invalid_client');
});

test('revocation (RFC 7009): the owner revokes one token; introspection then says active:false; its other tokens still work', async () => {
  const t1 = await token(a);
  const t2 = await token(a);
  const r = await revoke(a, t1, { token_type_hint: 'access_token' });
  assert.equal(r.status, 200);
  assert.deepEqual((await introspect(a, t1)).body, { active: false });
  assert.equal((await introspect(a, t2)).body.active, true);
});

test('attack: an app cannot revoke another app\'s token (unauthorized_client), and the token keeps working', async () => {
  const tb = await token(b);
  const r = await revoke(a, tb);
  assert.equal(r.status, 400);
  assert.equal(r.body.error, 'unauthorized_client');
  assert.equal((await introspect(b, tb)).body.active, true);
});

test('revocation: unknown tokens are a successful no-op; an unsupported hint is refused', async () => {
  assert.equal((await revoke(a, 'garbage')).status, 200);
  const r = await revoke(a, 'garbage', { token_type_hint: 'id_token' });
  assert.equal(r.body.error, 'unsupported_token_type');
});

test('per-app revocation: revoke-tokens kills every token of one app while another app keeps working', async () => {
  const ta = await token(a);
  const tb = await token(b);
  await new Promise((r) => setTimeout(r, 5));
  await node.services.apps.revokeTokens(a.id, 'test');
  assert.deepEqual((await introspect(a, ta)).body, { active: false });
  assert.equal((await introspect(b, tb)).body.active, true);
  await new Promise((r) => setTimeout(r, 1100));
  const fresh = await token(a);
  assert.equal((await introspect(a, fresh)).body.active, true, 'tokens issued after the revocation work');
});

test('audit: issuance and revocation are in the hash-chained audit trail', async () => {
  await node.services.audit.flush();
  const rows = await node.services.store.tailAudit(500);
  const types = new Set(rows.map((r) => r.type));
  for (const t of ['app.created', 'token.issued', 'token.revoked', 'app.tokens-revoked', 'token.revoke-refused']) assert.ok(types.has(t), `missing ${t}`);
  for (const r of rows) assert.ok(!JSON.stringify(r).includes(a.secret), 'no secret in the audit trail');
});
