/**
 * RFC 8705 on the running node: `tls_client_auth` and `self_signed_tls_client_auth`
 * at the token endpoint over mutual TLS, certificate-bound access tokens
 * (`cnf.x5t#S256`), and the gateway refusing a bound token without its certificate.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { X509Certificate, createHash } from 'node:crypto';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { decodeJwt } from 'jose';
import type { TestNode } from '../support/portcullis.js';
import { discoveryDocument } from '../../src/http/identity-plane.js';
import { admin, clientCert, createApp, echoUpstream, https, run, startTlsNode } from './helpers.js';

let node: TestNode;
let up: Awaited<ReturnType<typeof echoUpstream>>;
let ca: string;
let appId: string;
let otherId: string;
let mine: { cert: string; key: string };
let theirs: { cert: string; key: string };

before(async () => {
  up = await echoUpstream();
  node = await startTlsNode(up.url);
  ca = node.services.pki.rootPem();
  appId = await createApp(node, 'orders-client');
  otherId = await createApp(node, 'other-client');
  mine = await clientCert(node, appId);
  theirs = await clientCert(node, otherId);
});
after(async () => {
  await node?.stop();
  up?.server.close();
});

const form = (o: Record<string, string>) => new URLSearchParams(o).toString();
const thumb = (pem: string) => createHash('sha256').update(new X509Certificate(pem).raw).digest('base64url');

async function token(clientId: string, cert?: { cert: string; key: string }) {
  return https(`${node.urls.identity}/oauth2/token`, {
    ca,
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: form({ grant_type: 'client_credentials', client_id: clientId }),
    ...(cert ?? {}),
  });
}

test('discovery announces certificate-bound tokens (RFC 8705 §3.3) and the mTLS client authentication methods', async () => {
  const r = await https(`${node.urls.identity}/.well-known/oauth-authorization-server`, { ca });
  assert.equal(r.json.tls_client_certificate_bound_access_tokens, true);
  const base = discoveryDocument('https://127.0.0.1:8080') as { token_endpoint_auth_methods_supported: string[] };
  assert.ok(base.token_endpoint_auth_methods_supported.includes('tls_client_auth'));
  assert.ok(base.token_endpoint_auth_methods_supported.includes('self_signed_tls_client_auth'));
  // the revocation and introspection endpoints take the same client authentication
  for (const key of ['revocation_endpoint_auth_methods_supported', 'introspection_endpoint_auth_methods_supported']) {
    assert.ok((r.json[key] as string[]).includes('tls_client_auth'), key);
    assert.ok((r.json[key] as string[]).includes('self_signed_tls_client_auth'), key);
  }
});

test('tls_client_auth at the revocation endpoint: the app revokes its own token with its certificate, and the gateway refuses it', async () => {
  const t = await token(appId, mine);
  assert.equal(t.status, 200, t.text);
  const revoked = await https(`${node.urls.identity}/oauth2/revoke`, {
    ca,
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: form({ token: t.json.access_token, client_id: appId }),
    ...mine,
  });
  assert.equal(revoked.status, 200, revoked.text);
  const r = await admin(node, 'POST', '/v1/tokens/introspect', { token: t.json.access_token });
  assert.equal(r.status, 200, JSON.stringify(r.json));
  assert.equal(r.json.active, false);
});

test('tls_client_auth: a token bound to the certificate (cnf.x5t#S256) works at the gateway over the same certificate', async () => {
  const t = await token(appId, mine);
  assert.equal(t.status, 200, t.text);
  const claims = decodeJwt(t.json.access_token) as { cnf?: Record<string, string>; client_id: string };
  assert.equal(claims.client_id, appId);
  assert.equal(claims.cnf?.['x5t#S256'], thumb(mine.cert));
  const ok = await https(`${node.urls.gateway}/api/x`, { ca, ...mine, headers: { authorization: `Bearer ${t.json.access_token}` } });
  assert.equal(ok.status, 200);
  assert.equal(ok.json.headers['x-portcullis-client-id'], appId);
});

test('attack: a certificate-bound token used without its certificate → 401 token.binding-mismatch, invalid_token', async () => {
  const t = await token(appId, mine);
  const r = await https(`${node.urls.gateway}/api/x`, { ca, headers: { authorization: `Bearer ${t.json.access_token}` } });
  assert.equal(r.status, 401);
  assert.equal(r.json.code, 'token.binding-mismatch');
  assert.match(String(r.headers['www-authenticate']), /error="invalid_token"/);
});

test('a route requiring a client certificate and a token checks the certificate first: no certificate is cert.missing whatever the token (bound, bad, none); its own certificate and token pass', async () => {
  const t = await token(appId, mine);
  for (const authorization of [`Bearer ${t.json.access_token}`, 'Bearer not.a.token', undefined]) {
    const r = await https(`${node.urls.gateway}/both/x`, { ca, headers: authorization === undefined ? {} : { authorization } });
    assert.equal(r.status, 401, authorization);
    assert.equal(r.json.code, 'cert.missing', authorization);
  }
  const ok = await https(`${node.urls.gateway}/both/x`, { ca, ...mine, headers: { authorization: `Bearer ${t.json.access_token}` } });
  assert.equal(ok.status, 200);
  assert.equal(ok.json.headers['x-portcullis-client-cert-app'], appId);
  const noToken = await https(`${node.urls.gateway}/both/x`, { ca, ...mine });
  assert.equal(noToken.json.code, 'token.missing');
});

test("attack: a certificate-bound token presented with another app's certificate → 401 token.binding-mismatch", async () => {
  const t = await token(appId, mine);
  const r = await https(`${node.urls.gateway}/api/x`, { ca, ...theirs, headers: { authorization: `Bearer ${t.json.access_token}` } });
  assert.equal(r.status, 401);
  assert.equal(r.json.code, 'token.binding-mismatch');
});

test('attack: tls_client_auth without a certificate, or with another app’s certificate → 401 invalid_client', async () => {
  const none = await token(appId);
  assert.equal(none.status, 401);
  assert.equal(none.json.error, 'invalid_client');
  const wrong = await token(appId, theirs);
  assert.equal(wrong.status, 401);
  assert.equal(wrong.json.error, 'invalid_client');
});

test('attack: tls_client_auth with a revoked certificate → 401 invalid_client', async () => {
  const c = await clientCert(node, appId);
  assert.equal((await token(appId, c)).status, 200);
  await fetch(`${node.urls.admin}/v1/certificates/${c.serial}/revoke`, { method: 'POST', headers: { authorization: `Bearer ${node.adminToken}`, 'content-type': 'application/json' }, body: '{}' });
  const r = await token(appId, c);
  assert.equal(r.status, 401);
  assert.equal(r.json.error, 'invalid_client');
});

test('self_signed_tls_client_auth: the registered self-signed certificate authenticates; an unregistered one with the same name does not', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'portcullis-ss-'));
  const mk = async (name: string) => {
    const g = await run('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', join(dir, `${name}.key`), '-out', join(dir, `${name}.pem`), '-days', '1', '-subj', '/CN=self-signed-app']);
    assert.equal(g.code, 0, g.err);
    return { cert: readFileSync(join(dir, `${name}.pem`), 'utf8'), key: readFileSync(join(dir, `${name}.key`), 'utf8') };
  };
  const registered = await mk('registered');
  const impostor = await mk('impostor');
  const x = new X509Certificate(registered.cert);
  const jwk = { ...x.publicKey.export({ format: 'jwk' }), x5c: [x.raw.toString('base64')] };
  const id = await createApp(node, 'self-signed', 'self_signed_tls_client_auth', { jwks: { keys: [jwk] } });
  const ok = await token(id, registered);
  assert.equal(ok.status, 200, ok.text);
  assert.equal((decodeJwt(ok.json.access_token) as { cnf?: Record<string, string> }).cnf?.['x5t#S256'], thumb(registered.cert));
  const bad = await token(id, impostor);
  assert.equal(bad.status, 401);
  assert.equal(bad.json.error, 'invalid_client');
});

/** A tls_client_auth app allowed on the transit plane, its certificate, and a token bound to it. */
async function transitApp(name: string) {
  const created = await admin(node, 'POST', '/v1/apps', { name, audiences: ['portcullis-transit'], scopes: ['transit:encrypt:bound-k'], token_endpoint_auth_method: 'tls_client_auth' });
  assert.equal(created.status, 201, JSON.stringify(created.json));
  const id: string = created.json.app?.client_id ?? created.json.client_id;
  const cert = await clientCert(node, id);
  const t = await https(`${node.urls.identity}/oauth2/token`, {
    ca,
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: form({ grant_type: 'client_credentials', client_id: id, resource: 'portcullis-transit', scope: 'transit:encrypt:bound-k' }),
    ...cert,
  });
  assert.equal(t.status, 200, t.text);
  assert.equal((decodeJwt(t.json.access_token) as { cnf?: Record<string, string> }).cnf?.['x5t#S256'], thumb(cert.cert));
  return { id, cert, token: t.json.access_token as string };
}

const encrypt = (token: string, cert?: { cert: string; key: string }) =>
  https(`${node.urls.identity}/transit/v1/encrypt/bound-k`, {
    ca,
    method: 'POST',
    headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
    body: JSON.stringify({ plaintext: Buffer.from('secret').toString('base64') }),
    ...(cert ? { cert: cert.cert, key: cert.key } : {}),
  });

test('attack: a certificate-bound token stolen and used on the transit plane without its certificate → 401 token.binding-mismatch (RFC 8705 §3 on every resource)', async () => {
  if ((await admin(node, 'GET', '/v1/transit/keys/bound-k')).status !== 200) assert.equal((await admin(node, 'POST', '/v1/transit/keys', { name: 'bound-k', type: 'aes256-gcm' })).status, 201);
  const a = await transitApp('transit-bound');
  const other = await clientCert(node, otherId);
  const ok = await encrypt(a.token, a.cert);
  assert.equal(ok.status, 200, ok.text);
  assert.match(ok.json.ciphertext, /^pc:v1:/);
  const none = await encrypt(a.token);
  assert.equal(none.status, 401, none.text);
  assert.equal(none.json.code, 'token.binding-mismatch');
  assert.match(String(none.headers['www-authenticate']), /error="invalid_token"/);
  const wrong = await encrypt(a.token, other);
  assert.equal(wrong.status, 401, wrong.text);
  assert.equal(wrong.json.code, 'token.binding-mismatch');
});

test('introspection of a certificate-bound token returns its cnf (RFC 8705 §3.2), so a resource server that introspects can enforce the binding', async () => {
  const a = await transitApp('introspected-bound');
  const rs = await admin(node, 'POST', '/v1/apps', { name: 'transit-rs', audiences: ['portcullis-transit'], served_audiences: ['portcullis-transit'] });
  assert.equal(rs.status, 201, JSON.stringify(rs.json));
  const rsId: string = rs.json.app?.client_id ?? rs.json.client_id;
  const rsSecret: string = rs.json.client_secret ?? rs.json.app?.client_secret;
  const r = await https(`${node.urls.identity}/oauth2/introspect`, {
    ca,
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded', authorization: `Basic ${Buffer.from(`${rsId}:${rsSecret}`).toString('base64')}` },
    body: form({ token: a.token }),
  });
  assert.equal(r.status, 200, r.text);
  assert.equal(r.json.active, true);
  assert.deepEqual(r.json.cnf, { 'x5t#S256': thumb(a.cert.cert) });
  const viaAdmin = await admin(node, 'POST', '/v1/tokens/introspect', { token: a.token });
  assert.equal(viaAdmin.status, 200, JSON.stringify(viaAdmin.json));
  assert.deepEqual(viaAdmin.json.cnf, { 'x5t#S256': thumb(a.cert.cert) });
});
