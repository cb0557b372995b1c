/**
 * RFC 8705 §2.2 `self_signed_tls_client_auth` for sign-in apps: an app registered with
 * redirect URIs and a JWKS whose keys carry their self-signed certificates (`x5c`) redeems
 * its authorization code, refreshes, introspects and revokes at oidc-provider's endpoints
 * with one of those certificates over the identity plane's TLS (oidc-provider matches it by
 * the keys' `x5t#S256`), and its access tokens are bound to it (`cnf.x5t#S256`), so the
 * gateway refuses them from another certificate. No trust domain and no Portcullis client
 * certificate are involved. Real TLS sockets, a whole node.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { decodeJwt } from 'jose';
import type { TestNode } from '../support/portcullis.js';
import { jwkOf, selfSigned, type SelfSigned } from '../support/self-signed-certificate.js';
import { REDIRECT, startOidcNode } from '../support/oidc-node.js';
import { authorizationCode as codeOf, exchangeCode, postForm, type FlowTarget } from './oidc-mtls-flow.js';
import { admin, echoUpstream, https } from './helpers.js';

const AUD = 'https://orders.example.test';
const EMAIL = 'ss-mtls-user@example.test';
const PASSWORD = 'amber lantern quiet harbor';
const HOUR = 3_600_000;

let node: TestNode;
let up: Awaited<ReturnType<typeof echoUpstream>>;
let ca: string;
let issuer: string;
let appId: string;
let mine: SelfSigned;
let expired: SelfSigned;
let stranger: SelfSigned;

before(async () => {
  up = await echoUpstream();
  // no pki.trustDomain: self-signed certificates need none
  node = await startOidcNode(`tls: { mode: auto }
routes:
  - name: api
    match: { pathPrefix: /api }
    upstream: ${up.url}
    require:
      token: { audience: ${AUD} }
`);
  issuer = node.urls.identity!;
  ca = node.services.pki.rootPem();
  const now = Date.now();
  mine = await selfSigned('ss-web', now - HOUR, now + 24 * HOUR);
  expired = await selfSigned('ss-web-old', now - 3 * HOUR, now - HOUR);
  stranger = await selfSigned('ss-web', now - HOUR, now + 24 * HOUR);
  const created = await admin(node, 'POST', '/v1/apps', { name: 'ss-web', audiences: [AUD], scopes: ['read'], redirect_uris: [REDIRECT], token_endpoint_auth_method: 'self_signed_tls_client_auth', jwks: { keys: [jwkOf(mine), jwkOf(expired)] } });
  assert.equal(created.status, 201, JSON.stringify(created.json));
  appId = created.json.app.client_id;
  assert.equal(created.json.client_secret ?? null, null, 'a self_signed_tls_client_auth app gets no secret');
  await node.services.identity.users.add({ email: EMAIL, password: PASSWORD }, 'test');
});
after(async () => {
  await node?.stop();
  up?.server.close();
});

const thumb = (c: SelfSigned) => createHash('sha256').update(c.der).digest('base64url');

const target = (): FlowTarget => ({ issuer, ca, clientId: appId, audience: AUD, email: EMAIL, password: PASSWORD });
const authorizationCode = () => codeOf(target());
const post = (path: string, fields: Record<string, string>, cert?: { cert: string; key: string }) => postForm(target(), path, fields, cert);
const exchange = (c: { code: string; verifier: string }, cert?: { cert: string; key: string }) => exchangeCode(target(), c, cert);

async function deniedRows() {
  await node.services.audit.flush();
  return (await node.services.store.tailAudit(500)).filter((r) => r.type === 'token.denied' && r.reason === 'oauth.invalid-client' && r.clientId === appId);
}

test('self_signed_tls_client_auth sign-in app: the code exchange with its registered certificate yields an access token bound to it, which the gateway takes over that certificate only', async () => {
  const t = await exchange(await authorizationCode(), mine);
  assert.equal(t.status, 200, t.text);
  const at = decodeJwt(t.json.access_token) as { cnf?: Record<string, string>; client_id: string; aud: string };
  assert.equal(at.client_id, appId);
  assert.equal(at.aud, AUD);
  assert.equal(at.cnf?.['x5t#S256'], thumb(mine));
  assert.ok(t.json.refresh_token);
  assert.ok(t.json.id_token);

  const ok = await https(`${node.urls.gateway}/api/x`, { ca, cert: mine.cert, key: mine.key, headers: { authorization: `Bearer ${t.json.access_token}` } });
  assert.equal(ok.status, 200, ok.text);
  const wrong = await https(`${node.urls.gateway}/api/x`, { ca, cert: stranger.cert, key: stranger.key, headers: { authorization: `Bearer ${t.json.access_token}` } });
  assert.equal(wrong.status, 401);
  assert.equal(wrong.json.code, 'token.binding-mismatch');
  const none = await https(`${node.urls.gateway}/api/x`, { ca, headers: { authorization: `Bearer ${t.json.access_token}` } });
  assert.equal(none.status, 401);
  assert.equal(none.json.code, 'token.binding-mismatch');

  const refreshed = await post('/oauth2/token', { grant_type: 'refresh_token', refresh_token: t.json.refresh_token, client_id: appId, resource: AUD }, mine);
  assert.equal(refreshed.status, 200, refreshed.text);
  assert.equal((decodeJwt(refreshed.json.access_token) as { cnf?: Record<string, string> }).cnf?.['x5t#S256'], thumb(mine));
  for (const [name, cert] of [['no certificate', undefined], ['another self-signed certificate', stranger], ['the registered expired certificate', expired]] as const) {
    const r = await post('/oauth2/token', { grant_type: 'refresh_token', refresh_token: refreshed.json.refresh_token, client_id: appId }, cert);
    assert.equal(r.status, 401, `${name}: ${r.text}`);
    assert.equal(r.json.error, 'invalid_client', name);
  }
  const introspected = await post('/oauth2/introspect', { token: refreshed.json.refresh_token, client_id: appId }, mine);
  assert.equal(introspected.status, 200, introspected.text);
  assert.equal(introspected.json.active, true);
  const byStranger = await post('/oauth2/introspect', { token: refreshed.json.refresh_token, client_id: appId }, stranger);
  assert.equal(byStranger.status, 401);
  assert.equal(byStranger.json.error, 'invalid_client');
  const revoked = await post('/oauth2/revoke', { token: refreshed.json.refresh_token, client_id: appId }, mine);
  assert.equal(revoked.status, 200, revoked.text);
  assert.equal((await post('/oauth2/introspect', { token: refreshed.json.refresh_token, client_id: appId }, mine)).json.active, false);
});

test('attack: the code exchange without a certificate, with another self-signed certificate (same subject) or with the registered but expired one → 401 invalid_client, each audited as token.denied', async () => {
  const c = await authorizationCode();
  const cases: Array<[string, SelfSigned | undefined]> = [
    ['no certificate', undefined],
    ['another self-signed certificate', stranger],
    ['the registered expired certificate', expired],
  ];
  for (const [name, cert] of cases) {
    const before = (await deniedRows()).length;
    const r = await exchange(c, cert);
    assert.equal(r.status, 401, `${name}: ${r.text}`);
    assert.equal(r.json.error, 'invalid_client', name);
    assert.equal((await deniedRows()).length, before + 1, `${name}: not audited`);
  }
  const ok = await exchange(c, mine);
  assert.equal(ok.status, 200, ok.text);
});

test('a sign-in app with self_signed_tls_client_auth must register its certificates: a key without x5c, or an x5c that is not the key’s certificate → 400 request.invalid naming the key', async () => {
  const { x5c: _x5c, ...bare } = jwkOf(mine);
  const cases: Array<[string, unknown, RegExp]> = [
    ['no x5c', bare, /^jwks\[0\]\.x5c: /],
    ['x5c of another key', { ...jwkOf(mine), x5c: jwkOf(stranger).x5c }, /^jwks\[0\]\.x5c: /],
    ['x5c not a certificate', { ...jwkOf(mine), x5c: ['bm90IGEgY2VydGlmaWNhdGU='] }, /^jwks\[0\]\.x5c: /],
  ];
  for (const [name, key, detail] of cases) {
    const r = await admin(node, 'POST', '/v1/apps', { name: 'ss-bad', audiences: [AUD], redirect_uris: [REDIRECT], token_endpoint_auth_method: 'self_signed_tls_client_auth', jwks: { keys: [key] } });
    assert.equal(r.status, 400, `${name}: ${JSON.stringify(r.json)}`);
    assert.equal(r.json.code, 'request.invalid', name);
    assert.match(r.json.detail, detail, name);
  }
});
