/**
 * RFC 7662 §4: the authorization server decides who may introspect a token. An app's
 * `audiences` are the APIs it may request tokens for (it is a client of them); being a
 * client of an API gives no right to read the tokens other clients hold for it. Only the
 * token's own app, or a resource server that serves one of the token's audiences (its
 * `servedAudiences`), sees it active. A refused introspection of an active token is
 * audited (`token.introspect-refused`, reason `oauth.unauthorized-client`), without the token.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startTestNode, basic, postForm, type TestNode } from '../support/portcullis.js';

interface Client {
  id: string;
  secret: string;
}

let node: TestNode;
let owner: Client;
let otherClient: Client;
let resourceServer: Client;
let otherResourceServer: Client;

async function app(name: string, audiences: string[], servedAudiences?: string[]): Promise<Client> {
  const r = await node.services.apps.create({ name, audiences, scopes: ['orders:read'], ...(servedAudiences ? { servedAudiences } : {}) }, 'test');
  return { id: r.app.clientId, secret: r.clientSecret! };
}
async function token(c: Client): Promise<string> {
  const r = await postForm(`${node.urls.identity}/oauth2/token`, { grant_type: 'client_credentials', resource: 'orders-api' }, { authorization: basic(c.id, c.secret) });
  assert.equal(r.status, 200, JSON.stringify(r.body));
  return r.body.access_token;
}
const introspect = (caller: Client, t: string) => postForm(`${node.urls.identity}/oauth2/introspect`, { token: t }, { authorization: basic(caller.id, caller.secret) });
async function refusedRows() {
  await node.services.audit.flush();
  return (await node.services.store.tailAudit(500)).filter((r) => r.type === 'token.introspect-refused' && r.reason === 'oauth.unauthorized-client');
}

before(async () => {
  node = await startTestNode();
  owner = await app('orders-client-a', ['orders-api']);
  otherClient = await app('orders-client-b', ['orders-api']);
  resourceServer = await app('orders-service', ['audit-api'], ['orders-api']);
  otherResourceServer = await app('billing-service', ['audit-api'], ['billing-api']);
});
after(() => node.stop());

test("attack: a client of an API cannot introspect another client's token for that API (active:false), and the refusal is audited without the token", async () => {
  const t = await token(owner);
  const before = (await refusedRows()).length;
  const r = await introspect(otherClient, t);
  assert.equal(r.status, 200);
  assert.deepEqual(r.body, { active: false });
  const rows = await refusedRows();
  assert.equal(rows.length, before + 1, 'the refused introspection is audited');
  const row = rows.at(-1)!;
  assert.equal(row.actor, `client:${otherClient.id}`);
  assert.equal(row.clientId, otherClient.id);
  assert.equal(row.data?.['endpoint'], '/oauth2/introspect');
  assert.equal(row.data?.['tokenClientId'], owner.id);
  assert.ok(!JSON.stringify(row).includes(t.split('.')[2]!), 'the token is not in the audit event');
});

test('a resource server that serves the token\'s audience sees it active, with the claims', async () => {
  const t = await token(owner);
  const r = await introspect(resourceServer, t);
  assert.equal(r.status, 200);
  assert.equal(r.body.active, true);
  assert.equal(r.body.client_id, owner.id);
  assert.equal(r.body.sub, owner.id);
  assert.equal(r.body.aud, 'orders-api');
  assert.equal(r.body.scope, 'orders:read');
});

test("the token's own app sees it active", async () => {
  const t = await token(owner);
  const r = await introspect(owner, t);
  assert.equal(r.body.active, true);
  assert.equal(r.body.client_id, owner.id);
});

test('a resource server of another audience gets active:false', async () => {
  const t = await token(owner);
  assert.deepEqual((await introspect(otherResourceServer, t)).body, { active: false });
});

test('serving is set and withdrawn at run time: the other client, made a resource server of the audience, sees the token; withdrawn, it no longer does', async () => {
  const t = await token(owner);
  await node.services.apps.setServedAudiences(otherClient.id, ['orders-api'], 'test');
  assert.equal((await introspect(otherClient, t)).body.active, true);
  await node.services.apps.setServedAudiences(otherClient.id, [], 'test');
  assert.deepEqual((await introspect(otherClient, t)).body, { active: false });
});
