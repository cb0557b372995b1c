/**
 * A password replaced from an invite link (`POST /v1/users/{id}/invite`, the administrator's
 * password reset) follows a forgotten or leaked password. Whoever held the old one may hold a
 * session and a refresh token by now: the reset ends every session and token of the user, as
 * `user reset-mfa` does for a factor. It used to change the password only, and the refresh
 * token signed in with the old password kept minting access tokens.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { csrfOf } from '../support/oidc-harness.js';
import { registerOidcApp, signIn, startOidcNode, type OidcApp } from '../support/oidc-node.js';
import { basic, postForm, type TestNode } from '../support/portcullis.js';

const AUD = 'https://orders.example.test';
const OLD_PASSWORD = 'plum tractor velvet orbit';
const NEW_PASSWORD = 'copper lantern meadow quartz';
let node: TestNode;
let upstream: Server;
let app: OidcApp;

before(async () => {
  upstream = createServer((_req, res) => res.end('ok'));
  await new Promise<void>((r) => upstream.listen(0, '127.0.0.1', r));
  const port = (upstream.address() as AddressInfo).port;
  node = await startOidcNode(`routes:\n  - name: orders\n    match: { pathPrefix: /orders }\n    upstream: http://127.0.0.1:${port}\n    require:\n      token: { audience: '${AUD}' }\n`);
  app = await registerOidcApp(node, AUD);
});
after(async () => {
  await node?.stop();
  upstream?.close();
});

const secret = (): string => app.config.clientMetadata().client_secret as string;
const refresh = (rt: string) => postForm(`${node.urls.identity}/oauth2/token`, { grant_type: 'refresh_token', refresh_token: rt }, { authorization: basic(app.clientId, secret()) });
const admin = async (method: string, path: string) => {
  const r = await fetch(`${node.urls.admin}${path}`, { method, headers: { authorization: `Bearer ${node.adminToken}` } });
  return { status: r.status, body: (await r.json()) as any };
};
const atGateway = async (token: string) => {
  const r = await fetch(`${node.urls.gateway}/orders/1`, { headers: { authorization: `Bearer ${token}` } });
  const text = await r.text();
  return { status: r.status, code: r.status === 200 ? undefined : (JSON.parse(text) as { code: string }).code };
};

/** Chooses `password` from a new invite of the user, through the account page. */
async function resetPassword(userId: string, password: string): Promise<void> {
  const invite = await admin('POST', `/v1/users/${userId}/invite`);
  assert.equal(invite.status, 200, JSON.stringify(invite.body));
  const url = invite.body.invite_url as string;
  const form = await (await fetch(url)).text();
  const r = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: new URLSearchParams({ csrf: csrfOf(form), password }) });
  assert.equal(r.status, 200, (await r.text()).slice(0, 300));
}

test('attack: a password reset from an invite ends the sessions and tokens signed in with the old password → invalid_grant, token.revoked', async () => {
  const user = await node.services.identity.users.add({ email: 'leaked@example.test', password: OLD_PASSWORD }, 'test');
  const { tokens } = await signIn(node, app, AUD, 'leaked@example.test', OLD_PASSWORD);
  assert.equal((await atGateway(tokens.access_token)).status, 200);
  assert.equal((await admin('GET', `/v1/users/${user.id}/sessions`)).body.sessions.length, 1);
  await new Promise((r) => setTimeout(r, 1_100)); // iat has whole seconds

  await resetPassword(user.id, NEW_PASSWORD);

  const refreshed = await refresh(tokens.refresh_token!);
  assert.equal(refreshed.status, 400, JSON.stringify(refreshed.body));
  assert.equal(refreshed.body.error, 'invalid_grant');
  assert.deepEqual(await atGateway(tokens.access_token), { status: 401, code: 'token.revoked' });
  assert.deepEqual((await admin('GET', `/v1/users/${user.id}/sessions`)).body.sessions, []);
  await node.services.audit.flush();
  const ended = (await node.services.store.tailAudit(50)).filter((e) => e.type === 'user.sessions-ended' && (e.data as { userId?: string } | null)?.userId === user.id);
  assert.equal(ended.length, 1, 'the ended sessions are audited');
  assert.equal(ended[0]!.actor, `user:${user.id}`);

  // the new password signs in at once, and its tokens work
  const again = await signIn(node, app, AUD, 'leaked@example.test', NEW_PASSWORD);
  assert.equal((await atGateway(again.tokens.access_token)).status, 200);
  assert.equal((await refresh(again.tokens.refresh_token!)).status, 200);
});

test('a first password chosen from the invite of a new user ends nothing: no session existed', async () => {
  const user = await node.services.identity.users.add({ email: 'newcomer@example.test' }, 'test');
  await resetPassword(user.id, NEW_PASSWORD);
  assert.equal((await node.services.identity.users.get(user.id)).tokensRevokedBefore, 0);
  const { tokens } = await signIn(node, app, AUD, 'newcomer@example.test', NEW_PASSWORD);
  assert.equal((await atGateway(tokens.access_token)).status, 200);
});
