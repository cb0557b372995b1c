/**
 * RFC 8705 mutual TLS for sign-in apps: an app registered with `tls_client_auth` and
 * redirect URIs redeems its authorization code, refreshes, introspects and revokes at
 * oidc-provider's endpoints with its client certificate over the identity plane's TLS,
 * and its access tokens are bound to that certificate (`cnf.x5t#S256`), so the gateway
 * refuses them from another one. Real TLS sockets, a whole node.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { X509Certificate, createHash } from 'node:crypto';
import { decodeJwt } from 'jose';
import { FrozenClock } from '../../src/core/clock.js';
import { issueCertificate } from '../../src/pki/issue.js';
import type { TestNode } from '../support/portcullis.js';
import { REDIRECT, startOidcNode } from '../support/oidc-node.js';
import { authorizationCode as codeOf, exchangeCode, postForm, type FlowTarget } from './oidc-mtls-flow.js';
import { admin, clientCert, echoUpstream, https, TRUST_DOMAIN } from './helpers.js';

const AUD = 'https://orders.example.test';
const EMAIL = 'mtls-user@example.test';
const PASSWORD = 'plum tractor velvet orbit';

let node: TestNode;
let up: Awaited<ReturnType<typeof echoUpstream>>;
let ca: string;
let issuer: string;
let appId: string;
let otherId: string;
let mine: { cert: string; key: string; serial: string };
let theirs: { cert: string; key: string };

before(async () => {
  up = await echoUpstream();
  node = await startOidcNode(`pki: { trustDomain: ${TRUST_DOMAIN} }
tls: { mode: auto }
routes:
  - name: api
    match: { pathPrefix: /api }
    upstream: ${up.url}
    require:
      token: { audience: ${AUD} }
`);
  issuer = node.urls.identity!;
  ca = node.services.pki.rootPem();
  const created = await admin(node, 'POST', '/v1/apps', { name: 'mtls-web', audiences: [AUD], scopes: ['read'], redirect_uris: [REDIRECT], token_endpoint_auth_method: 'tls_client_auth' });
  assert.equal(created.status, 201, JSON.stringify(created.json));
  appId = created.json.app?.client_id ?? created.json.client_id;
  assert.equal(created.json.client_secret ?? created.json.app?.client_secret ?? null, null, 'a tls_client_auth app gets no secret');
  otherId = (await admin(node, 'POST', '/v1/apps', { name: 'other-mtls', audiences: [AUD], token_endpoint_auth_method: 'tls_client_auth' })).json.app.client_id;
  mine = await clientCert(node, appId);
  theirs = await clientCert(node, otherId);
  await node.services.identity.users.add({ email: EMAIL, password: PASSWORD }, 'test');
});
after(async () => {
  await node?.stop();
  up?.server.close();
});

const thumb = (pem: string) => createHash('sha256').update(new X509Certificate(pem).raw).digest('base64url');

const target = (): FlowTarget => ({ issuer, ca, clientId: appId, audience: AUD, email: EMAIL, password: PASSWORD });
const authorizationCode = () => codeOf(target());
const post = (path: string, fields: Record<string, string>, cert?: { cert: string; key: string }) => postForm(target(), path, fields, cert);
const exchange = (c: { code: string; verifier: string }, cert?: { cert: string; key: string }) => exchangeCode(target(), c, cert);

async function deniedRows() {
  await node.services.audit.flush();
  return (await node.services.store.tailAudit(500)).filter((r) => r.type === 'token.denied' && r.reason === 'oauth.invalid-client' && r.clientId === appId);
}

/** A client certificate for the app that expired an hour ago. */
async function expiredCert(): Promise<{ cert: string; key: string }> {
  const ctx = { ...node.services.pki.issueContext(), clock: new FrozenClock(Date.now() - 3 * 3_600_000) };
  const c = await issueCertificate(ctx, { profile: 'client', clientId: appId, lifetimeMs: 3_600_000 });
  return { cert: c.certPem, key: c.privateKeyPem! };
}

test('tls_client_auth sign-in app: the code exchange with its certificate yields a certificate-bound access token (cnf.x5t#S256) the gateway takes over that certificate only', async () => {
  const t = await exchange(await authorizationCode(), mine);
  assert.equal(t.status, 200, t.text);
  const at = decodeJwt(t.json.access_token) as { cnf?: Record<string, string>; client_id: string; aud: string };
  assert.equal(at.client_id, appId);
  assert.equal(at.aud, AUD);
  assert.equal(at.cnf?.['x5t#S256'], thumb(mine.cert));
  assert.ok(t.json.refresh_token);
  assert.ok(t.json.id_token);

  const ok = await https(`${node.urls.gateway}/api/x`, { ca, ...mine, headers: { authorization: `Bearer ${t.json.access_token}` } });
  assert.equal(ok.status, 200, ok.text);
  const wrong = await https(`${node.urls.gateway}/api/x`, { ca, ...theirs, headers: { authorization: `Bearer ${t.json.access_token}` } });
  assert.equal(wrong.status, 401);
  assert.equal(wrong.json.code, 'token.binding-mismatch');
  const none = await https(`${node.urls.gateway}/api/x`, { ca, headers: { authorization: `Bearer ${t.json.access_token}` } });
  assert.equal(none.status, 401);
  assert.equal(none.json.code, 'token.binding-mismatch');

  // the refresh token: refreshed, introspected and revoked with the certificate; the new access token is bound too
  const refreshed = await post('/oauth2/token', { grant_type: 'refresh_token', refresh_token: t.json.refresh_token, client_id: appId, resource: AUD }, mine);
  assert.equal(refreshed.status, 200, refreshed.text);
  assert.equal((decodeJwt(refreshed.json.access_token) as { cnf?: Record<string, string> }).cnf?.['x5t#S256'], thumb(mine.cert));
  const noCertRefresh = await post('/oauth2/token', { grant_type: 'refresh_token', refresh_token: refreshed.json.refresh_token, client_id: appId }, undefined);
  assert.equal(noCertRefresh.status, 401);
  assert.equal(noCertRefresh.json.error, 'invalid_client');
  const introspected = await post('/oauth2/introspect', { token: refreshed.json.refresh_token, client_id: appId }, mine);
  assert.equal(introspected.status, 200, introspected.text);
  assert.equal(introspected.json.active, true);
  const introspectedByOther = await post('/oauth2/introspect', { token: refreshed.json.refresh_token, client_id: appId }, theirs);
  assert.equal(introspectedByOther.status, 401);
  assert.equal(introspectedByOther.json.error, 'invalid_client');
  const revoked = await post('/oauth2/revoke', { token: refreshed.json.refresh_token, client_id: appId }, mine);
  assert.equal(revoked.status, 200, revoked.text);
  const after = await post('/oauth2/introspect', { token: refreshed.json.refresh_token, client_id: appId }, mine);
  assert.equal(after.json.active, false);
});

test('attack: the code exchange without a certificate, with another app’s, with an expired or a revoked one of the app → 401 invalid_client, each audited as token.denied', async () => {
  const revokedCert = await clientCert(node, appId);
  const rv = await admin(node, 'POST', `/v1/certificates/${revokedCert.serial}/revoke`, {});
  assert.equal(rv.status, 200, JSON.stringify(rv.json));
  const c = await authorizationCode();
  const cases: Array<[string, { cert: string; key: string } | undefined]> = [
    ['no certificate', undefined],
    ['another app’s certificate', theirs],
    ['an expired certificate', await expiredCert()],
    ['a revoked certificate', revokedCert],
  ];
  for (const [name, cert] of cases) {
    const before = (await deniedRows()).length;
    const r = await exchange(c, cert);
    assert.equal(r.status, 401, `${name}: ${r.text}`);
    assert.equal(r.json.error, 'invalid_client', name);
    assert.equal((await deniedRows()).length, before + 1, `${name}: not audited`);
  }
  // client authentication failed before the code was looked at: the app can still redeem it
  const ok = await exchange(c, mine);
  assert.equal(ok.status, 200, ok.text);
});

test('self_signed_tls_client_auth for a sign-in app needs its keys’ certificates (x5c): a bare key is refused at registration', async () => {
  const r = await admin(node, 'POST', '/v1/apps', { name: 'ss-web', audiences: [AUD], redirect_uris: [REDIRECT], token_endpoint_auth_method: 'self_signed_tls_client_auth', jwks: { keys: [{ kty: 'EC', crv: 'P-256', x: 'f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU', y: 'x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0' }] } });
  assert.equal(r.status, 400, JSON.stringify(r.json));
  assert.equal(r.json.code, 'request.invalid');
  assert.match(r.json.detail, /^jwks\[0\]\.x5c: /);
});
