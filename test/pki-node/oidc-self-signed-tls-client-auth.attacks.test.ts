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
import { X509Certificate, createHash, createPrivateKey } from 'node:crypto';
import { decodeJwt } from 'jose';
import * as client from 'openid-client';
import { EKU, EXT, basicConstraintsValue, ekuValue, encodeName, encodeTbs, extension, randomSerial, signStructure } from '../../src/pki/certificate.js';
import { toPem } from '../../src/pki/pem.js';
import { fileSignerKind } from '../../src/pki/signer.js';
import { testSecretBox } from '../pki/helpers.js';
import type { TestNode } from '../support/portcullis.js';
import { Browser, actionOf, consentAndReturnTo, csrfOf } from '../support/oidc-harness.js';
import { REDIRECT, startOidcNode } from '../support/oidc-node.js';
import { admin, echoUpstream, https } from './helpers.js';

const AUD = 'https://orders.example.test';
const EMAIL = 'ss-mtls-user@example.test';
const PASSWORD = 'amber lantern quiet harbor';
const HOUR = 3_600_000;

interface SelfSigned {
  cert: string;
  key: string;
  der: Buffer;
}

let node: TestNode;
let up: Awaited<ReturnType<typeof echoUpstream>>;
let ca: string;
let issuer: string;
let appId: string;
let mine: SelfSigned;
let expired: SelfSigned;
let stranger: SelfSigned;

/** A self-signed P-256 certificate valid from `notBefore` to `notAfter` (ms). */
async function selfSigned(cn: string, notBefore: number, notAfter: number): Promise<SelfSigned> {
  const { signer, pkcs8 } = await fileSignerKind(testSecretBox()).generate('P-256', `ss-${cn}`);
  const name = encodeName([['CN', cn]]);
  const tbs = encodeTbs({
    serial: randomSerial(),
    signatureAlgorithm: signer.signatureAlgorithm,
    issuer: name,
    subject: name,
    notBefore: Math.floor(notBefore / 1000) * 1000,
    notAfter: Math.floor(notAfter / 1000) * 1000,
    spki: signer.spki,
    extensions: [extension(EXT.basicConstraints, true, basicConstraintsValue(false)), extension(EXT.extKeyUsage, false, ekuValue([EKU.clientAuth]))],
  });
  const der = Buffer.from(await signStructure(tbs, signer));
  const key = createPrivateKey({ key: Buffer.from(pkcs8), format: 'der', type: 'pkcs8' }).export({ format: 'pem', type: 'pkcs8' }) as string;
  return { cert: toPem(der, 'CERTIFICATE'), key, der };
}

/** The JWK of a certificate's key with the certificate as `x5c` (RFC 7517 §4.7). */
const jwkOf = (c: SelfSigned) => ({ ...new X509Certificate(c.der).publicKey.export({ format: 'jwk' }), x5c: [c.der.toString('base64')] });

/** The no-JavaScript browser of oidc-harness.ts over HTTPS, trusting the node's CA. */
class TlsBrowser extends Browser {
  private readonly jar = new Map<string, string>();

  override async request(url: string, init: { method?: string; form?: Record<string, string>; headers?: Record<string, string> } = {}) {
    const headers: Record<string, string> = { ...(init.headers ?? {}) };
    if (this.jar.size) headers['cookie'] = [...this.jar].map(([k, v]) => `${k}=${v}`).join('; ');
    const body = init.form ? new URLSearchParams(init.form).toString() : undefined;
    if (body !== undefined) headers['content-type'] = 'application/x-www-form-urlencoded';
    const r = await https(url, { ca, method: init.method ?? (body !== undefined ? 'POST' : 'GET'), headers, ...(body !== undefined ? { body } : {}) });
    const setCookie = r.headers['set-cookie'];
    for (const c of Array.isArray(setCookie) ? setCookie : setCookie ? [setCookie] : []) {
      const [pair] = c.split(';');
      const i = pair!.indexOf('=');
      const value = pair!.slice(i + 1);
      if (/expires=Thu, 01 Jan 1970/i.test(c) || value === '') this.jar.delete(pair!.slice(0, i));
      else this.jar.set(pair!.slice(0, i), value);
    }
    const loc = typeof r.headers['location'] === 'string' ? new URL(r.headers['location'], url).toString() : undefined;
    const h = new Headers();
    for (const [k, v] of Object.entries(r.headers)) if (typeof v === 'string') h.set(k, v);
    return { status: r.status, location: loc, body: r.text, headers: h, url };
  }
}

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

const form = (o: Record<string, string>) => new URLSearchParams(o).toString();
const thumb = (c: SelfSigned) => createHash('sha256').update(c.der).digest('base64url');

async function authorizationCode(): Promise<{ code: string; verifier: string }> {
  const verifier = client.randomPKCECodeVerifier();
  const url = new URL(`${issuer}/oauth2/authorize`);
  url.search = new URLSearchParams({
    client_id: appId,
    response_type: 'code',
    redirect_uri: REDIRECT,
    scope: 'openid offline_access',
    resource: AUD,
    prompt: 'login consent',
    state: client.randomState(),
    code_challenge: await client.calculatePKCECodeChallenge(verifier),
    code_challenge_method: 'S256',
  }).toString();
  const browser = new TlsBrowser();
  let r = await browser.follow(url.toString(), issuer);
  assert.match(r.body, /Sign in/, `expected the sign-in page, got ${r.status} ${r.body.slice(0, 300)}`);
  r = await browser.request(actionOf(r.body, 'login', issuer), { form: { csrf: csrfOf(r.body), email: EMAIL, password: PASSWORD } });
  const cb = await consentAndReturnTo(browser, r, issuer, REDIRECT);
  return { code: cb.searchParams.get('code')!, verifier };
}

function post(path: string, fields: Record<string, string>, cert?: { cert: string; key: string }) {
  return https(`${issuer}${path}`, {
    ca,
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: form(fields),
    ...(cert ? { cert: cert.cert, key: cert.key } : {}),
  });
}

const exchange = (c: { code: string; verifier: string }, cert?: { cert: string; key: string }) =>
  post('/oauth2/token', { grant_type: 'authorization_code', code: c.code, code_verifier: c.verifier, redirect_uri: REDIRECT, client_id: appId, resource: AUD }, cert);

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
