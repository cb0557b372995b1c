/**
 * RFC 8705 §2.2 `self_signed_tls_client_auth` for client_credentials apps over the identity
 * plane's real TLS: a registered self-signed certificate that has expired, or is not valid
 * yet, authenticates the app at none of TokenService's endpoints (token, revocation,
 * introspection) — 401 invalid_client, audited as each endpoint's client-authentication
 * denial — while the app's current certificate does. And `PUT /v1/apps/{id}/jwks` (what
 * `portcullis app set-jwks` calls) keeps such an app's method, checking the new keys for it.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { decodeJwt } from 'jose';
import type { TestNode } from '../support/portcullis.js';
import { REDIRECT } from '../support/oidc-node.js';
import { jwkOf, selfSigned, type SelfSigned } from '../support/self-signed-certificate.js';
import { admin, echoUpstream, https, startTlsNode } from './helpers.js';

const HOUR = 3_600_000;

let node: TestNode;
let up: Awaited<ReturnType<typeof echoUpstream>>;
let ca: string;
let appId: string;
let current: SelfSigned;
let expired: SelfSigned;
let future: SelfSigned;

before(async () => {
  up = await echoUpstream();
  node = await startTlsNode(up.url);
  ca = node.services.pki.rootPem();
  const now = Date.now();
  current = await selfSigned('ss-cc', now - HOUR, now + 24 * HOUR);
  expired = await selfSigned('ss-cc', now - 3 * HOUR, now - HOUR);
  future = await selfSigned('ss-cc', now + HOUR, now + 3 * HOUR);
  const r = await admin(node, 'POST', '/v1/apps', { name: 'ss-cc', audiences: ['orders-api'], token_endpoint_auth_method: 'self_signed_tls_client_auth', jwks: { keys: [jwkOf(current), jwkOf(expired), jwkOf(future)] } });
  assert.equal(r.status, 201, JSON.stringify(r.json));
  appId = r.json.app.client_id;
});
after(async () => {
  await node?.stop();
  up?.server.close();
});

const thumb = (c: SelfSigned) => createHash('sha256').update(c.der).digest('base64url');

function post(path: string, fields: Record<string, string>, cert?: SelfSigned) {
  return https(`${node.urls.identity}${path}`, {
    ca,
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams(fields).toString(),
    ...(cert ? { cert: cert.cert, key: cert.key } : {}),
  });
}

const token = (clientId: string, cert?: SelfSigned) => post('/oauth2/token', { grant_type: 'client_credentials', client_id: clientId }, cert);

async function deniedRows(type: string, clientId = appId) {
  await node.services.audit.flush();
  return (await node.services.store.tailAudit(500)).filter((r) => r.type === type && r.reason === 'oauth.invalid-client' && r.clientId === clientId);
}

test('the current registered self-signed certificate authenticates at the token endpoint; the token is bound to it', async () => {
  const t = await token(appId, current);
  assert.equal(t.status, 200, t.text);
  assert.equal((decodeJwt(t.json.access_token) as { cnf?: Record<string, string> }).cnf?.['x5t#S256'], thumb(current));
});

for (const [path, type] of [
  ['/oauth2/token', 'token.denied'],
  ['/oauth2/revoke', 'token.revoke-refused'],
  ['/oauth2/introspect', 'token.introspect-refused'],
] as const) {
  test(`attack: a registered self-signed certificate that has expired, or is not valid yet, at ${path} → 401 invalid_client, audited as ${type}`, async () => {
    const own = await token(appId, current);
    assert.equal(own.status, 200, own.text);
    for (const [name, cert] of [['expired', expired], ['not valid yet', future]] as const) {
      const before = (await deniedRows(type)).length;
      const r = await post(path, { grant_type: 'client_credentials', token: own.json.access_token, client_id: appId }, cert);
      assert.equal(r.status, 401, `${name}: ${r.text}`);
      assert.equal(r.json.error, 'invalid_client', name);
      assert.match(String(r.headers['www-authenticate']), /^Basic /, name);
      const rows = await deniedRows(type);
      assert.equal(rows.length, before + 1, `${name}: not audited as ${type}`);
      assert.equal(rows.at(-1)!.data?.['endpoint'], path, name);
    }
    const ok = await post(path, { grant_type: 'client_credentials', token: own.json.access_token, client_id: appId }, current);
    assert.equal(ok.status, 200, ok.text);
  });
}

test('PUT jwks on a self_signed_tls_client_auth app keeps its method: the new certificate authenticates (token bound to it), the replaced one no longer does', async () => {
  const now = Date.now();
  const before = await selfSigned('ss-rotate', now - HOUR, now + 24 * HOUR);
  const next = await selfSigned('ss-rotate', now - HOUR, now + 48 * HOUR);
  const created = await admin(node, 'POST', '/v1/apps', { name: 'ss-rotate', audiences: ['orders-api'], token_endpoint_auth_method: 'self_signed_tls_client_auth', jwks: { keys: [jwkOf(before)] } });
  assert.equal(created.status, 201, JSON.stringify(created.json));
  const id: string = created.json.app.client_id;
  assert.equal((await token(id, before)).status, 200);

  const r = await admin(node, 'PUT', `/v1/apps/${id}/jwks`, { keys: [jwkOf(next)] });
  assert.equal(r.status, 200, JSON.stringify(r.json));
  assert.equal(r.json.app.token_endpoint_auth_method, 'self_signed_tls_client_auth');
  assert.equal(r.json.app.jwks_keys, 1);
  const t = await token(id, next);
  assert.equal(t.status, 200, t.text);
  assert.equal((decodeJwt(t.json.access_token) as { cnf?: Record<string, string> }).cnf?.['x5t#S256'], thumb(next));
  const old = await token(id, before);
  assert.equal(old.status, 401, old.text);
  assert.equal(old.json.error, 'invalid_client');
});

test('attack: PUT jwks on a self_signed_tls_client_auth sign-in app with a key without its certificate, or with another key’s certificate → 400 request.invalid naming the key, nothing changed', async () => {
  const now = Date.now();
  const mine = await selfSigned('ss-web', now - HOUR, now + 24 * HOUR);
  const other = await selfSigned('ss-web', now - HOUR, now + 24 * HOUR);
  const created = await admin(node, 'POST', '/v1/apps', { name: 'ss-web', audiences: ['orders-api'], redirect_uris: [REDIRECT], token_endpoint_auth_method: 'self_signed_tls_client_auth', jwks: { keys: [jwkOf(mine)] } });
  assert.equal(created.status, 201, JSON.stringify(created.json));
  const id: string = created.json.app.client_id;
  const { x5c: _x5c, ...bare } = jwkOf(other);
  for (const [name, key] of [['no x5c', bare], ['x5c of another key', { ...jwkOf(other), x5c: jwkOf(mine).x5c }]] as const) {
    const r = await admin(node, 'PUT', `/v1/apps/${id}/jwks`, { keys: [key] });
    assert.equal(r.status, 400, `${name}: ${JSON.stringify(r.json)}`);
    assert.equal(r.json.code, 'request.invalid', name);
    assert.match(r.json.detail, /^jwks\[0\]\.x5c: /, name);
    const app = (await admin(node, 'GET', `/v1/apps/${id}`)).json.app;
    assert.equal(app.token_endpoint_auth_method, 'self_signed_tls_client_auth', name);
    assert.equal(app.updated_at, created.json.app.updated_at, `${name}: the app was changed`);
  }
});
