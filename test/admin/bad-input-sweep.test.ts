/**
 * Every admin route, walked with malformed input: a body that is not JSON, JSON of the
 * wrong type, a wrong content type, an empty body, an unknown field, a 1 MiB field, path
 * ids that are malformed, too long or percent-encoded slashes, unknown and duplicate query
 * parameters, out-of-range page sizes and cursors, integers that are not plain decimal digits,
 * duplicated JSON keys, a charset other than UTF-8, a body on GET and DELETE, and every method
 * a path does not serve (405 with Allow). Each answer is
 * a 4xx problem+json with a typed code and no stack, path or framework text, and nothing is
 * written (the audit trail, which records every change, gains no change). The table below
 * must name every registered route, so a new route is swept too.
 */
import assert from 'node:assert/strict';
import { request } from 'node:http';
import { after, before, describe, test } from 'node:test';
import { startTestNode, type TestNode } from './node.js';

type Ids = Record<string, string>;
interface RouteCase {
  /** Path parameters that name existing objects, so a mutation reaches the route's own checks. */
  params?: (ids: Ids) => Record<string, string>;
  /** Lists paged with `limit` and `after`. */
  paged?: boolean;
}

const app = (ids: Ids) => ({ clientId: ids.app! });
const user = (ids: Ids) => ({ id: ids.user! });
const key = () => ({ name: 'sweep' });
const serial = (ids: Ids) => ({ serial: ids.serial! });

/** Every route of the admin plane; the test fails when the OpenAPI document (built from the route table) has one more or one less. */
const ROUTES: Record<string, RouteCase> = {
  'GET /healthz': {},
  'GET /readyz': {},
  'GET /metrics': {},
  'GET /openapi.json': {},
  'POST /v1/apps': {},
  'GET /v1/apps': { paged: true },
  'GET /v1/apps/{clientId}': { params: app },
  'POST /v1/apps/{clientId}/disable': { params: app },
  'POST /v1/apps/{clientId}/enable': { params: app },
  'POST /v1/apps/{clientId}/revoke-tokens': { params: app },
  'POST /v1/apps/{clientId}/rotate-secret': { params: app },
  'PUT /v1/apps/{clientId}/jwks': { params: app },
  'PUT /v1/apps/{clientId}/served-audiences': { params: app },
  'POST /v1/tokens/revoke': {},
  'POST /v1/tokens/introspect': {},
  'GET /v1/keys': {},
  'POST /v1/keys/rotate': {},
  'GET /v1/audit': {},
  'GET /v1/audit/tail': {},
  'GET /v1/audit/verify': {},
  'POST /v1/apps/{clientId}/keys': { params: app },
  'GET /v1/apps/{clientId}/keys': { params: app, paged: true },
  'POST /v1/apps/{clientId}/keys/{keyid}/revoke': { params: (ids) => ({ clientId: ids.app!, keyid: ids.appKey! }) },
  'POST /v1/webhooks': {},
  'GET /v1/webhooks': { paged: true },
  'GET /v1/webhooks/{id}': { params: (ids) => ({ id: ids.webhook! }) },
  'POST /v1/webhooks/{id}/enable': { params: (ids) => ({ id: ids.webhook! }) },
  'DELETE /v1/webhooks/{id}': { params: (ids) => ({ id: ids.webhook! }) },
  'GET /v1/webhooks/{id}/deliveries': { params: (ids) => ({ id: ids.webhook! }), paged: true },
  'POST /v1/apps/{clientId}/encryption-keys': { params: app },
  'GET /v1/apps/{clientId}/encryption-keys': { params: app, paged: true },
  'POST /v1/apps/{clientId}/encryption-keys/{kid}/revoke': { params: (ids) => ({ clientId: ids.app!, kid: ids.encKey! }) },
  'POST /v1/transit/keys': {},
  'GET /v1/transit/keys': { paged: true },
  'GET /v1/transit/keys/{name}': { params: key },
  'POST /v1/transit/keys/{name}/rotate': { params: key },
  'POST /v1/transit/keys/{name}/config': { params: key },
  'POST /v1/transit/encrypt/{name}': { params: key },
  'POST /v1/transit/decrypt/{name}': { params: key },
  'POST /v1/transit/rewrap/{name}': { params: key },
  'POST /v1/transit/datakey/{name}': { params: key },
  'POST /v1/transit/sign/{name}': { params: key },
  'POST /v1/transit/verify/{name}': { params: key },
  'POST /v1/transit/hmac/{name}': { params: key },
  'GET /v1/ca': {},
  'POST /v1/certificates': {},
  'GET /v1/certificates': { paged: true },
  'GET /v1/certificates/{serial}': { params: serial },
  'POST /v1/certificates/{serial}/renew': { params: serial },
  'POST /v1/certificates/{serial}/revoke': { params: serial },
  'GET /v1/lockouts/addresses/{address}': { params: () => ({ address: '192.0.2.7' }) },
  'POST /v1/lockouts/addresses/{address}/unlock': { params: () => ({ address: '192.0.2.7' }) },
  'POST /v1/users': {},
  'GET /v1/users': { paged: true },
  'GET /v1/users/{id}': { params: user },
  'POST /v1/users/{id}/disable': { params: user },
  'POST /v1/users/{id}/enable': { params: user },
  'POST /v1/users/{id}/reset-mfa': { params: user },
  'POST /v1/users/{id}/end-sessions': { params: user },
  'POST /v1/users/{id}/unlock': { params: user },
  'POST /v1/users/{id}/invite': { params: user },
  'DELETE /v1/users/{id}': { params: user },
  'GET /v1/users/{id}/sessions': { params: user, paged: true },
  'DELETE /v1/users/{id}/sessions/{sid}': { params: (ids) => ({ id: ids.user!, sid: 'sweep-session' }) },
};

interface Answer {
  status: number;
  type: string;
  text: string;
  allow: string | undefined;
}

/** A raw HTTP/1.1 request (fetch refuses a body on GET): the admin token, the given headers and body. */
function send(base: string, token: string, method: string, path: string, body?: string, headers: Record<string, string> = {}): Promise<Answer> {
  const u = new URL(base);
  return new Promise((resolve, reject) => {
    const h: Record<string, string> = { authorization: `Bearer ${token}`, ...headers };
    if (body !== undefined) {
      h['content-type'] ??= 'application/json';
      h['content-length'] = String(Buffer.byteLength(body));
    }
    const req = request({ host: u.hostname, port: u.port, method, path, headers: h }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (text += c));
      res.on('end', () => resolve({ status: res.statusCode!, type: String(res.headers['content-type'] ?? ''), text, allow: res.headers.allow }));
    });
    req.on('error', reject);
    req.end(body);
  });
}

/** Integers Number() reads but that are not plain decimal digits (as sent in a query, percent-encoded where needed): refused. */
const NOT_DECIMAL = ['0x10', '0b1', '0o7', '1e2', '5.0', '%205', '5%20', '+5', '%2B5', '05', '007', '%E2%80%895', '%D9%A5'];

const LEAKS = /\bat [^\n]*:\d+:\d+|node_modules|\/src\/|\.ts\b|FST_|TypeError|ReferenceError|SyntaxError|stack/;

describe('admin API: malformed input on every route', () => {
  let t: TestNode;
  let ids: Ids;
  let routes: Array<{ method: string; path: string; case: RouteCase }>;
  const failures: string[] = [];

  /** Sends one malformed request and records what is wrong with the answer: not 4xx, not problem+json, untyped, or leaking. */
  const expectRefused = async (what: string, method: string, path: string, body?: string, headers?: Record<string, string>, expect?: { status?: number; code?: string; names?: string }) => {
    const r = await send(t.admin, t.adminToken, method, path, body, headers);
    const label = `${method} ${path.length > 90 ? `${path.slice(0, 90)}…` : path} with ${what}`;
    if (r.status < 400 || r.status > 499) return void failures.push(`${label} → ${r.status} ${r.text.slice(0, 160)}`);
    if (!r.type.startsWith('application/problem+json')) return void failures.push(`${label} → ${r.status} ${r.type} (not problem+json)`);
    const p = JSON.parse(r.text) as { code?: unknown; status?: unknown; detail?: unknown; errors?: Array<{ path: string }> };
    if (typeof p.code !== 'string' || p.status !== r.status || typeof p.detail !== 'string') failures.push(`${label} → untyped problem ${r.text.slice(0, 160)}`);
    if (LEAKS.test(r.text) || r.text.includes(t.adminToken)) failures.push(`${label} → leaks ${r.text.slice(0, 200)}`);
    if (expect?.status !== undefined && r.status !== expect.status) failures.push(`${label} → ${r.status}, expected ${expect.status}: ${r.text.slice(0, 160)}`);
    if (expect?.code !== undefined && p.code !== expect.code) failures.push(`${label} → ${String(p.code)}, expected ${expect.code}: ${String(p.detail).slice(0, 160)}`);
    if (expect?.names !== undefined && !String(p.detail).includes(expect.names)) failures.push(`${label} → detail does not name ${expect.names}: ${String(p.detail).slice(0, 160)}`);
  };
  const auditHead = async (): Promise<number> => {
    const tail = await t.api('/v1/audit/tail?limit=1');
    return (tail.body.rows as Array<{ seq: number }>).at(-1)?.seq ?? 0;
  };
  const fill = (r: { path: string; case: RouteCase }, override?: (name: string, value: string) => string): string => {
    const values = r.case.params?.(ids) ?? {};
    return r.path.replace(/\{(\w+)\}/g, (_, name: string) => {
      const v = values[name];
      if (v === undefined) throw new Error(`${r.path}: no value for {${name}}`);
      return override ? override(name, v) : encodeURIComponent(v);
    });
  };

  before(async () => {
    t = await startTestNode();
    const a = await t.api('/v1/apps', { body: { name: 'sweep', audiences: ['api'] } });
    const u = await t.api('/v1/users', { body: { email: 'sweep@example.test', invite: true } });
    const w = await t.api('/v1/webhooks', { body: { url: 'https://hooks.example.test/x', events: ['*'] } });
    const c = await t.api('/v1/certificates', { body: { profile: 'server', dns_names: ['sweep.example.test'] } });
    const k = await t.api(`/v1/apps/${a.body.client_id}/keys`, { body: { type: 'hmac' } });
    const e = await t.api(`/v1/apps/${a.body.client_id}/encryption-keys`, { body: { type: 'symmetric' } });
    const x = await t.api('/v1/transit/keys', { body: { name: 'sweep' } });
    assert.deepEqual([a, u, w, c, k, e, x].map((r) => r.status), [201, 201, 201, 201, 201, 201, 201]);
    ids = { app: a.body.client_id, user: u.body.user.id, webhook: w.body.webhook.id, serial: c.body.serial, appKey: k.body.key.keyid, encKey: e.body.key.kid };
    const doc = (await t.api('/openapi.json', { token: null })).body as { paths: Record<string, Record<string, unknown>> };
    const served = Object.entries(doc.paths).flatMap(([path, item]) => Object.keys(item).map((m) => `${m.toUpperCase()} ${path}`));
    assert.deepEqual([...served].sort(), Object.keys(ROUTES).sort(), 'every registered route has a row in ROUTES (and every row a route)');
    routes = served.map((s) => {
      const [method, path] = s.split(' ') as [string, string];
      return { method, path, case: ROUTES[s]! };
    });
  });
  after(() => t.close());

  test('every registered admin route is in the sweep table', () => {
    assert.equal(routes.length, Object.keys(ROUTES).length);
  });

  test('a route that takes no body accepts none, or {}; a field, an array or null in its body → 400 request.invalid naming it', async () => {
    assert.equal((await t.api(`/v1/apps/${ids.app}/enable`, { method: 'POST' })).status, 200);
    assert.equal((await t.api(`/v1/apps/${ids.app}/enable`, { body: {} })).status, 200);
    const head = await auditHead();
    const field = await t.api(`/v1/apps/${ids.app}/disable`, { body: { reason: 'x' } });
    assert.equal(field.status, 400);
    assert.equal(field.body.code, 'request.invalid');
    assert.deepEqual(field.body.errors, [{ path: 'reason', message: 'unknown key' }]);
    const array = await t.api(`/v1/webhooks/${ids.webhook}`, { method: 'DELETE', body: [] });
    assert.equal(array.status, 400);
    assert.equal(array.body.code, 'request.invalid');
    assert.equal(array.body.errors[0].path, 'body');
    const get = await send(t.admin, t.adminToken, 'GET', `/v1/apps/${ids.app}`, '{"x":1}');
    assert.equal(get.status, 400);
    assert.deepEqual(JSON.parse(get.text).errors, [{ path: 'body', message: 'GET requests take no body' }]);
    assert.equal((await t.api(`/v1/apps/${ids.app}`)).body.app.status, 'active');
    assert.equal(await auditHead(), head);
  });

  test('a route without query parameters refuses one, as the paged lists do → 400 request.invalid naming it', async () => {
    const head = await auditHead();
    for (const [method, path] of [['GET', `/v1/apps/${ids.app}?fields=name`], ['POST', '/v1/keys/rotate?dry_run=1'], ['POST', `/v1/users/${ids.user}/disable?notify`], ['GET', '/v1/apps?limit=5&dry_run']] as const) {
      const r = await t.api(path, { method });
      assert.equal(r.status, 400, `${method} ${path}`);
      assert.equal(r.body.code, 'request.invalid');
      assert.match(r.body.errors[0].path, /^(fields|dry_run|notify)$/);
      assert.equal(r.body.errors[0].message, 'unknown key');
    }
    assert.equal((await t.api(`/v1/users/${ids.user}`)).body.user.status, 'active');
    assert.equal(await auditHead(), head);
  });

  test('a body that matches none of the shapes a route takes names the field that is wrong, not just "body: Invalid input"', async () => {
    const cases: Array<[string, unknown, Array<{ path: string; message: string }>]> = [
      ['/v1/transit/encrypt/sweep', { batch_input: [{ plaintext: 'AA==' }, { plaintext: 5 }] }, [{ path: 'batch_input[1].plaintext', message: 'Invalid input: expected string, received number' }]],
      ['/v1/transit/datakey/sweep', { bits: 100 }, [{ path: 'bits', message: 'Invalid input: expected 128 or expected 256 or expected 512' }]],
      ['/v1/transit/encrypt/sweep', [], [{ path: 'body', message: 'Invalid input: expected object, received array' }]],
      [`/v1/apps/${ids.app}/keys`, { type: 'hmac', keyid: 'ok', zzz: 1 }, [{ path: 'zzz', message: 'unknown key' }]],
      [`/v1/apps/${ids.app}/encryption-keys`, { jwk: { kty: 'EC' }, alg: 'nope' }, [{ path: 'alg', message: 'Invalid option: expected one of "dir"|"A256KW"|"ECDH-ES+A256KW"|"ECDH-ES"|"RSA-OAEP-256"' }]],
    ];
    for (const [path, body, errors] of cases) {
      const r = await t.api(path, { body });
      assert.equal(r.status, 400, path);
      assert.equal(r.body.code, 'request.invalid');
      assert.deepEqual(r.body.errors, errors, `${path} ${JSON.stringify(body)}`);
    }
  });

  test('integer query parameters are plain decimal digits (no sign, spaces, exponent, base prefix or leading zero) → otherwise 400 request.invalid naming the parameter', async () => {
    for (const [path, name] of [['/v1/audit', 'after'], ['/v1/audit', 'limit'], ['/v1/audit/tail', 'limit'], ['/v1/certificates', 'limit'], ['/v1/apps', 'limit']] as const) {
      for (const q of NOT_DECIMAL) await expectRefused(`?${name}=${q}`, 'GET', `${path}?${name}=${q}`, undefined, undefined, { status: 400, code: 'request.invalid', names: `${name}: expected` });
    }
    assert.deepEqual(failures.splice(0), []);
    assert.equal((await t.api('/v1/audit?after=0&limit=1')).status, 200);
    assert.equal((await t.api('/v1/audit/tail?limit=1000')).body.rows.length > 0, true);
    const one = await t.api('/v1/apps?limit=1');
    assert.equal(one.status, 200);
    assert.equal(one.body.apps.length, 1);
    const bad = await t.api('/v1/apps?limit=05');
    assert.deepEqual(bad.body.errors, [{ path: 'limit', message: 'expected a decimal integer: digits only, without sign, spaces or leading zeros' }]);
  });

  test('duplicated JSON keys are refused at any depth, naming the key; the body is not applied', async () => {
    const head = await auditHead();
    const before = (await t.api('/v1/apps?limit=1000')).body.apps.length;
    const r = await t.api('/v1/apps', { body: '{"name":"first","audiences":["api"],"name":"second"}' });
    assert.equal(r.status, 400);
    assert.equal(r.body.code, 'request.invalid');
    assert.deepEqual(r.body.errors, [{ path: 'name', message: 'duplicate key' }]);
    assert.equal(r.body.detail, 'name: duplicate key');
    const nested = await t.api(`/v1/apps/${ids.app}/jwks`, { method: 'PUT', body: '{"keys":[{"kty":"EC","crv":"P-256","kty":"OKP"}]}' });
    assert.equal(nested.status, 400);
    assert.deepEqual(nested.body.errors, [{ path: 'keys[0].kty', message: 'duplicate key' }]);
    assert.equal(await auditHead(), head);
    assert.equal((await t.api('/v1/apps?limit=1000')).body.apps.length, before);
    // the same key in two objects, an escaped quote or backslash in a string: not a duplicate
    const twice = await t.api('/v1/transit/encrypt/sweep', { body: '{"batch_input":[{"plaintext":"AA=="},{"plaintext":"AA==","context":"AA=="}]}' });
    assert.equal(twice.status, 200, JSON.stringify(twice.body));
    assert.equal(twice.body.batch_results.length, 2);
    const escaped = await t.api('/v1/tokens/introspect', { body: '{"token":"q\\",\\"token\\":\\\\"}' });
    assert.equal(escaped.status, 200, JSON.stringify(escaped.body));
    assert.deepEqual(escaped.body, { active: false });
  });

  test('a JSON body in UTF-8 is read (charset utf-8 in any case, quoted or not); any other charset → 415 request.unsupported-media-type naming it', async () => {
    for (const type of ['application/json; charset=utf-8', 'application/json;charset=UTF-8', 'application/json; charset="Utf-8"', 'Application/JSON']) {
      assert.equal((await t.api(`/v1/apps/${ids.app}/enable`, { body: '{}', headers: { 'content-type': type } })).status, 200, type);
    }
    for (const [type, named] of [['application/json; charset=utf-16', 'utf-16'], ['application/json; charset=UTF-16LE', 'utf-16le'], ['application/json; charset=us-ascii', 'us-ascii'], ['application/json; charset=utf-8; charset=latin1', 'latin1']] as const) {
      const r = await t.api(`/v1/apps/${ids.app}/enable`, { body: '{}', headers: { 'content-type': type } });
      assert.equal(r.status, 415, type);
      assert.equal(r.body.code, 'request.unsupported-media-type');
      assert.equal(r.body.detail, `charset ${named} is not supported: send JSON in UTF-8`);
    }
  });

  test('a method a path does not serve → 405 method.not-allowed with Allow naming those it does; an unknown path stays 404; without the admin token, 401 as before', async () => {
    const byPath = new Map<string, Set<string>>();
    for (const r of routes) {
      const methods = byPath.get(r.path) ?? new Set<string>();
      methods.add(r.method);
      if (r.method === 'GET') methods.add('HEAD');
      byPath.set(r.path, methods);
    }
    const head = await auditHead();
    for (const [path, served] of byPath) {
      const url = fill({ path, case: routes.find((r) => r.path === path)!.case });
      const allow = [...served].sort().join(', ');
      for (const method of ['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS']) {
        if (served.has(method)) continue;
        const a = await send(t.admin, t.adminToken, method, url, method === 'HEAD' ? undefined : '{}');
        if (a.status !== 405 || a.allow !== allow) failures.push(`${method} ${path} → ${a.status} Allow: ${a.allow}, expected 405 Allow: ${allow}`);
        if (method !== 'HEAD') await expectRefused('a method it does not serve', method, url, '{}', undefined, { status: 405, code: 'method.not-allowed', names: `${method} is not allowed on ${url}` });
      }
    }
    assert.deepEqual(failures.splice(0), []);
    const r = await t.api('/v1/apps', { method: 'DELETE' });
    assert.equal(r.status, 405);
    assert.equal(r.headers.get('allow'), 'GET, HEAD, POST');
    assert.deepEqual(r.body, { type: 'urn:portcullis:error:method.not-allowed', title: 'The method is not allowed on this resource; the `Allow` header lists the methods it is served with.', status: 405, code: 'method.not-allowed', detail: 'DELETE is not allowed on /v1/apps: use GET, HEAD or POST' });
    assert.equal(r.headers.get('cache-control'), 'no-store');
    for (const path of ['/v1/nope', '/v1/apps/x/nope', '/v1/apps/', '/nope']) {
      const n = await t.api(path, { method: 'PATCH' });
      assert.equal(n.status, 404, path);
      assert.equal(n.body.code, 'not-found');
      assert.equal(n.headers.get('allow'), null);
    }
    assert.equal(await auditHead(), head);
    // without the admin token a wrong method gets what an unknown path gets: the route map is not told
    const unknown = await t.api('/v1/nope', { method: 'PATCH', token: null });
    assert.equal(unknown.status, 401);
    for (const [method, path] of [['DELETE', '/v1/apps'], ['PATCH', `/v1/users/${ids.user}`], ['GET', '/v1/keys/rotate'], ['OPTIONS', '/v1/apps']] as const) {
      const anon = await t.api(path, { method, token: null });
      assert.equal(anon.status, 401, `${method} ${path}`);
      assert.equal(anon.headers.get('allow'), null);
      assert.deepEqual(anon.body, { ...unknown.body });
    }
  });

  test('malformed bodies, path ids and queries on every route → 4xx problem+json, typed, no leak, nothing written', async () => {
    const head = await auditHead();
    const big = 'a'.repeat(1 << 20);
    for (const r of routes) {
      const url = fill(r);
      const v1 = r.path.startsWith('/v1/');
      const write = r.method !== 'GET';
      if (write) {
        await expectRefused('a body that is not JSON', r.method, url, '{"a":', undefined, { status: 400, code: 'request.malformed' });
        await expectRefused('an empty JSON body', r.method, url, '', undefined, { status: 400, code: 'request.malformed' });
        await expectRefused('a form body', r.method, url, 'a=1', { 'content-type': 'application/x-www-form-urlencoded' }, { status: 415, code: 'request.unsupported-media-type' });
        await expectRefused('an XML body', r.method, url, '<a/>', { 'content-type': 'application/xml' }, { status: 415 });
        await expectRefused('a __proto__ key', r.method, url, '{"__proto__":{"admin":true}}', undefined, { status: 400 });
        await expectRefused('a body nested 10 000 deep', r.method, url, `${'['.repeat(10_000)}${']'.repeat(10_000)}`, undefined, { status: 400 });
        await expectRefused('a 1 MiB field', r.method, url, JSON.stringify({ zzz: big }));
        await expectRefused('a JSON array', r.method, url, '[]', undefined, { status: 400, code: 'request.invalid' });
        await expectRefused('a JSON string', r.method, url, '"x"', undefined, { status: 400, code: 'request.invalid' });
        await expectRefused('JSON null', r.method, url, 'null', undefined, { status: 400, code: 'request.invalid' });
        await expectRefused('a text/plain body', r.method, url, '{}', { 'content-type': 'text/plain' }, { code: 'request.invalid' });
        await expectRefused('an unknown field', r.method, url, '{"zzz":1}', undefined, { status: 400, code: 'request.invalid', names: 'zzz' });
        await expectRefused('a duplicated key', r.method, url, '{"zzz":1,"zzz":2}', undefined, { status: 400, code: 'request.invalid', names: 'zzz: duplicate key' });
        await expectRefused('a duplicated key spelt with an escape', r.method, url, '{"zzz":1,"z\\u007az":2}', undefined, { status: 400, code: 'request.invalid', names: 'zzz: duplicate key' });
        await expectRefused('a duplicated nested key', r.method, url, '{"a":{"b":[1,{"c":1,"d":{},"c":2}]}}', undefined, { status: 400, code: 'request.invalid', names: 'a.b[1].c: duplicate key' });
        await expectRefused('charset=utf-16', r.method, url, '{}', { 'content-type': 'application/json; charset=utf-16' }, { status: 415, code: 'request.unsupported-media-type', names: 'utf-16' });
        await expectRefused('charset=ISO-8859-1', r.method, url, '{}', { 'content-type': 'application/json;charset="ISO-8859-1"' }, { status: 415, code: 'request.unsupported-media-type', names: 'iso-8859-1' });
      } else if (v1) {
        await expectRefused('a JSON body on GET', r.method, url, '{"limit":1}', undefined, { status: 400, code: 'request.invalid' });
      }
      if (r.case.params) {
        const first = r.path.match(/\{(\w+)\}/)![1]!;
        const only = (value: string) => fill(r, (name, v) => (name === first ? value : encodeURIComponent(v)));
        await expectRefused('a NUL in a path id', r.method, only('x%00y'), write ? '{}' : undefined, undefined, { status: 400, code: 'request.invalid', names: first });
        await expectRefused('a lone surrogate (invalid UTF-8) in a path id', r.method, only('%ED%A0%80'), write ? '{}' : undefined, undefined, { status: 400, code: 'request.malformed' });
        await expectRefused('bad percent-encoding in a path id', r.method, only('%ZZ'), write ? '{}' : undefined, undefined, { status: 400, code: 'request.malformed' });
        await expectRefused('a 300-character path id', r.method, only('a'.repeat(300)), write ? '{}' : undefined, undefined, { status: 414, code: 'request.malformed' });
        await expectRefused('a percent-encoded slash in a path id', r.method, only('..%2F..%2Fkeys'), write ? '{}' : undefined);
      }
      if (r.case.paged) {
        for (const q of ['limit=0', 'limit=-5', 'limit=1001', 'limit=1.5', 'limit=NaN', 'limit=Infinity', 'limit=1e400', 'limit=1&limit=2', 'limit[a]=1', `after=${'9'.repeat(30)}.x!`, `after=${'x'.repeat(300)}`, 'after=a&after=b']) {
          await expectRefused(`?${q.slice(0, 40)}`, 'GET', `${url}?${q}`, undefined, undefined, { status: 400, code: 'request.invalid' });
        }
        for (const q of NOT_DECIMAL) await expectRefused(`?limit=${q}`, 'GET', `${url}?limit=${q}`, undefined, undefined, { status: 400, code: 'request.invalid', names: 'limit: expected' });
      }
      if (v1) {
        await expectRefused('an unknown query parameter', r.method, `${url}?zzz=1`, write ? '{}' : undefined, undefined, { status: 400, code: 'request.invalid', names: 'zzz' });
        await expectRefused('an unknown query parameter without a value', r.method, `${url}?zzz`, write ? '{}' : undefined, undefined, { status: 400, code: 'request.invalid', names: 'zzz' });
      }
    }
    assert.deepEqual(failures, []);
    // a refused transit operation is audited with its reason (transit-ops.ts); no change is
    const changes = ((await t.api(`/v1/audit?after=${head}&limit=1000`)).body.rows as Array<{ reason: string | null }>).filter((row) => row.reason === null);
    assert.deepEqual(changes, [], 'a refused request wrote nothing');
  });
});
