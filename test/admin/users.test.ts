/**
 * Admin API for users on a whole node: add (password or invite link), list/show,
 * disable/enable/delete, reset-mfa, unlock, sessions listed and ended one by one or
 * all at once; and `portcullis user …` spawned as a user runs it.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { decodeJwt } from 'jose';
import { UserCreated, UserList, UserResponse, UserSessionList } from '../../src/http/admin/user-schemas.js';
import { Browser, csrfOf } from '../support/oidc-harness.js';
import { enrolTotp, registerOidcApp, signIn, startOidcNode, type OidcApp } from '../support/oidc-node.js';
import type { TestNode } from '../support/portcullis.js';
import { runCli, type CliResult } from '../cli/run.js';

const AUD = 'https://api.example.test';
const PASSWORD = 'plum tractor velvet orbit';
let node: TestNode;
let app: OidcApp;

async function api(path: string, init: { method?: string; body?: unknown; token?: string | null } = {}) {
  const headers: Record<string, string> = {};
  const token = init.token === undefined ? node.adminToken : init.token;
  if (token !== null) headers.authorization = `Bearer ${token}`;
  if (init.body !== undefined) headers['content-type'] = 'application/json';
  const res = await fetch(node.urls.admin + path, { method: init.method ?? (init.body === undefined ? 'GET' : 'POST'), headers, ...(init.body !== undefined ? { body: JSON.stringify(init.body) } : {}) });
  const text = await res.text();
  return { status: res.status, body: text ? JSON.parse(text) : undefined, text };
}

before(async () => {
  node = await startOidcNode();
  app = await registerOidcApp(node, AUD);
});
after(async () => node?.stop());

describe('admin API: users', () => {
  test('add with a password: 201, the user shown without any password, hash or secret; list and show by id or e-mail', async () => {
    const r = await api('/v1/users', { body: { email: 'Ann@Example.test', password: PASSWORD } });
    assert.equal(r.status, 201, r.text);
    const c = UserCreated.parse(r.body);
    assert.equal(c.invite_url, null);
    assert.ok(!r.text.includes(PASSWORD) && !/argon2|hash/i.test(r.text), 'no password or hash in the answer');
    assert.deepEqual(UserResponse.parse((await api(`/v1/users/${c.user.id}`)).body).user, c.user);
    assert.equal(UserResponse.parse((await api(`/v1/users/${encodeURIComponent('ann@example.test')}`)).body).user.id, c.user.id);
    assert.ok(UserList.parse((await api('/v1/users')).body).users.some((u) => u.id === c.user.id));
  });

  test('refused: a duplicate e-mail (409 conflict), a common password (400 password.common), password and invite together (400), no admin token (401)', async () => {
    await api('/v1/users', { body: { email: 'dup@example.test', password: PASSWORD } });
    const dup = await api('/v1/users', { body: { email: ' DUP@example.test', password: PASSWORD } });
    assert.equal(dup.status, 409);
    assert.equal(dup.body.code, 'conflict');
    const common = await api('/v1/users', { body: { email: 'weak@example.test', password: 'password123' } });
    assert.equal(common.status, 400);
    assert.equal(common.body.code, 'password.common');
    const both = await api('/v1/users', { body: { email: 'both@example.test', password: PASSWORD, invite: true } });
    assert.equal(both.status, 400);
    assert.equal(both.body.code, 'request.invalid');
    assert.equal((await api('/v1/users', { token: null })).status, 401);
  });

  test('invite link: the user chooses a password once (CSRF-checked), then signs in; a second use is refused with user.invite-invalid', async () => {
    const r = await api('/v1/users', { body: { email: 'invited@example.test', invite: true } });
    assert.equal(r.status, 201, r.text);
    const c = UserCreated.parse(r.body);
    assert.ok(c.invite_url?.startsWith(`${node.urls.identity}/account/invite/`));
    const b = new Browser();
    const page = await b.request(c.invite_url!);
    assert.equal(page.status, 200);
    assert.match(page.headers.get('content-security-policy') ?? '', /frame-ancestors 'none'/);
    const noCsrf = await b.request(c.invite_url!, { form: { password: PASSWORD } });
    assert.equal(noCsrf.status, 403, 'attack: CSRF on the invite form');
    const weak = await b.request(c.invite_url!, { form: { csrf: csrfOf(page.body), password: 'qwerty123' } });
    assert.equal(weak.status, 400);
    const ok = await b.request(c.invite_url!, { form: { csrf: csrfOf(page.body), password: PASSWORD } });
    assert.equal(ok.status, 200, ok.body.slice(0, 300));
    assert.match(ok.body, /Your password is set/);
    const again = await b.request(c.invite_url!, { form: { csrf: csrfOf(page.body), password: 'another long passphrase here' } });
    assert.equal(again.status, 400);
    assert.match(again.body, /unknown, expired or already used/);
    const { tokens } = await signIn(node, app, AUD, 'invited@example.test', PASSWORD);
    assert.equal(decodeJwt(tokens.access_token).sub, c.user.id);
  });

  test('sessions: listed by a handle that is not the session cookie; ending one revokes its tokens; end-sessions moves the watermark', async () => {
    const u = UserCreated.parse((await api('/v1/users', { body: { email: 'sess@example.test', password: PASSWORD } })).body).user;
    const one = await signIn(node, app, AUD, 'sess@example.test', PASSWORD);
    await signIn(node, app, AUD, 'sess@example.test', PASSWORD);
    const list = UserSessionList.parse((await api(`/v1/users/${u.id}/sessions`)).body).sessions;
    assert.equal(list.length, 2);
    assert.ok(list.every((s) => s.id.startsWith('ses_') && s.amr.includes('pwd') && s.apps.includes(app.clientId)));
    const at = decodeJwt(one.tokens.access_token) as { jti: string; client_id: string; iat: number; sub: string };
    // find the session of the first browser: the one whose end revokes its token
    let ended = false;
    for (const s of list) {
      const r = await api(`/v1/users/${u.id}/sessions/${s.id}`, { method: 'DELETE' });
      assert.equal(r.status, 200);
      if (node.services.revocations.check(at.jti, at.client_id, at.iat * 1000, at.sub) === 'token.revoked') {
        ended = true;
        break;
      }
    }
    assert.ok(ended, 'ending the session revoked the token issued in it');
    assert.equal((await api(`/v1/users/${u.id}/sessions/ses_nosuchsession`, { method: 'DELETE' })).status, 404);
    const after = UserResponse.parse((await api(`/v1/users/${u.id}/end-sessions`, { method: 'POST' })).body).user;
    assert.ok(after.tokens_revoked_before);
    assert.equal(UserSessionList.parse((await api(`/v1/users/${u.id}/sessions`)).body).sessions.length, 0);
  });

  test('disable refuses sign-in and revokes tokens; enable; reset-mfa removes factors; unlock clears failures; delete', async () => {
    const u = UserCreated.parse((await api('/v1/users', { body: { email: 'ops@example.test', password: PASSWORD } })).body).user;
    await enrolTotp(node, u.id);
    assert.deepEqual(UserResponse.parse((await api(`/v1/users/${u.id}`)).body).user.factors, ['totp']);
    assert.deepEqual(UserResponse.parse((await api(`/v1/users/${u.id}/reset-mfa`, { method: 'POST' })).body).user.factors, []);

    assert.equal(UserResponse.parse((await api(`/v1/users/${u.id}/disable`, { method: 'POST' })).body).user.status, 'disabled');
    await assert.rejects(() => signIn(node, app, AUD, 'ops@example.test', PASSWORD), /expected a redirect to the app/);
    assert.equal(UserResponse.parse((await api(`/v1/users/${u.id}/enable`, { method: 'POST' })).body).user.status, 'active');

    const lockout = node.services.identity.lockout;
    // the disabled account's sign-in above, with its right password, counted as a failed attempt
    assert.equal((await lockout.state('account', u.id)).failures, 1);
    for (let i = 0; i < 3; i++) await lockout.recordFailure({ account: u.id });
    assert.equal((await lockout.state('account', u.id)).failures, 4);
    assert.equal((await api(`/v1/users/${u.id}/unlock`, { method: 'POST' })).status, 200);
    assert.equal((await lockout.state('account', u.id)).failures, 0);

    assert.equal((await api(`/v1/users/${u.id}`, { method: 'DELETE' })).status, 200);
    assert.equal((await api(`/v1/users/${u.id}`)).status, 404);
  });

  test('a confirmed enrolment of an OTP channel no longer configured (sms, on a node that sends e-mail codes) is shown as not usable, by the API and `user show`; reset-mfa removes it', async () => {
    const u = UserCreated.parse((await api('/v1/users', { body: { email: 'switched-channel@example.test', password: PASSWORD } })).body).user;
    const now = Date.now();
    await node.services.store.putEnrollment({ userId: u.id, factorId: 'sms', status: 'confirmed', data: { address: '+15551234567' }, createdAt: now, confirmedAt: now });
    // a pending one never blocked a sign-in: not listed
    await node.services.store.putEnrollment({ userId: u.id, factorId: 'voice', status: 'pending', data: { address: '+15551234567' }, createdAt: now, confirmedAt: null });
    const shown = UserResponse.parse((await api(`/v1/users/${u.id}`)).body).user;
    assert.deepEqual(shown.factors, []);
    assert.deepEqual(shown.unusable_factors, ['sms']);
    assert.ok(!JSON.stringify(shown).includes('+15551234567'), 'no factor data (the phone number) in the view');
    const show = await cli(['user', 'show', u.id]);
    assert.equal(show.code, 0, show.stderr);
    assert.match(show.stdout, /not usable:\s+sms \(not configured on this node; reset-mfa removes it\)/);
    const reset = UserResponse.parse((await api(`/v1/users/${u.id}/reset-mfa`, { method: 'POST' })).body).user;
    assert.deepEqual(reset.unusable_factors, []);
  });

  test('a user\'s security keys and passkeys are listed, by the API and `user show`: id, name, created, last used and when suspended (a suspected clone); never the public key or counter', async () => {
    const u = UserCreated.parse((await api('/v1/users', { body: { email: 'keys@example.test', password: PASSWORD } })).body).user;
    const t0 = Date.parse('2026-03-01T10:00:00.000Z');
    const key = (id: string, name: string, extra: { lastUsedAt: number | null; suspendedAt: number | null }) =>
      node.services.store.addWebAuthnCredential({ id, userId: u.id, name, publicKey: 'pQECAyYgASFYIPUBLICKEY', counter: 41, transports: ['usb'], backedUp: false, deviceType: 'singleDevice', createdAt: t0, ...extra });
    await key('Y3JlZC1vaw', 'Office key', { lastUsedAt: t0 + 60_000, suspendedAt: null });
    await key('Y3JlZC1jbG9uZWQ', 'Copied \u001b[2Jkey', { lastUsedAt: t0 + 120_000, suspendedAt: t0 + 180_000 });
    const r = await api(`/v1/users/${u.id}`);
    const shown = UserResponse.parse(r.body).user;
    assert.equal(shown.passkeys, 2);
    assert.deepEqual(shown.webauthn_credentials, [
      { id: 'Y3JlZC1vaw', name: 'Office key', created_at: '2026-03-01T10:00:00.000Z', last_used_at: '2026-03-01T10:01:00.000Z', suspended_at: null },
      { id: 'Y3JlZC1jbG9uZWQ', name: 'Copied \u001b[2Jkey', created_at: '2026-03-01T10:00:00.000Z', last_used_at: '2026-03-01T10:02:00.000Z', suspended_at: '2026-03-01T10:03:00.000Z' },
    ]);
    assert.ok(!r.text.includes('PUBLICKEY') && !/"counter"|public_key/.test(r.text), 'no public key or counter in the view');
    assert.ok(UserList.parse((await api('/v1/users')).body).users.find((x) => x.id === u.id)!.webauthn_credentials.length === 2);
    const show = await cli(['user', 'show', u.id]);
    assert.equal(show.code, 0, show.stderr);
    assert.match(show.stdout, /^key:\s+Y3JlZC1vaw\s+"Office key"\s+created 2026-03-01T10:00:00.000Z\s+last used 2026-03-01T10:01:00.000Z$/m);
    assert.match(show.stdout, /^key:\s+Y3JlZC1jbG9uZWQ\s+"Copied \\x1b\[2Jkey"\s+created 2026-03-01T10:00:00.000Z\s+last used 2026-03-01T10:02:00.000Z\s+SUSPENDED 2026-03-01T10:03:00.000Z/m);
    assert.ok(!show.stdout.includes('\u001b'), 'no terminal escape from a key name');
  });

  test('OpenAPI lists the user operations', async () => {
    const doc = (await api('/openapi.json', { token: null })).body as { paths: Record<string, Record<string, { operationId: string }>> };
    assert.equal(doc.paths['/v1/users']?.['post']?.operationId, 'createUser');
    assert.equal(doc.paths['/v1/users/{id}/sessions/{sid}']?.['delete']?.operationId, 'endUserSession');
  });
});

function cli(args: string[], stdin?: string): Promise<CliResult> {
  return runCli([...args, '--dir', node.dir, '--admin-url', node.urls.admin!], {}, { stdin: stdin ?? '' });
}

describe('CLI: portcullis user', () => {
  test('user add reads the password from stdin (never an argument); list, show, disable, delete; --invite prints a link', async () => {
    const add = await cli(['user', 'add', 'cli@example.test'], `${PASSWORD}\n`);
    assert.equal(add.code, 0, add.stderr);
    const id = /id:\s+(usr_\S+)/.exec(add.stdout)?.[1];
    assert.ok(id, add.stdout);
    assert.ok(!add.stdout.includes(PASSWORD));
    const { tokens } = await signIn(node, app, AUD, 'cli@example.test', PASSWORD);
    assert.equal(decodeJwt(tokens.access_token).sub, id);

    const list = await cli(['user', 'list', '--json']);
    assert.ok((JSON.parse(list.stdout) as Array<{ id: string }>).some((u) => u.id === id));
    const show = await cli(['user', 'show', 'cli@example.test']);
    assert.match(show.stdout, new RegExp(`id:\\s+${id}`));
    const sessions = await cli(['user', 'sessions', id!]);
    assert.match(sessions.stdout, /ses_\S+\s+\S+\s+pwd/);
    assert.equal((await cli(['user', 'disable', id!])).code, 0);
    assert.equal((await node.services.identity.users.get(id!)).status, 'disabled');

    const inv = await cli(['user', 'add', 'cli-invite@example.test', '--invite']);
    assert.equal(inv.code, 0, inv.stderr);
    assert.match(inv.stdout, new RegExp(`invite: ${node.urls.identity}/account/invite/\\S+`));

    const none = await cli(['user', 'add', 'nopass@example.test'], '');
    assert.equal(none.code, 1);
    assert.match(none.stderr, /error: request.invalid: no password on stdin/);

    assert.equal((await cli(['user', 'delete', id!])).code, 0);
    const gone = await cli(['user', 'show', id!]);
    assert.equal(gone.code, 1);
    assert.match(gone.stderr, /error: not-found/);
  });

  test('user invite: a new link for an existing user (the password reset), as POST /v1/users/{id}/invite; the link before stops working; a disabled user gets none (user.disabled)', async () => {
    const u = UserCreated.parse((await api('/v1/users', { body: { email: 'cli-reset@example.test', invite: true } })).body);
    const inv = await cli(['user', 'invite', 'cli-reset@example.test']);
    assert.equal(inv.code, 0, inv.stderr);
    const url = new RegExp(`^invite:\\s+(${node.urls.identity}/account/invite/\\S+)$`, 'm').exec(inv.stdout)?.[1];
    assert.ok(url, inv.stdout);
    assert.match(inv.stdout, /^expires:\s+\d{4}-\d\d-\d\dT/m);
    assert.match(inv.stderr, /not shown again/);
    assert.equal((await new Browser().request(u.invite_url!)).status, 400, 'the link before is void');
    assert.equal((await new Browser().request(url)).status, 200);
    const json = await cli(['user', 'invite', u.user.id, '--json']);
    assert.equal(JSON.parse(json.stdout).user.id, u.user.id);

    assert.equal((await cli(['user', 'disable', u.user.id])).code, 0);
    const refused = await cli(['user', 'invite', u.user.id]);
    assert.equal(refused.code, 1);
    assert.match(refused.stderr, /error: user.disabled/);
  });

  test('app create --redirect-uri --type public registers a public app for sign-in, without a secret', async () => {
    const r = await cli(['app', 'create', 'spa', '--audience', AUD, '--redirect-uri', 'http://127.0.0.1:9/spa', '--type', 'public', '--json']);
    assert.equal(r.code, 0, r.stderr);
    const out = JSON.parse(r.stdout) as { client_secret: string | null; app: { type: string; redirect_uris: string[]; grant_types: string[] } };
    assert.equal(out.client_secret, null);
    assert.equal(out.app.type, 'public');
    assert.deepEqual(out.app.redirect_uris, ['http://127.0.0.1:9/spa']);
    assert.deepEqual(out.app.grant_types, ['authorization_code', 'refresh_token']);
  });
});
