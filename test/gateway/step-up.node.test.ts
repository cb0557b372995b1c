/**
 * Step-up at the gateway (RFC 9470) on a whole node: users sign in through the OIDC
 * pages, and routes that require MFA, an acr or a recent sign-in refuse tokens that do
 * not prove it with 401 `insufficient_user_authentication` and what to ask for.
 * Ending every session of a user revokes that user's tokens at the gateway only.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { decodeJwt } from 'jose';
import { ACR_MFA } from '../../src/gateway/assurance-policy.js';
import type { TestNode } from '../support/portcullis.js';
import { enrolTotp, startOidcNode, registerOidcApp, signIn, type OidcApp } from '../support/oidc-node.js';

const AUD = 'https://orders.example.test';
const PASSWORD = 'plum tractor velvet orbit';
let upstream: Server;
let node: TestNode;
let app: OidcApp;

before(async () => {
  upstream = createServer((req, res) => res.end(JSON.stringify({ path: req.url, sub: req.headers['x-portcullis-subject'] ?? null })));
  await new Promise<void>((r) => upstream.listen(0, '127.0.0.1', () => r()));
  const up = `http://127.0.0.1:${(upstream.address() as AddressInfo).port}`;
  const token = `{ audience: '${AUD}' }`;
  const routes = `routes:
  - { name: plain, match: { pathPrefix: /plain }, upstream: '${up}', require: { token: ${token} } }
  - { name: mfa, match: { pathPrefix: /mfa }, upstream: '${up}', require: { token: ${token}, mfa: true } }
  - { name: acr, match: { pathPrefix: /acr }, upstream: '${up}', require: { token: ${token}, acr: ['${ACR_MFA}'] } }
  - { name: recent, match: { pathPrefix: /recent }, upstream: '${up}', require: { token: ${token}, maxAge: 1s } }
  - { name: fresh, match: { pathPrefix: /fresh }, upstream: '${up}', require: { token: ${token}, maxAge: 15m } }`;
  node = await startOidcNode(routes);
  app = await registerOidcApp(node, AUD);
});
after(async () => {
  await node?.stop();
  upstream?.close();
});

const call = (path: string, token: string) => fetch(`${node.urls.gateway}${path}`, { headers: { authorization: `Bearer ${token}` } });

test('step-up: a password-only user token passes a plain route but gets 401 insufficient_user_authentication with acr_values on an MFA route', async () => {
  const u = await node.services.identity.users.add({ email: 'pwd-only@example.test', password: PASSWORD }, 'test');
  const { tokens } = await signIn(node, app, AUD, 'pwd-only@example.test', PASSWORD);
  assert.deepEqual(decodeJwt(tokens.access_token)['amr'], ['pwd']);
  const ok = await call('/plain/x', tokens.access_token);
  assert.equal(ok.status, 200);
  assert.equal(((await ok.json()) as { sub: string }).sub, u.id);

  for (const path of ['/mfa/x', '/acr/x']) {
    const r = await call(path, tokens.access_token);
    assert.equal(r.status, 401, path);
    const challenge = r.headers.get('www-authenticate') ?? '';
    assert.match(challenge, /^Bearer realm="portcullis", error="insufficient_user_authentication"/);
    assert.match(challenge, new RegExp(`acr_values="${ACR_MFA}"`));
    assert.equal(((await r.json()) as { code: string }).code, 'token.insufficient-user-authentication');
  }
});

test('step-up: a password + TOTP token (acr mfa, amr otp) passes the MFA and acr routes', async () => {
  const u = await node.services.identity.users.add({ email: 'with-totp@example.test', password: PASSWORD }, 'test');
  const secret = await enrolTotp(node, u.id);
  const { tokens } = await signIn(node, app, AUD, 'with-totp@example.test', PASSWORD, { totpSecret: secret });
  const claims = decodeJwt(tokens.access_token);
  assert.equal(claims['acr'], ACR_MFA);
  assert.ok((claims['amr'] as string[]).includes('otp'));
  for (const path of ['/mfa/x', '/acr/x', '/fresh/x']) assert.equal((await call(path, tokens.access_token)).status, 200, path);
});

test('step-up: a route with maxAge refuses a sign-in older than it with max_age in the challenge', async () => {
  await node.services.identity.users.add({ email: 'old-login@example.test', password: PASSWORD }, 'test');
  const { tokens } = await signIn(node, app, AUD, 'old-login@example.test', PASSWORD);
  assert.equal((await call('/fresh/x', tokens.access_token)).status, 200);
  // auth_time has whole-second precision: 2.2 s is always more than the route's 1 s.
  await new Promise((r) => setTimeout(r, 2200));
  const r = await call('/recent/x', tokens.access_token);
  assert.equal(r.status, 401);
  assert.match(r.headers.get('www-authenticate') ?? '', /error="insufficient_user_authentication".*max_age=1/);
});

test("attack: a stolen user token stops working at the gateway once the user's sessions are all ended, while another user's token keeps working", async () => {
  const victim = await node.services.identity.users.add({ email: 'victim@example.test', password: PASSWORD }, 'test');
  await node.services.identity.users.add({ email: 'bystander@example.test', password: PASSWORD }, 'test');
  const a = await signIn(node, app, AUD, 'victim@example.test', PASSWORD);
  const b = await signIn(node, app, AUD, 'bystander@example.test', PASSWORD);
  assert.equal((await call('/plain/x', a.tokens.access_token)).status, 200);
  assert.equal((await call('/plain/x', b.tokens.access_token)).status, 200);

  await node.services.identity.users.endAllSessions(victim.id, 'test');
  const r = await call('/plain/x', a.tokens.access_token);
  assert.equal(r.status, 401);
  assert.equal(((await r.json()) as { code: string }).code, 'token.revoked');
  assert.equal((await call('/plain/x', b.tokens.access_token)).status, 200);
  // the refresh token of the ended session is gone too
  await assert.rejects(
    () => import('openid-client').then((c) => c.refreshTokenGrant(app.config, a.tokens.refresh_token!, { resource: AUD })),
    (e: { error?: string }) => e.error === 'invalid_grant',
  );
});

test('config: mfa without a token requirement is refused at load', async () => {
  const { configSchema } = await import('../../src/core/config/schema.js');
  const r = configSchema.safeParse({ routes: [{ name: 'x', match: { pathPrefix: '/x' }, upstream: 'http://127.0.0.1:1', require: { mfa: true } }] });
  assert.equal(r.success, false);
  assert.match(JSON.stringify(r.error?.issues), /need require\.token/);
});
