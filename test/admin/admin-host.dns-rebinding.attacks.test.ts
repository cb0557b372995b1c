/**
 * DNS rebinding against the admin plane: a web page at attacker.example re-points its name
 * to 127.0.0.1, and the victim's browser, still calling attacker.example (same origin for
 * it), reaches the admin plane on loopback and reads what it answers without a token
 * (`/metrics`, health, the OpenAPI document). Every such request carries the attacker's
 * name in Host: the admin plane answers only a Host that is an IP literal, `localhost`,
 * the name of `listen.admin`, or a name in `admin.allowedHosts`; anything else is refused
 * with 400 `admin.host-not-allowed` before any route runs.
 */
import { test, before, after, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import type { IncomingMessage } from 'node:http';
import type { PortcullisError } from '../../src/core/errors.js';
import { adminHostCheck } from '../../src/http/host-header.js';
import { rawRequest, statusOf } from '../gateway/helpers.js';
import { startTestNode, type TestNode } from './node.js';

let node: TestNode;

before(async () => {
  node = await startTestNode();
});
after(() => node?.close());

/** A node that also answers the names of `admin.allowedHosts`. */
async function listedNode(t: TestContext): Promise<TestNode> {
  const listed = await startTestNode({ config: 'admin: { allowedHosts: [admin.ops.example, Console.Example.Internal] }\n' });
  t.after(() => listed.close());
  return listed;
}

const portOf = (n: TestNode): number => Number(new URL(n.admin).port);

async function get(n: TestNode, path: string, headerLines: string, version = '1.1'): Promise<{ status: number; body: string }> {
  const raw = await rawRequest(portOf(n), `GET ${path} HTTP/${version}\r\n${headerLines}Connection: close\r\n\r\n`);
  return { status: Number(/^HTTP\/1\.[01] (\d{3})/.exec(raw)?.[1] ?? statusOf(raw)), body: raw.slice(raw.indexOf('\r\n\r\n') + 4) };
}

const codeOf = (body: string): unknown => (JSON.parse(body) as { code?: unknown }).code;

for (const path of ['/metrics', '/healthz', '/readyz', '/openapi.json', '/v1/apps', '/no-such-route']) {
  test(`attack: a rebound name in Host (attacker.example) reading ${path} → 400 admin.host-not-allowed`, async () => {
    const token = path.startsWith('/v1/') ? `Authorization: Bearer ${node.adminToken}\r\n` : '';
    const r = await get(node, path, `Host: attacker.example:${portOf(node)}\r\n${token}`);
    assert.equal(r.status, 400, r.body.slice(0, 200));
    assert.equal(codeOf(r.body), 'admin.host-not-allowed');
    assert.doesNotMatch(r.body, /process_cpu|"openapi":|"status":"(ok|ready|unavailable)"|"apps":/);
  });
}

test('attack: a name only ending like an allowed one, or localhost as a subdomain of the attacker, is refused', async (t) => {
  const listed = await listedNode(t);
  for (const host of ['localhost.attacker.example', 'evil-admin.ops.example', 'admin.ops.example.attacker.example']) {
    const r = await get(listed, '/metrics', `Host: ${host}\r\n`);
    assert.equal(r.status, 400, host);
    assert.equal(codeOf(r.body), 'admin.host-not-allowed', host);
  }
});

test('attack: a request without Host (HTTP/1.0) is refused: which name it was sent to cannot be checked', async () => {
  const r = await get(node, '/metrics', '', '1.0');
  assert.equal(r.status, 400, r.body.slice(0, 200));
  assert.equal(codeOf(r.body), 'admin.host-not-allowed');
});

test('attack: a malformed Host or two Host lines are refused with 400 request.malformed', async () => {
  for (const lines of ['Host: 127.1\r\n', 'Host: [\r\n', 'Host: localhost%2e\r\n', 'Host: localhost..\r\n', 'Host: .localhost\r\n', 'Host: 127.0.0.1\r\nHost: 127.0.0.1\r\n']) {
    const r = await get(node, '/metrics', lines);
    assert.equal(r.status, 400, lines);
    assert.equal(codeOf(r.body), 'request.malformed', lines);
  }
});

test('IP literals and localhost are served, with or without a port', async () => {
  const port = portOf(node);
  for (const host of [`127.0.0.1:${port}`, '127.0.0.1', `[::1]:${port}`, '10.1.2.3', `localhost:${port}`, 'LOCALHOST', 'localhost.']) {
    const r = await get(node, '/healthz', `Host: ${host}\r\n`);
    assert.equal(r.status, 200, `${host}: ${r.body.slice(0, 200)}`);
  }
  // the CLI and scripts call it through fetch at the listen address
  const apps = await node.api('/v1/apps');
  assert.equal(apps.status, 200);
});

test('a name listed in admin.allowedHosts is served (any case, any port)', async (t) => {
  const listed = await listedNode(t);
  for (const host of ['admin.ops.example', `ADMIN.ops.example:${portOf(listed)}`, 'console.example.internal:443']) {
    const r = await get(listed, '/healthz', `Host: ${host}\r\n`);
    assert.equal(r.status, 200, `${host}: ${r.body.slice(0, 200)}`);
  }
});

test('the host of listen.admin is answered too (the CLI calls the admin plane by it), whatever the port', () => {
  const check = adminHostCheck(['admin-box.example:8081']);
  const request = (host: string) => ({ rawHeaders: ['Host', host], headers: { host } }) as unknown as IncomingMessage;
  assert.doesNotThrow(() => check(request('admin-box.example:8081')));
  assert.doesNotThrow(() => check(request('Admin-Box.Example.')));
  assert.throws(() => check(request('admin-box.example.attacker.example:8081')), (e: PortcullisError) => e.code === 'admin.host-not-allowed' && e.status === 400);
});

test('attack: two Authorization lines are refused with 400 request.malformed, the right admin token first or second', async () => {
  const host = `127.0.0.1:${portOf(node)}`;
  for (const lines of [`Authorization: Bearer ${node.adminToken}\r\nAuthorization: Bearer wrong\r\n`, `Authorization: Bearer wrong\r\nAuthorization: Bearer ${node.adminToken}\r\n`]) {
    const r = await get(node, '/v1/apps', `Host: ${host}\r\n${lines}`);
    assert.equal(r.status, 400, r.body.slice(0, 200));
    assert.equal(codeOf(r.body), 'request.malformed');
  }
  const one = await get(node, '/v1/apps', `Host: ${host}\r\nAuthorization: Bearer ${node.adminToken}\r\n`);
  assert.equal(one.status, 200, one.body.slice(0, 200));
});
