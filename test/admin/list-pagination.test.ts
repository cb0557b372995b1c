/**
 * The admin lists answer a page at a time (`limit`, default 100, at most 1000; `after` =
 * the previous page's `next_after`; any other parameter is 400): apps, users, a user's
 * sessions, webhooks, transit keys and an app's signing and encryption keys. A deployment
 * with many of them never gets one unbounded answer; the CLI follows the pages.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { AdminClient } from '../../src/cli/client.js';
import { AppList } from '../../src/http/admin/schemas.js';
import { UserList } from '../../src/http/admin/user-schemas.js';
import { startTestNode, type TestNode } from './node.js';

describe('admin API: paged lists of apps and users', () => {
  let t: TestNode;
  const apps: string[] = [];
  const users: string[] = [];
  before(async () => {
    t = await startTestNode();
    for (const name of ['p1', 'p2', 'p3', 'p4', 'p5']) apps.push((await t.api('/v1/apps', { body: { name, audiences: ['x'] } })).body.client_id);
    for (const n of [1, 2, 3]) users.push((await t.api('/v1/users', { body: { email: `page${n}@example.test`, invite: true } })).body.user.id);
  });
  after(() => t.close());

  test('GET /v1/apps?limit=2 pages through every app once, oldest first; the last page has next_after null', async () => {
    const seen: string[] = [];
    let cursor: string | null = null;
    let pages = 0;
    do {
      const r = await t.api(`/v1/apps?limit=2${cursor ? `&after=${encodeURIComponent(cursor)}` : ''}`);
      assert.equal(r.status, 200);
      const body = AppList.parse(r.body);
      assert.ok(body.apps.length <= 2, `page of ${body.apps.length}`);
      seen.push(...body.apps.map((a) => a.client_id));
      cursor = body.next_after;
      pages++;
    } while (cursor !== null && pages < 10);
    assert.equal(pages, 3);
    assert.deepEqual(seen, apps);
  });

  test('GET /v1/users?limit=1 answers one user and a cursor; the default page holds them all', async () => {
    const first = UserList.parse((await t.api('/v1/users?limit=1')).body);
    assert.deepEqual(first.users.map((u) => u.id), [users[0]]);
    assert.ok(first.next_after);
    const rest = UserList.parse((await t.api(`/v1/users?after=${encodeURIComponent(first.next_after)}`)).body);
    assert.deepEqual(rest.users.map((u) => u.id), users.slice(1));
    assert.equal(rest.next_after, null);
  });

  test('a cursor whose row was deleted meanwhile still continues after it', async () => {
    const first = UserList.parse((await t.api('/v1/users?limit=2')).body);
    assert.equal((await t.api(`/v1/users/${first.users[1]!.id}`, { method: 'DELETE' })).status, 200);
    const rest = UserList.parse((await t.api(`/v1/users?after=${encodeURIComponent(first.next_after!)}`)).body);
    assert.deepEqual(rest.users.map((u) => u.id), [users[2]]);
    users.splice(1, 1);
  });

  test('limit 0, limit 1001, limit=abc and a cursor that is not one → 400 request.invalid naming the parameter', async () => {
    for (const [q, path] of [
      ['limit=0', 'limit'],
      ['limit=1001', 'limit'],
      ['limit=abc', 'limit'],
      ['after=app_x', 'after'],
      ['after=1.a&after=2.b', 'after'],
    ] as const) {
      for (const list of ['/v1/apps', '/v1/users']) {
        const r = await t.api(`${list}?${q}`);
        assert.equal(r.status, 400, `${list}?${q}`);
        assert.equal(r.body.code, 'request.invalid');
        assert.deepEqual(r.body.errors.map((e: { path: string }) => e.path), [path], `${list}?${q}`);
      }
    }
  });

  test('a cursor whose time is past Number.MAX_SAFE_INTEGER (16 digits, read as another number) → 400 request.invalid naming after; 2^53-1 itself is a cursor', async () => {
    for (const list of ['/v1/apps', '/v1/users']) {
      for (const time of ['9007199254740992', '9007199254740993', '9999999999999999']) {
        const r = await t.api(`${list}?after=${time}.app_x`);
        assert.equal(r.status, 400, `${list}?after=${time}.app_x`);
        assert.equal(r.body.code, 'request.invalid');
        assert.deepEqual(r.body.errors.map((e: { path: string }) => e.path), ['after'], `${list}?after=${time}.app_x`);
      }
      const r = await t.api(`${list}?after=9007199254740991.app_x`);
      assert.equal(r.status, 200, JSON.stringify(r.body));
    }
  });

  test('a page of apps or users reads that page from the store (one row more, after the cursor), never every row', async () => {
    const store = t.node.services.store;
    const asked: Array<[string, unknown]> = [];
    const [listApps, listUsers] = [store.listApps, store.listUsers];
    store.listApps = (p) => (asked.push(['apps', p]), listApps.call(store, p));
    store.listUsers = (p) => (asked.push(['users', p]), listUsers.call(store, p));
    try {
      const first = AppList.parse((await t.api('/v1/apps?limit=2')).body);
      assert.deepEqual(first.apps.map((a) => a.client_id), apps.slice(0, 2));
      const cursor = first.next_after!;
      const second = AppList.parse((await t.api(`/v1/apps?limit=2&after=${encodeURIComponent(cursor)}`)).body);
      assert.deepEqual(second.apps.map((a) => a.client_id), apps.slice(2, 4));
      const dot = cursor.indexOf('.');
      const firstUser = UserList.parse((await t.api('/v1/users?limit=1')).body);
      assert.deepEqual(firstUser.users.map((u) => u.id), [users[0]]);
      assert.deepEqual(asked, [
        ['apps', { limit: 3 }],
        ['apps', { after: { createdAt: Number(cursor.slice(0, dot)), id: cursor.slice(dot + 1) }, limit: 3 }],
        ['users', { limit: 2 }],
      ]);
    } finally {
      store.listApps = listApps;
      store.listUsers = listUsers;
    }
  });

  test('the CLI client follows next_after across pages', async () => {
    const client = new AdminClient(t.admin, t.adminToken);
    assert.deepEqual((await client.listAll<{ client_id: string }>('/v1/apps', 'apps', 2)).map((a) => a.client_id), apps);
    assert.deepEqual((await client.listAll<{ id: string }>('/v1/users', 'users', 1)).map((u) => u.id), users);
  });
});

/** Every row of a list, `limit` at a time: the rows' `id(row)` and the number of pages. */
async function pageThrough(t: TestNode, path: string, field: string, limit: number, id: (row: any) => string): Promise<{ seen: string[]; pages: number }> {
  const seen: string[] = [];
  let cursor: string | null = null;
  let pages = 0;
  do {
    const r = await t.api(`${path}?limit=${limit}${cursor ? `&after=${encodeURIComponent(cursor)}` : ''}`);
    assert.equal(r.status, 200, `${path}: ${JSON.stringify(r.body)}`);
    const rows = r.body[field] as unknown[];
    assert.ok(Array.isArray(rows) && rows.length <= limit, `${path}: a page of at most ${limit}`);
    assert.ok(r.body.next_after === null || typeof r.body.next_after === 'string', `${path}: next_after`);
    seen.push(...rows.map(id));
    cursor = r.body.next_after;
    pages++;
  } while (cursor !== null && pages < 20);
  return { seen, pages };
}

describe('admin API: paged lists of sessions, webhooks, transit keys and an app\'s keys', () => {
  let t: TestNode;
  let clientId: string;
  let userId: string;
  const lists: Array<{ path: string; field: string; id: (row: any) => string; expect: string[] }> = [];
  before(async () => {
    t = await startTestNode();
    clientId = (await t.api('/v1/apps', { body: { name: 'keys', audiences: ['x'] } })).body.client_id;
    const signing: string[] = [];
    const encryption: string[] = [];
    const hooks: string[] = [];
    for (let i = 0; i < 5; i++) {
      signing.push((await t.api(`/v1/apps/${clientId}/keys`, { body: { type: 'hmac' } })).body.key.keyid);
      encryption.push((await t.api(`/v1/apps/${clientId}/encryption-keys`, { body: { type: 'symmetric' } })).body.key.kid);
      hooks.push((await t.api('/v1/webhooks', { body: { url: `https://hooks.example.com/in/${i}`, events: ['*'] } })).body.webhook.id);
    }
    // keys created within one millisecond are ordered by id: the list's order is what a full list answers
    const order = async (path: string, field: string, id: (row: any) => string, made: string[]) => {
      const all = (await t.api(path)).body[field].map(id) as string[];
      assert.deepEqual([...all].sort(), [...made].sort());
      return all;
    };
    for (const name of ['k3', 'k1', 'k5', 'k2', 'k4']) assert.equal((await t.api('/v1/transit/keys', { body: { name, type: 'aes256-gcm' } })).status, 201);
    userId = (await t.api('/v1/users', { body: { email: 'sessions@example.test', invite: true } })).body.user.id;
    const now = Math.floor(Date.now() / 1000);
    // five sessions, two signed in in the same second; one expired (not listed)
    for (const [i, iat] of [now - 50, now - 40, now - 40, now - 30, now - 20, now - 10].entries()) {
      await t.node.services.store.upsertOidcModel({ model: 'Session', id: `session-${i}`, payload: { iat, amr: ['pwd'], authorizations: {} }, expiresAt: i === 0 ? Date.now() - 1000 : Date.now() + 3_600_000, grantId: null, userCode: null, uid: null, accountId: userId, consumedAt: null });
    }
    const sessions = (await t.node.services.identity.oidc.listSessions(userId)).map((s) => s.handle);
    assert.equal(sessions.length, 5);
    lists.push(
      { path: `/v1/apps/${clientId}/keys`, field: 'keys', id: (k) => k.keyid, expect: await order(`/v1/apps/${clientId}/keys`, 'keys', (k) => k.keyid, signing) },
      { path: `/v1/apps/${clientId}/encryption-keys`, field: 'keys', id: (k) => k.kid, expect: await order(`/v1/apps/${clientId}/encryption-keys`, 'keys', (k) => k.kid, encryption) },
      { path: '/v1/webhooks', field: 'webhooks', id: (w) => w.id, expect: await order('/v1/webhooks', 'webhooks', (w) => w.id, hooks) },
      { path: '/v1/transit/keys', field: 'keys', id: (n) => n, expect: ['k1', 'k2', 'k3', 'k4', 'k5'] },
      { path: `/v1/users/${userId}/sessions`, field: 'sessions', id: (s) => s.id, expect: sessions },
    );
  });
  after(() => t.close());

  test('limit=2 pages through every row once, in the list\'s order (sessions newest first); the last page has next_after null', async () => {
    for (const l of lists) {
      const { seen, pages } = await pageThrough(t, l.path, l.field, 2, l.id);
      assert.deepEqual(seen, l.expect, l.path);
      assert.equal(pages, 3, l.path);
    }
  });

  test('without parameters a list answers at most 100 rows and next_after', async () => {
    for (const l of lists) {
      const r = await t.api(l.path);
      assert.equal(r.body.next_after, null, l.path);
      assert.equal(r.body[l.field].length, 5, l.path);
    }
  });

  test('limit 0, limit 1001, limit=abc, a cursor that is not one and an unknown parameter → 400 request.invalid naming it', async () => {
    for (const l of lists) {
      for (const [q, path] of [
        ['limit=0', 'limit'],
        ['limit=1001', 'limit'],
        ['limit=abc', 'limit'],
        ['after=%20x', 'after'],
        ['after=1.a&after=2.b', 'after'],
        ['page=2', 'page'],
      ] as const) {
        const r = await t.api(`${l.path}?${q}`);
        assert.equal(r.status, 400, `${l.path}?${q}`);
        assert.equal(r.body.code, 'request.invalid', `${l.path}?${q}`);
        assert.deepEqual(r.body.errors.map((e: { path: string }) => e.path), [path], `${l.path}?${q}`);
      }
    }
  });

  test('a cursor whose row is gone still continues after it', async () => {
    const first = await t.api('/v1/webhooks?limit=2');
    assert.equal((await t.api(`/v1/webhooks/${first.body.webhooks[1].id}`, { method: 'DELETE' })).status, 200);
    const rest = await t.api(`/v1/webhooks?after=${encodeURIComponent(first.body.next_after)}`);
    assert.deepEqual(rest.body.webhooks.map((w: { id: string }) => w.id), lists[2]!.expect.slice(2));
    lists[2]!.expect.splice(1, 1);
  });

  test('the OpenAPI document gives each list limit and after, and next_after in its answer', async () => {
    const doc = (await t.api('/openapi.json', { token: null })).body;
    for (const [path, schema] of [
      ['/v1/apps/{clientId}/keys', 'AppKeyList'],
      ['/v1/apps/{clientId}/encryption-keys', 'AppEncryptionKeyList'],
      ['/v1/webhooks', 'WebhookList'],
      ['/v1/transit/keys', 'TransitKeyList'],
      ['/v1/users/{id}/sessions', 'UserSessionList'],
    ]) {
      const op = doc.paths[path].get;
      assert.deepEqual(op.parameters.filter((p: { in: string }) => p.in === 'query').map((p: { name: string }) => p.name).sort(), ['after', 'limit'], path);
      assert.ok('400' in op.responses, path);
      assert.ok('next_after' in doc.components.schemas[schema].properties, schema);
    }
  });

  test('the CLI client follows next_after across the pages of each list', async () => {
    const client = new AdminClient(t.admin, t.adminToken);
    for (const l of lists) assert.deepEqual((await client.listAll<any>(l.path, l.field, 2)).map(l.id), l.expect, l.path);
  });
});
