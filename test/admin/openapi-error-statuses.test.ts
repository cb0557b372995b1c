/**
 * The OpenAPI document names every status an operation answers to a malformed request:
 * a path parameter with a control character or bad percent-encoding (400), one too long
 * for the router (414), a query parameter the route does not take (400), a body that is
 * not JSON or not what the route takes (400), not `application/json` (415) or over the
 * limit (413). A client generated from the document must not meet an undocumented status.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { startTestNode, type TestNode } from './node.js';

interface Operation {
  operationId: string;
  responses: Record<string, unknown>;
  requestBody?: unknown;
}

describe('admin API: documented statuses for malformed requests', () => {
  let t: TestNode;
  let ops: Array<{ method: string; path: string; op: Operation }>;
  before(async () => {
    t = await startTestNode();
    const doc = (await t.api('/openapi.json', { token: null })).body as { paths: Record<string, Record<string, Operation>> };
    ops = Object.entries(doc.paths).flatMap(([path, item]) => Object.entries(item).map(([method, op]) => ({ method: method.toUpperCase(), path, op })));
  });
  after(() => t.close());

  const check = async (what: string, make: (o: { method: string; path: string; op: Operation }) => { url: string; init: Parameters<TestNode['api']>[1] } | undefined) => {
    const undocumented: string[] = [];
    let tried = 0;
    for (const o of ops) {
      if (o.op.operationId === 'rotateKeys') continue;
      const req = make(o);
      if (req === undefined) continue;
      tried++;
      const r = await t.api(req.url, { method: o.method, ...req.init });
      if (!(String(r.status) in o.op.responses)) undocumented.push(`${o.method} ${o.path}: ${what} → ${r.status} ${r.body?.code ?? ''} (documented: ${Object.keys(o.op.responses).join(', ')})`);
    }
    assert.ok(tried > 0, what);
    assert.deepEqual(undocumented, []);
  };
  const withParam = (path: string, value: string) => path.replace(/\{[^}]+\}/g, value);

  test('a path parameter with a control character (400 request.invalid) or bad percent-encoding (400 request.malformed) is documented', async () => {
    await check('%01 in a path parameter', (o) => (o.path.includes('{') ? { url: withParam(o.path, 'x%01'), init: {} } : undefined));
    await check('%ZZ in a path parameter', (o) => (o.path.includes('{') ? { url: withParam(o.path, '%ZZ'), init: {} } : undefined));
  });

  test('a path parameter over the router limit (414 request.malformed) is documented', async () => {
    await check('a 300-character path parameter', (o) => (o.path.includes('{') ? { url: withParam(o.path, 'a'.repeat(300)), init: {} } : undefined));
  });

  test('an unknown query parameter on an admin route (400 request.invalid) is documented', async () => {
    await check('?zzz=1', (o) => (o.path.startsWith('/v1/') ? { url: `${withParam(o.path, 'x')}?zzz=1`, init: {} } : undefined));
  });

  test('a change whose body is not JSON (400), not application/json (415) or too large (413) is documented', async () => {
    const changes = (o: { method: string; path: string }) => o.method !== 'GET' && o.path.startsWith('/v1/');
    await check('body "{"', (o) => (changes(o) ? { url: withParam(o.path, 'x'), init: { body: '{' } } : undefined));
    await check('a text/plain body', (o) => (changes(o) ? { url: withParam(o.path, 'x'), init: { body: 'x', headers: { 'content-type': 'text/plain' } } } : undefined));
    await check('a form body', (o) => (changes(o) ? { url: withParam(o.path, 'x'), init: { body: 'a=1', headers: { 'content-type': 'application/x-www-form-urlencoded' } } } : undefined));
    await check('a 9 MiB body', (o) => (changes(o) ? { url: withParam(o.path, 'x'), init: { body: JSON.stringify({ pad: 'x'.repeat(9 * 1024 * 1024) }) } } : undefined));
  });
});
