/** Admin plane authentication: every /v1/ route needs the admin bearer token; anything else is 401 admin.unauthorized. */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { startTestNode, type TestNode } from './node.js';

describe('admin plane: bearer token on /v1/', () => {
  let t: TestNode;
  let clientId: string;
  before(async () => {
    t = await startTestNode();
    const created = await t.api('/v1/apps', { body: { name: 'auth-probe', audiences: ['api'], scopes: [] } });
    assert.equal(created.status, 201);
    clientId = created.body.client_id;
  });
  after(() => t.close());

  const expect401 = (res: { status: number; headers: Headers; body: any }, challenge: string) => {
    assert.equal(res.status, 401);
    assert.equal(res.body.code, 'admin.unauthorized');
    assert.match(res.headers.get('content-type') ?? '', /^application\/problem\+json/);
    assert.equal(res.headers.get('www-authenticate'), challenge);
  };

  test('no Authorization header → 401 admin.unauthorized with a Bearer challenge (no error code, RFC 6750 §3)', async () => {
    expect401(await t.api('/v1/apps', { token: null }), 'Bearer realm="portcullis-admin"');
  });

  test('a wrong token → 401 admin.unauthorized, error="invalid_token"', async () => {
    expect401(await t.api('/v1/apps', { token: 'pca_' + 'A'.repeat(43) }), 'Bearer realm="portcullis-admin", error="invalid_token"');
  });

  test('attack: the admin token with one character changed, a prefix, or padded → 401', async () => {
    const tok = t.adminToken;
    const flipped = tok.slice(0, -1) + (tok.endsWith('A') ? 'B' : 'A');
    for (const bad of [flipped, tok.slice(0, -1), tok + 'x', tok.toUpperCase() === tok ? tok.toLowerCase() : tok.toUpperCase()]) {
      expect401(await t.api('/v1/apps', { token: bad }), 'Bearer realm="portcullis-admin", error="invalid_token"');
    }
  });

  test('malformed Authorization headers (Basic, empty Bearer, token in another scheme) → 401', async () => {
    for (const authorization of [`Basic ${Buffer.from(`admin:${t.adminToken}`).toString('base64')}`, 'Bearer', 'Bearer ', `Token ${t.adminToken}`, `Bearer ${t.adminToken} extra`, t.adminToken]) {
      const res = await t.api('/v1/apps', { token: null, headers: { authorization } });
      assert.equal(res.status, 401, authorization.slice(0, 12));
      assert.equal(res.body.code, 'admin.unauthorized');
    }
  });

  test('attack: the token in a query parameter or another header is ignored → 401', async () => {
    expect401(await t.api(`/v1/apps?access_token=${encodeURIComponent(t.adminToken)}`, { token: null }), 'Bearer realm="portcullis-admin"');
    expect401(await t.api('/v1/apps', { token: null, headers: { 'x-portcullis-admin-token': t.adminToken } }), 'Bearer realm="portcullis-admin"');
  });

  test('the right token works (scheme name case-insensitive, RFC 7235 §2.1)', async () => {
    const res = await t.api('/v1/apps');
    assert.equal(res.status, 200);
    assert.ok(res.body.apps.some((a: { client_id: string }) => a.client_id === clientId));
    const lower = await t.api('/v1/apps', { token: null, headers: { authorization: `bearer ${t.adminToken}` } });
    assert.equal(lower.status, 200);
  });

  test('every /v1/ operation in the OpenAPI document refuses a request without the token (and runs nothing)', async () => {
    const doc = (await t.api('/openapi.json', { token: null })).body;
    let checked = 0;
    for (const [path, item] of Object.entries<Record<string, unknown>>(doc.paths)) {
      if (!path.startsWith('/v1/')) continue;
      for (const method of Object.keys(item)) {
        const url = path.replace('{clientId}', clientId);
        const res = await t.api(url, { token: null, method: method.toUpperCase(), ...(method === 'get' ? {} : { body: {} }) });
        assert.equal(res.status, 401, `${method} ${path}`);
        assert.equal(res.body.code, 'admin.unauthorized');
        checked++;
      }
    }
    // The document lists every registered route (openapi.test.ts), so this covers the whole /v1/ surface.
    assert.ok(checked >= 15, `every /v1/ operation was checked (at least apps, tokens, keys and audit), got ${checked}`);
    const app = await t.api(`/v1/apps/${clientId}`);
    assert.equal(app.body.app.status, 'active', 'the unauthenticated disable did not run');
  });

  test('attack: probing unknown /v1/ paths without the token → 401, not 404 (no endpoint enumeration)', async () => {
    expect401(await t.api('/v1/no-such-endpoint', { token: null }), 'Bearer realm="portcullis-admin"');
    const withToken = await t.api('/v1/no-such-endpoint');
    assert.equal(withToken.status, 404);
    assert.equal(withToken.body.code, 'not-found');
  });

  test('refused attempts are audited as admin.denied without the presented credential', async () => {
    const bogus = 'pca_' + 'Z'.repeat(43);
    await t.api('/v1/keys', { token: bogus });
    await t.node.services.audit.flush();
    const rows = await t.node.services.store.tailAudit(50);
    const denied = rows.filter((r) => r.type === 'admin.denied');
    assert.ok(denied.length > 0);
    assert.equal(denied.at(-1)!.reason, 'admin.unauthorized');
    assert.ok(!JSON.stringify(rows).includes(bogus), 'the presented token must not be stored');
    assert.ok(!JSON.stringify(rows).includes(t.adminToken));
  });

  test('open endpoints need no token: /healthz, /readyz, /metrics, /openapi.json', async () => {
    for (const p of ['/healthz', '/readyz', '/metrics', '/openapi.json']) assert.equal((await t.api(p, { token: null })).status, 200, p);
  });
});
