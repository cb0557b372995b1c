/** The whole path on one embedded node: token endpoint → gateway → upstream. */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { startTestNode, testConfig, basic, postForm, type TestNode } from '../support/portcullis.js';

let node: TestNode;
let up: Server;
const seen: IncomingHttpHeaders[] = [];
let app: { id: string; secret: string };

before(async () => {
  up = createServer((req, res) => {
    seen.push(req.headers);
    res.end('upstream-ok');
  });
  await new Promise<void>((r) => up.listen(0, '127.0.0.1', r));
  const port = (up.address() as AddressInfo).port;
  node = await startTestNode({
    config: testConfig(`routes:
  - name: orders
    match: { pathPrefix: /orders, methods: [GET, POST] }
    upstream: http://127.0.0.1:${port}
    require:
      token: { audience: orders-api, scopes: [orders:read] }
  - name: public
    match: { pathPrefix: /public }
    upstream: http://127.0.0.1:${port}
`),
  });
  const r = await node.services.apps.create({ name: 'orders-client', audiences: ['orders-api'], scopes: ['orders:read', 'orders:write'] }, 'test');
  app = { id: r.app.clientId, secret: r.clientSecret! };
});
after(async () => {
  await node.stop();
  up.close();
});

const token = async (scope?: string) => (await postForm(`${node.urls.identity}/oauth2/token`, { grant_type: 'client_credentials', ...(scope ? { scope } : {}) }, { authorization: basic(app.id, app.secret) })).body.access_token as string;

test('gateway: a valid token passes and the upstream receives the verified identity, not the forged one', async () => {
  const before = seen.length;
  const res = await fetch(`${node.urls.gateway}/orders/42`, { headers: { authorization: `Bearer ${await token()}`, 'x-portcullis-client-id': 'forged' } });
  assert.equal(res.status, 200);
  assert.equal(await res.text(), 'upstream-ok');
  const h = seen[before]!;
  assert.equal(h['x-portcullis-client-id'], app.id);
  assert.equal(h['x-portcullis-subject'], app.id);
  assert.equal(h['x-portcullis-scopes'], 'orders:read orders:write');
  assert.equal(h.authorization, undefined, 'the bearer token is not passed upstream');
});

test('gateway: no token → 401 with WWW-Authenticate Bearer and nothing reaches the upstream', async () => {
  const before = seen.length;
  const res = await fetch(`${node.urls.gateway}/orders/1`);
  assert.equal(res.status, 401);
  assert.match(res.headers.get('www-authenticate') ?? '', /^Bearer realm="portcullis"$/);
  assert.equal(((await res.json()) as { code: string }).code, 'token.missing');
  assert.equal(seen.length, before);
});

test('gateway: a token without the route scope → 403 insufficient_scope', async () => {
  const res = await fetch(`${node.urls.gateway}/orders/1`, { headers: { authorization: `Bearer ${await token('orders:write')}` } });
  assert.equal(res.status, 403);
  assert.match(res.headers.get('www-authenticate') ?? '', /error="insufficient_scope"/);
  assert.match(res.headers.get('www-authenticate') ?? '', /scope="orders:read"/);
});

test('gateway: a token revoked through RFC 7009 is rejected at once, even though it was cached', async () => {
  const t = await token();
  assert.equal((await fetch(`${node.urls.gateway}/orders/1`, { headers: { authorization: `Bearer ${t}` } })).status, 200);
  const rv = await postForm(`${node.urls.identity}/oauth2/revoke`, { token: t }, { authorization: basic(app.id, app.secret) });
  assert.equal(rv.status, 200);
  const res = await fetch(`${node.urls.gateway}/orders/1`, { headers: { authorization: `Bearer ${t}` } });
  assert.equal(res.status, 401);
  assert.equal(((await res.json()) as { code: string }).code, 'token.revoked');
});

test('gateway: a disabled app\'s tokens are rejected with token.app-disabled', async () => {
  const r = await node.services.apps.create({ name: 'soon-disabled', audiences: ['orders-api'], scopes: ['orders:read'] }, 'test');
  const t = (await postForm(`${node.urls.identity}/oauth2/token`, { grant_type: 'client_credentials' }, { authorization: basic(r.app.clientId, r.clientSecret!) })).body.access_token as string;
  assert.equal((await fetch(`${node.urls.gateway}/orders/1`, { headers: { authorization: `Bearer ${t}` } })).status, 200);
  await node.services.apps.disable(r.app.clientId, 'test');
  const res = await fetch(`${node.urls.gateway}/orders/1`, { headers: { authorization: `Bearer ${t}` } });
  assert.equal(res.status, 401);
  assert.equal(((await res.json()) as { code: string }).code, 'token.app-disabled');
});

test('gateway: a token signed by a key rotated out is still accepted while published; a route without policy needs none', async () => {
  const t = await token();
  await node.services.keys.rotate();
  assert.equal((await fetch(`${node.urls.gateway}/orders/1`, { headers: { authorization: `Bearer ${t}` } })).status, 200);
  assert.equal((await fetch(`${node.urls.gateway}/public/x`)).status, 200);
  assert.equal((await fetch(`${node.urls.gateway}/nowhere`)).status, 404);
});

test('gateway: denials are audited with the reason code', async () => {
  await node.services.audit.flush();
  const rows = await node.services.store.tailAudit(200);
  const denied = rows.filter((r) => r.type === 'gateway.denied');
  assert.ok(denied.some((r) => r.reason === 'token.missing' && r.route === 'orders'));
  assert.ok(denied.some((r) => r.reason === 'token.revoked'));
});
