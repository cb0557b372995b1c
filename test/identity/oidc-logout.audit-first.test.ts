/**
 * RP-initiated logout (OIDC RP-Initiated Logout 1.0, served by oidc-provider) revokes the
 * grants of the session made without offline_access, and with them their JWT access
 * tokens: an acknowledged security change, answered only once those `token.revoked`
 * events are stored. When the audit trail cannot write, the logout answers 503
 * `audit.unavailable` (a page), and the user is signed out and the tokens revoked all the same.
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { test } from 'node:test';
import BetterSqlite3 from 'better-sqlite3';
import * as client from 'openid-client';
import { decodeJwt } from 'jose';
import type { Browser } from '../support/oidc-harness.js';
import { registerOidcApp, signIn, startOidcNode } from '../support/oidc-node.js';
import type { TestNode } from '../support/portcullis.js';

const AUD = 'https://api.example.test';
const PASSWORD = 'plum tractor velvet orbit';

/** A sign-in without offline_access (its grant ends with the session), everything it recorded stored. */
async function signedIn(node: TestNode, email: string) {
  const app = await registerOidcApp(node, AUD);
  const user = await node.services.identity.users.add({ email, password: PASSWORD }, 'test');
  const { tokens, browser } = await signIn(node, app, AUD, email, PASSWORD, { extra: { scope: 'openid' } });
  await node.services.audit.flush();
  const at = decodeJwt(tokens.access_token) as { jti: string; client_id: string; iat: number; sub: string };
  return { app, user, browser, idToken: tokens.id_token!, at };
}

/** Opens the logout page as the app sends the user there, and confirms "Sign out". */
async function logOut(node: TestNode, browser: Browser, config: client.Configuration, idToken: string) {
  const issuer = node.urls.identity!;
  const confirm = await browser.follow(client.buildEndSessionUrl(config, { id_token_hint: idToken }).toString(), issuer);
  assert.match(confirm.body, /Sign out\?/, `${confirm.status} ${confirm.body.slice(0, 300)}`);
  const xsrf = /name="xsrf" value="([^"]+)"/.exec(confirm.body)![1]!;
  const action = /action="([^"]+)"/.exec(confirm.body)![1]!;
  return browser.request(new URL(action, issuer).toString(), { form: { xsrf, logout: 'yes' } });
}

async function storedRevocation(node: TestNode, jti: string): Promise<boolean> {
  return (await node.services.store.tailAudit(20)).some((e) => e.type === 'token.revoked' && e.data?.['jti'] === jti);
}

test('RP-initiated logout answers only once the token.revoked events of the grants it ends are stored', async (t) => {
  const node = await startOidcNode();
  t.after(() => node.stop());
  const s = await signedIn(node, 'logout-stored@example.test');
  const out = await logOut(node, s.browser, s.app.config, s.idToken);
  assert.ok(out.status === 303 || out.status === 302, `${out.status} ${out.body.slice(0, 300)}`);
  assert.ok(await storedRevocation(node, s.at.jti), 'the event is in the store when the answer arrives');
});

test('attack: log out while the audit table cannot be written → 503 audit.unavailable page, never a confirmed logout without its audit rows; signed out and the tokens revoked all the same', async (t) => {
  const node = await startOidcNode();
  const other = new BetterSqlite3(join(node.dir, 'portcullis.db'));
  t.after(async () => {
    other.close();
    await node.stop();
  });
  const s = await signedIn(node, 'logout-unaudited@example.test');
  other.exec('alter table audit_log rename to audit_log_away');
  const out = await logOut(node, s.browser, s.app.config, s.idToken);
  assert.equal(out.status, 503, out.body.slice(0, 300));
  assert.equal(out.location, undefined, 'no redirect onwards as if the logout were confirmed');
  assert.match(out.headers.get('content-type') ?? '', /^text\/html/);
  assert.match(out.body, /could not be recorded/);
  assert.deepEqual(await node.services.identity.oidc.listSessions(s.user.id), [], 'the session ended');
  assert.equal(node.services.revocations.check(s.at.jti, s.at.client_id, s.at.iat * 1000, s.at.sub), 'token.revoked', 'the access token is revoked');
  other.exec('alter table audit_log_away rename to audit_log');
  await node.services.audit.flush();
  assert.ok(await storedRevocation(node, s.at.jti), 'the held event is written once the store can take it');
});
