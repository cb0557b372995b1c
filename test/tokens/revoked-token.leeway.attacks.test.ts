/**
 * The gateway accepts a token until `exp` + the clock-skew leeway (tokens.leeway). A revoked
 * token must stay refused for all of that window: its revocation may not be purged at
 * `exp` (the periodic reconcile purges), and revoking it just after `exp` is not a no-op.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { FrozenClock } from '../../src/core/clock.js';
import { startTestNode, testConfig, basic, postForm, type TestNode } from '../support/portcullis.js';

let node: TestNode;
let up: Server;
let app: { id: string; secret: string };
const clock = new FrozenClock(Date.now());
const TTL = 10 * 60_000;

before(async () => {
  up = createServer((_req, res) => res.end('upstream-ok'));
  await new Promise<void>((r) => up.listen(0, '127.0.0.1', r));
  const port = (up.address() as AddressInfo).port;
  node = await startTestNode({
    clock,
    config: testConfig(`routes:
  - name: orders
    match: { pathPrefix: /orders }
    upstream: http://127.0.0.1:${port}
    require:
      token: { audience: orders-api, scopes: [] }
`),
  });
  const r = await node.services.apps.create({ name: 'leeway', audiences: ['orders-api'], scopes: ['read'] }, 'test');
  app = { id: r.app.clientId, secret: r.clientSecret! };
});
after(async () => {
  await node.stop();
  up.close();
});

const token = async () => (await postForm(`${node.urls.identity}/oauth2/token`, { grant_type: 'client_credentials' }, { authorization: basic(app.id, app.secret) })).body.access_token as string;
const call = async (t: string) => {
  const res = await fetch(`${node.urls.gateway}/orders/1`, { headers: { authorization: `Bearer ${t}` } });
  const text = await res.text();
  return { status: res.status, code: res.status === 200 ? undefined : (JSON.parse(text) as { code: string }).code };
};
const revoke = (t: string) => postForm(`${node.urls.identity}/oauth2/revoke`, { token: t }, { authorization: basic(app.id, app.secret) });

test('attack: a revoked token is still refused after exp, within the leeway, after a reconcile purged expired revocations', async () => {
  const t = await token();
  assert.equal((await revoke(t)).status, 200);
  assert.deepEqual(await call(t), { status: 401, code: 'token.revoked' });
  clock.advance(TTL + 10_000); // past exp, inside the 30 s leeway: the gateway still takes the token's lifetime as valid
  await node.reconcile();
  assert.deepEqual(await call(t), { status: 401, code: 'token.revoked' });
  clock.advance(30_000);
  assert.deepEqual(await call(t), { status: 401, code: 'token.expired' });
});

test('attack: revoking a token just after its exp (inside the leeway) revokes it at the gateway', async () => {
  const t = await token();
  assert.equal((await call(t)).status, 200);
  clock.advance(TTL + 5_000);
  assert.equal((await call(t)).status, 200, 'inside the leeway the gateway still accepts it');
  assert.equal((await revoke(t)).status, 200);
  assert.deepEqual(await call(t), { status: 401, code: 'token.revoked' });
});

test('admin revoke of a token just past exp (inside the leeway) says revoked:true, and the gateway refuses it', async () => {
  const t = await token();
  clock.advance(TTL + 5_000);
  const res = await fetch(`${node.urls.admin}/v1/tokens/revoke`, { method: 'POST', headers: { authorization: `Bearer ${node.adminToken}`, 'content-type': 'application/json' }, body: JSON.stringify({ token: t }) });
  assert.equal(res.status, 200);
  assert.equal(((await res.json()) as { revoked: boolean }).revoked, true);
  assert.deepEqual(await call(t), { status: 401, code: 'token.revoked' });
});
