/** Admin API for the audit trail (page, tail, verify, tampering) and the open endpoints (health, readiness, metrics, OpenAPI). */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import Database from 'better-sqlite3';
import { join } from 'node:path';
import { buildAdminPlane } from '../../src/http/admin-plane.js';
import { ERRORS } from '../../src/core/errors.js';
import { AuditPage, AuditTail, AuditVerify, requestSchemas, responseSchemas } from '../../src/http/admin/schemas.js';
import { startTestNode, type TestNode } from './node.js';

/** Method+path pairs fastify registered, from its route tree (HEAD is fastify's automatic twin of GET). */
function registeredRoutes(tree: string): string[] {
  const out: string[] = [];
  const stack: string[] = [];
  for (const line of tree.split('\n')) {
    const m = /^(.*?)[├└]── (\S+)(?: \(([^)]*)\))?$/.exec(line);
    if (!m) continue;
    const depth = [...m[1]!].length / 4;
    stack.length = depth;
    stack.push(m[2]!);
    const path = stack.join('');
    for (const method of (m[3] ?? '').split(', ').filter(Boolean)) if (method !== 'HEAD') out.push(`${method} ${path}`);
  }
  return out.sort();
}

describe('admin API: audit trail and open endpoints', () => {
  let t: TestNode;
  before(async () => {
    t = await startTestNode();
    for (const name of ['a1', 'a2', 'a3']) await t.api('/v1/apps', { body: { name, audiences: ['x'] } });
  });
  after(() => t.close());

  test('GET /v1/audit pages rows in seq order with after/limit', async () => {
    const first = AuditPage.parse((await t.api('/v1/audit?after=0&limit=2')).body);
    assert.deepEqual(first.rows.map((r) => r.seq), [1, 2]);
    assert.equal(first.next_after, 2);
    const second = AuditPage.parse((await t.api(`/v1/audit?after=${first.next_after}&limit=2`)).body);
    assert.deepEqual(second.rows.map((r) => r.seq), [3, 4]);
    assert.equal(second.rows[0]!.prevHash, first.rows[1]!.hash, 'rows are chained');
  });

  test('GET /v1/audit/tail returns the newest rows, oldest first', async () => {
    const tail = AuditTail.parse((await t.api('/v1/audit/tail?limit=3')).body);
    assert.equal(tail.rows.length, 3);
    assert.deepEqual(tail.rows.map((r) => r.type), ['app.created', 'app.created', 'app.created']);
    assert.ok(tail.rows[0]!.seq < tail.rows[2]!.seq);
  });

  test('invalid audit queries → 400 request.invalid naming the parameter', async () => {
    for (const [q, path] of [
      ['limit=0', 'limit'],
      ['limit=5000', 'limit'],
      ['after=abc', 'after'],
      ['after=-1', 'after'],
      ['bogus=1', 'bogus'],
    ] as const) {
      const res = await t.api(`/v1/audit?${q}`);
      assert.equal(res.status, 400, q);
      assert.equal(res.body.code, 'request.invalid');
      assert.deepEqual(res.body.errors.map((e: { path: string }) => e.path), [path], q);
    }
  });

  test('GET /v1/audit/verify → ok; after tampering a row in the SQLite file → ok:false naming that row', async () => {
    const ok = AuditVerify.parse((await t.api('/v1/audit/verify')).body);
    assert.equal(ok.ok, true);
    assert.ok(ok.rows >= 4);
    const db = new Database(join(t.dir, 'portcullis.db'));
    try {
      db.prepare("UPDATE audit_log SET actor = 'someone-else' WHERE seq = 3").run();
    } finally {
      db.close();
    }
    const broken = AuditVerify.parse((await t.api('/v1/audit/verify')).body);
    assert.equal(broken.ok, false);
    assert.equal(broken.brokenAt, 3);
    assert.match(broken.reason!, /row 3/);
  });

  test('GET /healthz → ok; /readyz → ready; /metrics → Prometheus text', async () => {
    assert.deepEqual((await t.api('/healthz', { token: null })).body, { status: 'ok' });
    assert.deepEqual((await t.api('/readyz', { token: null })).body, { status: 'ready' });
    const m = await t.api('/metrics', { token: null });
    assert.equal(m.status, 200);
    assert.match(m.headers.get('content-type') ?? '', /^text\/plain/);
    assert.match(m.body, /^# HELP process_cpu_user_seconds_total/m);
    // the in-memory store's consumeOnce table, at least its first 1,024 slots of 24 bytes
    const once = /^portcullis_ephemeral_once_bytes (\d+)$/m.exec(m.body);
    assert.ok(once, 'the nonce table is measured');
    assert.ok(Number(once[1]) >= 1024 * 24, once[1]);
    // the SQLite store's group commits: the node has written (keys, settings, this test's apps)
    const commits = /^portcullis_sqlite_commits_total (\d+)$/m.exec(m.body);
    const statements = /^portcullis_sqlite_committed_statements_total (\d+)$/m.exec(m.body);
    assert.ok(commits && statements, 'group commits are counted');
    assert.ok(Number(commits[1]) > 0, commits[1]);
    assert.ok(Number(statements[1]) >= Number(commits[1]), `${statements[1]} statements in ${commits[1]} commits`);
  });

  test('/readyz → 503 when a readiness check throws (store down)', async () => {
    const plane = buildAdminPlane({ services: t.node.services, adminToken: t.adminToken, health: { ready: async () => Promise.reject(new Error('store down')) } });
    try {
      const res = await plane.inject({ method: 'GET', url: '/readyz' });
      assert.equal(res.statusCode, 503);
      assert.match(String(res.headers['content-type']), /^application\/problem\+json/);
      assert.deepEqual(res.json(), { type: 'urn:portcullis:error:unavailable', title: ERRORS.unavailable.meaning, status: 503, code: 'unavailable', detail: 'internal error' });
      assert.ok(!res.body.includes('store down'), 'the cause stays in the log');
    } finally {
      await plane.close();
    }
  });

  test('GET /openapi.json: OpenAPI 3.1.0, bearer security scheme, problem+json schema, every $ref resolves', async () => {
    const res = await t.api('/openapi.json', { token: null });
    assert.equal(res.status, 200);
    const doc = JSON.parse(JSON.stringify(res.body));
    assert.equal(doc.openapi, '3.1.0');
    assert.deepEqual(doc.components.securitySchemes.adminToken, { type: 'http', scheme: 'bearer', description: doc.components.securitySchemes.adminToken.description });
    assert.deepEqual(Object.keys(doc.components.schemas.Problem.properties).sort(), ['code', 'detail', 'errors', 'instance', 'status', 'title', 'type']);
    for (const name of [...Object.keys(requestSchemas), ...Object.keys(responseSchemas)]) assert.ok(doc.components.schemas[name], name);
    const refs = [...JSON.stringify(doc).matchAll(/"\$ref":"#\/components\/schemas\/([^"]+)"/g)].map((m) => m[1]!);
    assert.ok(refs.length > 20);
    for (const r of refs) assert.ok(doc.components.schemas[r], `dangling $ref ${r}`);
    const ids = new Set<string>();
    for (const [path, item] of Object.entries<Record<string, any>>(doc.paths)) {
      for (const [method, op] of Object.entries<any>(item)) {
        assert.ok(!ids.has(op.operationId), `duplicate operationId ${op.operationId}`);
        ids.add(op.operationId);
        if (path.startsWith('/v1/')) {
          assert.deepEqual(op.security, [{ adminToken: [] }], `${method} ${path}`);
          assert.equal(op.responses['401'].content['application/problem+json'].schema.$ref, '#/components/schemas/Problem');
          // a change can be stored yet unconfirmed (audit.unavailable, change.not-in-force): the document says so
          assert.match(op.responses['503'].description, method === 'get' ? /store\.unavailable/ : /audit\.unavailable.*change\.not-in-force/, `${method} ${path} lists 503`);
        } else assert.deepEqual(op.security, [], `${method} ${path} is open`);
      }
    }
  });

  test('the OpenAPI document lists exactly the routes fastify registered (nothing missing, nothing extra)', async () => {
    const plane = buildAdminPlane({ services: t.node.services, adminToken: t.adminToken, health: { ready: async () => undefined } });
    try {
      await plane.ready();
      const served = registeredRoutes(plane.printRoutes({ commonPrefix: false }));
      const doc = (await plane.inject({ method: 'GET', url: '/openapi.json' })).json() as { paths: Record<string, Record<string, unknown>> };
      const documented = Object.entries(doc.paths)
        .flatMap(([p, item]) => Object.keys(item).map((m) => `${m.toUpperCase()} ${p.replace(/\{([^}]+)\}/g, ':$1')}`))
        .sort();
      assert.ok(served.length >= 19, served.join('\n'));
      assert.deepEqual(documented, served);
      for (const expected of ['POST /v1/apps', 'PUT /v1/apps/:clientId/jwks', 'GET /v1/audit/verify', 'POST /v1/keys/rotate', 'GET /metrics']) assert.ok(served.includes(expected), expected);
    } finally {
      await plane.close();
    }
  });
});
