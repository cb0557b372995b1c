/**
 * `portcullis user sessions|end-sessions|reset-mfa|unlock|enable` and `lockout show|unlock` spawned as an
 * administrator runs them, against a whole node whose users sign in through the OIDC
 * pages: ending one session revokes only its tokens, ending all revokes every token of
 * the user, reset-mfa removes the factors, unlock lets a locked user (or address) sign in again.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { decodeJwt } from 'jose';
import { runCli } from '../cli/run.js';
import { enrolTotp, registerOidcApp, signIn, startOidcNode, type OidcApp } from '../support/oidc-node.js';
import type { TestNode } from '../support/portcullis.js';

const AUD = 'https://api.example.test';
const PASSWORD = 'plum tractor velvet orbit';
let node: TestNode;
let app: OidcApp;

before(async () => {
  node = await startOidcNode();
  app = await registerOidcApp(node, AUD);
});
after(async () => node?.stop());

const cli = (...args: string[]) => runCli([...args, '--dir', node.dir, '--admin-url', node.urls.admin!]);

/** Whether the gateway's revocation set refuses the access token. */
function revoked(accessToken: string): boolean {
  const at = decodeJwt(accessToken) as { jti: string; client_id: string; iat: number; sub: string };
  return node.services.revocations.check(at.jti, at.client_id, at.iat * 1000, at.sub) === 'token.revoked';
}

test('cli: user sessions lists sessions, --end ends one (its tokens only), end-sessions ends the rest and every token of the user', async () => {
  const u = await node.services.identity.users.add({ email: 'cli-sessions@example.test', password: PASSWORD }, 'test');
  const a = await signIn(node, app, AUD, 'cli-sessions@example.test', PASSWORD);
  const b = await signIn(node, app, AUD, 'cli-sessions@example.test', PASSWORD);
  const list = await cli('user', 'sessions', u.email, '--json');
  assert.equal(list.code, 0, list.stderr);
  const sessions = JSON.parse(list.stdout) as Array<{ id: string; amr: string[]; apps: string[] }>;
  assert.equal(sessions.length, 2);
  for (const s of sessions) {
    assert.match(s.id, /^ses_/);
    assert.deepEqual(s.amr, ['pwd']);
  }

  // Each sign-in had its own browser, so its own session: ending one revokes one sign-in's tokens.
  const one = await cli('user', 'sessions', u.id, '--end', sessions.at(-1)!.id);
  assert.equal(one.code, 0, one.stderr);
  assert.match(one.stdout, /^ended: ses_/);
  assert.equal(revoked(a.tokens.access_token) !== revoked(b.tokens.access_token), true, 'exactly one of the two sign-ins lost its tokens');
  const left = JSON.parse((await cli('user', 'sessions', u.id, '--json')).stdout) as unknown[];
  assert.equal(left.length, 1);

  const all = await cli('user', 'end-sessions', u.id);
  assert.equal(all.code, 0, all.stderr);
  assert.match(all.stdout, new RegExp(`every session ended: ${u.id}`));
  assert.ok(revoked(a.tokens.access_token) && revoked(b.tokens.access_token));
  assert.match((await cli('user', 'sessions', u.id)).stdout, /no sessions/);
  const unknown = await cli('user', 'sessions', u.id, '--end', 'ses_nosuchsession');
  assert.equal(unknown.code, 1);
  assert.match(unknown.stderr, /error: not-found/);
});

test('cli: user reset-mfa removes every factor; user unlock lets a locked user sign in again; disable then enable', async () => {
  const u = await node.services.identity.users.add({ email: 'cli-ops@example.test', password: PASSWORD }, 'test');
  await enrolTotp(node, u.id);
  assert.deepEqual((JSON.parse((await cli('user', 'show', u.id, '--json')).stdout) as { factors: string[] }).factors, ['totp']);
  const reset = await cli('user', 'reset-mfa', u.id);
  assert.equal(reset.code, 0, reset.stderr);
  assert.match(reset.stdout, /second factors removed/);
  assert.deepEqual((JSON.parse((await cli('user', 'show', u.id, '--json')).stdout) as { factors: string[] }).factors, []);

  const lockout = node.services.identity.lockout;
  for (let i = 0; i < 10; i++) await lockout.recordFailure({ account: u.id });
  await assert.rejects(signIn(node, app, AUD, 'cli-ops@example.test', PASSWORD), /expected a redirect to the app/);
  const unlock = await cli('user', 'unlock', 'cli-ops@example.test');
  assert.equal(unlock.code, 0, unlock.stderr);
  assert.match(unlock.stdout, new RegExp(`unlocked: ${u.id}`));
  const { tokens } = await signIn(node, app, AUD, 'cli-ops@example.test', PASSWORD);
  assert.equal(decodeJwt(tokens.access_token).sub, u.id);

  assert.equal((await cli('user', 'disable', u.id)).code, 0);
  assert.ok(revoked(tokens.access_token), 'disabling ends the tokens');
  await assert.rejects(signIn(node, app, AUD, 'cli-ops@example.test', PASSWORD), /expected a redirect to the app/);
  const enable = await cli('user', 'enable', u.id, '--json');
  assert.equal(enable.code, 0, enable.stderr);
  assert.equal((JSON.parse(enable.stdout) as { status: string }).status, 'active');
  await signIn(node, app, AUD, 'cli-ops@example.test', PASSWORD);
});

test('cli: lockout show reports a locked address; lockout unlock lifts it; a malformed address is request.invalid', async () => {
  const lockout = node.services.identity.lockout;
  for (let i = 0; i < 50; i++) await lockout.recordFailure({ ip: '198.51.100.77' });
  const shown = await cli('lockout', 'show', '::ffff:198.51.100.77', '--json');
  assert.equal(shown.code, 0, shown.stderr);
  const state = JSON.parse(shown.stdout) as { address: string; failures: number; locked: boolean; blocked_until: string | null };
  assert.equal(state.address, '198.51.100.77');
  assert.equal(state.failures, 50);
  assert.equal(state.locked, true);
  await assert.rejects(lockout.check({ ip: '198.51.100.77' }), /locked/);

  const unlock = await cli('lockout', 'unlock', '198.51.100.77');
  assert.equal(unlock.code, 0, unlock.stderr);
  assert.equal(unlock.stdout, 'unlocked: 198.51.100.77\n');
  await lockout.check({ ip: '198.51.100.77' });
  assert.match((await cli('lockout', 'show', '198.51.100.77')).stdout, /locked:\s+no/);

  const bad = await cli('lockout', 'unlock', '198.51.100.777');
  assert.equal(bad.code, 1);
  assert.match(bad.stderr, /error: request.invalid/);
});
