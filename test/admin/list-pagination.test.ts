/**
 * GET /v1/apps and GET /v1/users answer a page at a time (`limit`, default 100, at most
 * 1000; `after` = the previous page's `next_after`), so a deployment with many apps or
 * users never gets one unbounded answer; the CLI follows the pages.
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

  test('the CLI client follows next_after across pages', async () => {
    const client = new AdminClient(t.admin, t.adminToken);
    assert.deepEqual((await client.listAll<{ client_id: string }>('/v1/apps', 'apps', 2)).map((a) => a.client_id), apps);
    assert.deepEqual((await client.listAll<{ id: string }>('/v1/users', 'users', 1)).map((u) => u.id), users);
  });
});
