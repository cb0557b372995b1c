/**
 * OpenID Connect sign-in end to end: openid-client as the app, an HTTP cookie-keeping
 * browser on the no-JavaScript pages, the real provider, store and factors.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import * as client from 'openid-client';
import { decodeJwt, decodeProtectedHeader } from 'jose';
import { verifyOwnToken } from '../../src/tokens/verify-own-token.js';
import { ACR_MFA, ACR_SINGLE_FACTOR } from '../../src/identity/oidc/provider.js';
import { Browser, actionOf, consentAndReturnTo, csrfOf, startIdentity, submitForm, type Identity } from '../support/oidc-harness.js';
import { authorizationRequest } from '../support/oidc-node.js';

const REDIRECT = 'http://127.0.0.1:9/cb';
const AUD = 'https://api.example.test';
const PASSWORD = 'plum tractor velvet orbit';
let idp: Identity;
let config: client.Configuration;
let clientId: string;

before(async () => {
  idp = await startIdentity();
  const { app, clientSecret } = await idp.apps.create({ name: 'web', audiences: [AUD], scopes: ['read'], redirectUris: [REDIRECT] }, 'test');
  clientId = app.clientId;
  config = await client.discovery(new URL(idp.issuer), clientId, clientSecret!, undefined, { execute: [client.allowInsecureRequests] });
});
after(async () => idp.close());

async function newUser(email: string) {
  return idp.users.add({ email, password: PASSWORD }, 'test');
}

/** Starts an authorization request; returns the browser at the first page. */
async function authorize(extra: Record<string, string> = {}) {
  const { url, verifier, state } = await authorizationRequest(config, { scope: 'openid offline_access', resource: AUD, prompt: 'consent', ...extra });
  const browser = new Browser();
  const page = await browser.follow(url.toString(), idp.issuer);
  return { browser, page, verifier, state };
}

const postForm = (browser: Browser, html: string, action: string, fields: Record<string, string>) => submitForm(browser, html, action, fields, idp.issuer);

/** Submits consent and follows to the redirect back to the app. */
const consentAndReturn = (browser: Browser, r: { status: number; location: string | undefined; body: string }) => consentAndReturnTo(browser, r, idp.issuer, REDIRECT);

async function signInWithPassword(email: string, extra: Record<string, string> = {}) {
  const a = await authorize(extra);
  assert.match(a.page.body, /Sign in/);
  const r = await postForm(a.browser, a.page.body, 'login', { email, password: PASSWORD });
  return { ...a, r };
}

test('password sign-in: code + PKCE S256, iss in the response (RFC 9207), ID token, RFC 9068 access token with amr/acr/auth_time', async () => {
  const user = await newUser('alice@example.test');
  const { browser, r, verifier, state } = await signInWithPassword('Alice@Example.test');
  const cb = await consentAndReturn(browser, r);
  assert.equal(cb.searchParams.get('iss'), idp.issuer);
  const tokens = await client.authorizationCodeGrant(config, cb, { pkceCodeVerifier: verifier, expectedState: state }, { resource: AUD });
  assert.equal(tokens.claims()!.sub, user.id);
  assert.equal(decodeProtectedHeader(tokens.access_token).typ, 'at+jwt');
  const at = await verifyOwnToken(tokens.access_token, idp.keys, idp.issuer);
  assert.ok(at, 'the access token verifies against the key ring like any Portcullis token');
  assert.equal(at.sub, user.id);
  assert.equal(at.client_id, clientId);
  assert.equal(at.aud, AUD);
  assert.deepEqual(at['amr'], ['pwd']);
  assert.equal(at['acr'], ACR_SINGLE_FACTOR);
  assert.equal(typeof at['auth_time'], 'number');
  assert.equal(idp.revocations.check(at.jti, at.client_id, at.iat * 1000, at.sub), undefined);
  assert.ok(tokens.refresh_token);
});

test('discovery: one document lists client_credentials and the code flow, S256 only, iss parameter supported', async () => {
  const meta = (await (await fetch(`${idp.issuer}/.well-known/openid-configuration`)).json()) as Record<string, unknown>;
  assert.deepEqual(meta['code_challenge_methods_supported'], ['S256']);
  assert.deepEqual(meta['grant_types_supported'], ['client_credentials', 'authorization_code', 'refresh_token']);
  assert.equal(meta['token_endpoint'], `${idp.issuer}/oauth2/token`);
  assert.equal(meta['authorization_response_iss_parameter_supported'], true);
});

test('client credentials still work on the shared /oauth2/token endpoint', async () => {
  const r = await client.clientCredentialsGrant(config, { scope: 'read' });
  assert.equal(decodeJwt(r.access_token).sub, clientId);
});

test('attack: PKCE downgrade to plain is refused', async () => {
  const url = new URL(`${idp.issuer}/oauth2/authorize`);
  url.search = new URLSearchParams({ client_id: clientId, response_type: 'code', redirect_uri: REDIRECT, scope: 'openid', code_challenge: 'a'.repeat(43), code_challenge_method: 'plain', state: 's' }).toString();
  const r = await new Browser().request(url.toString());
  assert.ok(r.location?.startsWith(REDIRECT));
  const loc = new URL(r.location!);
  assert.equal(loc.searchParams.get('error'), 'invalid_request');
  assert.match(loc.searchParams.get('error_description') ?? '', /code_challenge_method/);
});

test('attack: an authorization request without a code_challenge is refused (PKCE required)', async () => {
  const url = new URL(`${idp.issuer}/oauth2/authorize`);
  url.search = new URLSearchParams({ client_id: clientId, response_type: 'code', redirect_uri: REDIRECT, scope: 'openid', state: 's' }).toString();
  const r = await new Browser().request(url.toString());
  assert.equal(new URL(r.location!).searchParams.get('error'), 'invalid_request');
});

test('attack: redirect_uri mismatch and open redirect are refused without redirecting', async () => {
  for (const redirect of ['https://evil.example/cb', `${REDIRECT}/../evil`, `${REDIRECT}?x=1`, 'http://127.0.0.1:9/CB']) {
    const url = new URL(`${idp.issuer}/oauth2/authorize`);
    url.search = new URLSearchParams({ client_id: clientId, response_type: 'code', redirect_uri: redirect, scope: 'openid', code_challenge: 'a'.repeat(43), code_challenge_method: 'S256', state: 's' }).toString();
    const r = await new Browser().request(url.toString());
    assert.equal(r.location, undefined, `no redirect for ${redirect}`);
    assert.equal(r.status, 400);
    assert.match(r.body, /redirect_uri/);
  }
});

test('attack: code replay fails and revokes the tokens issued with the first use', async () => {
  await newUser('replay@example.test');
  const { browser, r, verifier, state } = await signInWithPassword('replay@example.test');
  const cb = await consentAndReturn(browser, r);
  const tokens = await client.authorizationCodeGrant(config, cb, { pkceCodeVerifier: verifier, expectedState: state }, { resource: AUD });
  const at = decodeJwt(tokens.access_token) as { jti: string; client_id: string; iat: number; sub: string };
  await assert.rejects(client.authorizationCodeGrant(config, cb, { pkceCodeVerifier: verifier, expectedState: state }, { resource: AUD }), (e: client.ResponseBodyError) => {
    assert.equal(e.error, 'invalid_grant');
    return true;
  });
  assert.equal(idp.revocations.check(at.jti, at.client_id, at.iat * 1000, at.sub), 'token.revoked');
  await assert.rejects(client.refreshTokenGrant(config, tokens.refresh_token!), (e: client.ResponseBodyError) => e.error === 'invalid_grant');
});

test('attack: a code_verifier that does not match the challenge is refused', async () => {
  await newUser('verifier@example.test');
  const { browser, r, state } = await signInWithPassword('verifier@example.test');
  const cb = await consentAndReturn(browser, r);
  await assert.rejects(client.authorizationCodeGrant(config, cb, { pkceCodeVerifier: client.randomPKCECodeVerifier(), expectedState: state }, { resource: AUD }), (e: client.ResponseBodyError) => e.error === 'invalid_grant');
});

test('refresh tokens rotate on every use; attack: reusing an old one revokes the whole family', async () => {
  await newUser('rotate@example.test');
  const { browser, r, verifier, state } = await signInWithPassword('rotate@example.test');
  const cb = await consentAndReturn(browser, r);
  const t0 = await client.authorizationCodeGrant(config, cb, { pkceCodeVerifier: verifier, expectedState: state }, { resource: AUD });
  const t1 = await client.refreshTokenGrant(config, t0.refresh_token!, { resource: AUD });
  assert.ok(t1.refresh_token && t1.refresh_token !== t0.refresh_token, 'a new refresh token every use');
  await assert.rejects(client.refreshTokenGrant(config, t0.refresh_token!, { resource: AUD }), (e: client.ResponseBodyError) => e.error === 'invalid_grant');
  await assert.rejects(client.refreshTokenGrant(config, t1.refresh_token!, { resource: AUD }), (e: client.ResponseBodyError) => e.error === 'invalid_grant', 'the newest token of the family is revoked too');
  const at = decodeJwt(t1.access_token) as { jti: string; client_id: string; iat: number; sub: string };
  assert.equal(idp.revocations.check(at.jti, at.client_id, at.iat * 1000, at.sub), 'token.revoked');
});

test('TOTP sign-in: the second step adds otp to amr and the MFA acr; attack: the same code replayed in its window is refused', async () => {
  const user = await newUser('totp@example.test');
  const enrol = await idp.totpFactor.enroll({ userId: user.id, address: user.email });
  await idp.totpFactor.confirm({ userId: user.id }, idp.totpNow(enrol.secretBase32!, -30_000));
  const { browser, r, verifier, state } = await signInWithPassword('totp@example.test');
  assert.match(r.body, /Second step/);
  const code = idp.totpNow(enrol.secretBase32!, 30_000); // the next step's: the confirming code used this one up
  const done = await postForm(browser, r.body, 'mfa', { factor: 'totp', code });
  const cb = await consentAndReturn(browser, done);
  const tokens = await client.authorizationCodeGrant(config, cb, { pkceCodeVerifier: verifier, expectedState: state }, { resource: AUD });
  const at = decodeJwt(tokens.access_token);
  assert.deepEqual(at['amr'], ['pwd', 'otp']);
  assert.equal(at['acr'], ACR_MFA);

  const again = await signInWithPassword('totp@example.test');
  const replay = await postForm(again.browser, again.r.body, 'mfa', { factor: 'totp', code });
  assert.equal(replay.status, 401);
  assert.match(replay.body, /already used/);
});

test('e-mail code via the file outbox as second factor; attack: recovery code reuse is refused', async () => {
  const user = await idp.users.add({ email: 'mail@example.test', password: PASSWORD, mfaRequired: true }, 'test');
  // First sign-in: no factor yet, so the user is led through enrolment.
  const first = await signInWithPassword('mail@example.test');
  assert.match(first.r.body, /Set up a second factor/);
  const sent = await postForm(first.browser, first.r.body, 'enroll', { factor: 'email', address: 'mail@example.test' });
  assert.match(sent.body, /Confirm your address/, sent.body);
  const code1 = (await idp.readOutbox()).findLast((m) => m.to === 'mail@example.test')!.code;
  const confirmed = await postForm(first.browser, sent.body, 'enroll-confirm', { factor: 'email', code: code1 });
  assert.match(confirmed.body, /Save your recovery codes/);
  const recoveryCodes = [...confirmed.body.matchAll(/<li><code>([^<]+)<\/code><\/li>/g)].map((m) => m[1]!);
  assert.equal(recoveryCodes.length, 10);
  // a factor set up at sign-in is audited as on the account page, and so are the codes shown
  const mine = idp.audit.events.filter((e) => e.actor === `user:${user.id}`);
  assert.deepEqual(mine.find((e) => e.type === 'user.factor-added')?.data, { userId: user.id, factor: 'email', during: 'sign-in' });
  assert.deepEqual(mine.find((e) => e.type === 'user.recovery-codes-generated')?.data, { userId: user.id, during: 'sign-in' });
  const cont = await postForm(first.browser, confirmed.body, 'continue', {});
  await consentAndReturn(first.browser, cont);

  // Second sign-in: a code by e-mail.
  const second = await signInWithPassword('mail@example.test');
  const asked = await postForm(second.browser, second.r.body, 'send-code', { factor: 'email' });
  assert.match(asked.body, /A code was sent to m\*\*\*@example\.test/);
  const code2 = (await idp.readOutbox()).findLast((m) => m.to === 'mail@example.test')!.code;
  assert.notEqual(code2, code1);
  const ok = await postForm(second.browser, asked.body, 'mfa', { factor: 'email', code: code2 });
  await consentAndReturn(second.browser, ok);
  const lastSignIn = () => idp.audit.events.findLast((e) => e.type === 'signin.succeeded' && e.actor === `user:${user.id}`)?.data;
  assert.deepEqual(lastSignIn(), { amr: ['pwd', 'otp'], factor: 'email' });

  // Recovery code: once, then never again.
  const third = await signInWithPassword('mail@example.test');
  const rc = await postForm(third.browser, third.r.body, 'mfa', { factor: 'recovery-code', code: recoveryCodes[0]! });
  await consentAndReturn(third.browser, rc);
  // the same amr as a code by e-mail: only the factor tells the audit trail a recovery code was spent
  assert.deepEqual(lastSignIn(), { amr: ['pwd', 'otp'], factor: 'recovery-code' });
  const fourth = await signInWithPassword('mail@example.test');
  const reuse = await postForm(fourth.browser, fourth.r.body, 'mfa', { factor: 'recovery-code', code: recoveryCodes[0]! });
  assert.equal(reuse.status, 401);
  assert.ok(user.id);
});

test('attack: user enumeration — unknown user and wrong password get the same page and status', async () => {
  await newUser('enum@example.test');
  const a = await authorize();
  const timed = async (email: string) => {
    const t0 = performance.now();
    const r = await postForm(a.browser, a.page.body, 'login', { email, password: 'not the password at all' });
    return { r, ms: performance.now() - t0 };
  };
  // alternated and the faster of two each, so one pause of a loaded machine does not decide it
  const w1 = await timed('enum@example.test');
  const u1 = await timed('nobody@example.test');
  const u2 = await timed('nobody@example.test');
  const w2 = await timed('enum@example.test');
  const [wrong, unknown] = [w1.r, u1.r];
  assert.equal(wrong.status, 401);
  assert.equal(unknown.status, wrong.status);
  assert.equal(unknown.body, wrong.body);
  assert.equal(w2.r.body, wrong.body);
  assert.equal(u2.r.body, wrong.body);
  // Both spend one Argon2id verification: neither answer is an order of magnitude faster.
  const [tw, tu] = [Math.min(w1.ms, w2.ms), Math.min(u1.ms, u2.ms)];
  assert.ok(tu > tw / 5 && tw > tu / 5, `timings differ too much: wrong password ${tw} ms, unknown user ${tu} ms`);
});

test('attack: password guessing hits the attempt cap with a clear message', async () => {
  await newUser('guess@example.test');
  const a = await authorize();
  let last;
  // Five free failures, the sixth sets a delay: the seventh attempt must wait.
  for (let i = 0; i < 7; i++) last = await postForm(a.browser, a.page.body, 'login', { email: 'guess@example.test', password: `wrong guess number ${i}` });
  assert.equal(last!.status, 429);
  assert.match(last!.body, /Too many failed attempts/);
  // RFC 6585 §4: the 429 says when to retry, in whole seconds (the first delay, 1 s, rounded up)
  assert.match(last!.headers.get('retry-after') ?? '', /^[12]$/);
  // Even the right password is refused while throttled.
  const right = await postForm(a.browser, a.page.body, 'login', { email: 'guess@example.test', password: PASSWORD });
  assert.equal(right.status, 429);
  assert.match(right.headers.get('retry-after') ?? '', /^[12]$/);
});

test('attack: TOTP guessing hits the attempt cap', async () => {
  const user = await newUser('totpguess@example.test');
  const enrol = await idp.totpFactor.enroll({ userId: user.id, address: user.email });
  await idp.totpFactor.confirm({ userId: user.id }, idp.totpNow(enrol.secretBase32!));
  const { browser, r } = await signInWithPassword('totpguess@example.test');
  let last;
  for (let i = 0; i < 7; i++) last = await postForm(browser, r.body, 'mfa', { factor: 'totp', code: String(100000 + i) });
  assert.equal(last!.status, 429);
  assert.match(last!.body, /Too many failed attempts/);
  assert.match(last!.headers.get('retry-after') ?? '', /^[12]$/);
});

test('attack: CSRF — every form POST without the interaction token, or with another one, is refused', async () => {
  await newUser('csrf@example.test');
  const a = await authorize();
  const other = await authorize();
  for (const action of ['login', 'mfa', 'send-code', 'enroll', 'enroll-confirm', 'continue', 'consent', 'abort', 'passkey/options', 'webauthn/register-options']) {
    const url = actionOf(a.page.body, 'login', idp.issuer).replace(/login$/, action);
    const none = await a.browser.request(url, { form: { email: 'csrf@example.test', password: PASSWORD } });
    assert.equal(none.status, 403, `${action} without a token`);
    const foreign = await a.browser.request(url, { form: { csrf: csrfOf(other.page.body), email: 'csrf@example.test', password: PASSWORD } });
    assert.equal(foreign.status, 403, `${action} with another interaction's token`);
  }
});

test('attack: the sign-in page cannot be framed by another origin (CSP frame-ancestors, X-Frame-Options)', async () => {
  const a = await authorize();
  assert.equal(a.page.status, 200);
  assert.match(a.page.headers.get('content-security-policy') ?? '', /frame-ancestors 'none'/);
  assert.equal(a.page.headers.get('x-frame-options'), 'DENY');
  assert.doesNotMatch(a.page.body, /<script>/, 'no inline script (CSP without unsafe-inline)');
});

test('sessions: listed per user; ending all makes every token of the user fail at the gateway', async () => {
  const user = await newUser('sessions@example.test');
  const { browser, r, verifier, state } = await signInWithPassword('sessions@example.test');
  const cb = await consentAndReturn(browser, r);
  const tokens = await client.authorizationCodeGrant(config, cb, { pkceCodeVerifier: verifier, expectedState: state }, { resource: AUD });
  const sessions = await idp.oidc.listSessions(user.id);
  assert.equal(sessions.length, 1);
  assert.deepEqual(sessions[0]!.clients, [clientId]);
  const at = decodeJwt(tokens.access_token) as { jti: string; client_id: string; iat: number; sub: string };
  assert.equal(idp.revocations.check(at.jti, at.client_id, at.iat * 1000, at.sub), undefined);
  await new Promise((res) => setTimeout(res, 5));
  await idp.users.endAllSessions(user.id, 'test');
  assert.equal(idp.revocations.check(at.jti, at.client_id, at.iat * 1000, at.sub), 'token.revoked');
  assert.deepEqual(await idp.oidc.listSessions(user.id), []);
  await assert.rejects(client.refreshTokenGrant(config, tokens.refresh_token!), (e: client.ResponseBodyError) => e.error === 'invalid_grant');
});

/**
 * Sets a revocation cutoff with `cut` early in a second (so that a sign-in right after its
 * answer would still fall in the cutoff's second), then signs `email` in to the app at once:
 * the cutoff compares whole seconds, and the tokens of that sign-in must work all the same.
 */
async function signInRightAfter(email: string, what: string, cut: (userId: string) => Promise<number>) {
  const user = await newUser(email);
  await new Promise((res) => setTimeout(res, 1005 - (Date.now() % 1000)));
  const cutoff = await cut(user.id);
  const answered = Date.now();
  const { browser, r, verifier, state } = await signInWithPassword(email);
  const cb = await consentAndReturn(browser, r);
  const tokens = await client.authorizationCodeGrant(config, cb, { pkceCodeVerifier: verifier, expectedState: state }, { resource: AUD });
  const at = decodeJwt(tokens.access_token) as { jti: string; client_id: string; iat: number; sub: string };
  assert.ok(at.iat * 1000 >= cutoff, `iat ${at.iat} is not before the cutoff ${cutoff}`);
  assert.equal(idp.revocations.check(at.jti, at.client_id, at.iat * 1000, at.sub), undefined);
  const refreshed = await client.refreshTokenGrant(config, tokens.refresh_token!);
  assert.equal(decodeJwt(refreshed.access_token).sub, user.id);
  assert.ok(answered >= Math.floor(cutoff / 1000) * 1000 + 1000, `${what} answers once the cutoff's second has passed`);
}

test('end-sessions, then a new sign-in at once: its tokens work, although the cutoff compares whole seconds', () =>
  signInRightAfter('again@example.test', 'end-sessions', async (userId) => (await idp.users.endAllSessions(userId, 'test')).tokensRevokedBefore));

test('app revoke-tokens, then a new sign-in to that app at once: its tokens work, although the cutoff compares whole seconds', () =>
  signInRightAfter('after-revoke@example.test', 'app revoke-tokens', async () => (await idp.apps.revokeTokens(clientId, 'test')).tokensRevokedBefore));

test('app disable then enable, then a new sign-in to that app at once: its tokens work, although the cutoff compares whole seconds', () =>
  signInRightAfter('after-enable@example.test', 'app disable', async () => {
    const { tokensRevokedBefore } = await idp.apps.disable(clientId, 'test');
    await idp.apps.enable(clientId, 'test');
    return tokensRevokedBefore;
  }));

test('RP-initiated logout ends the session at the provider', async () => {
  const user = await newUser('logout@example.test');
  const { browser, r, verifier, state } = await signInWithPassword('logout@example.test');
  const cb = await consentAndReturn(browser, r);
  const tokens = await client.authorizationCodeGrant(config, cb, { pkceCodeVerifier: verifier, expectedState: state }, { resource: AUD });
  const url = client.buildEndSessionUrl(config, { id_token_hint: tokens.id_token! });
  const confirm = await browser.follow(url.toString(), idp.issuer);
  assert.match(confirm.body, /Sign out\?/, `${confirm.status} ${confirm.location} ${confirm.body.slice(0, 500)}`);
  const xsrf = /name="xsrf" value="([^"]+)"/.exec(confirm.body)![1]!;
  const action = /action="([^"]+)"/.exec(confirm.body)![1]!;
  const out = await browser.request(new URL(action, idp.issuer).toString(), { form: { xsrf, logout: 'yes' } });
  const end = out.location ? await browser.follow(out.location, idp.issuer) : out;
  assert.match(end.body, /signed out/i);
  assert.deepEqual(await idp.oidc.listSessions(user.id), []);
});

/** A sign-in at an app of its own (its watermark moves), returning its tokens. */
async function tokensAtOwnApp(email: string) {
  const { app, clientSecret } = await idp.apps.create({ name: `own-${email}`, audiences: [AUD], scopes: ['read'], redirectUris: [REDIRECT] }, 'test');
  const cfg = await client.discovery(new URL(idp.issuer), app.clientId, clientSecret!, undefined, { execute: [client.allowInsecureRequests] });
  await newUser(email);
  const { url, verifier, state } = await authorizationRequest(cfg, { scope: 'openid offline_access', resource: AUD, prompt: 'consent' });
  const browser = new Browser();
  const page = await browser.follow(url.toString(), idp.issuer);
  const r = await postForm(browser, page.body, 'login', { email, password: PASSWORD });
  const cb = await consentAndReturn(browser, r);
  const tokens = await client.authorizationCodeGrant(cfg, cb, { pkceCodeVerifier: verifier, expectedState: state }, { resource: AUD });
  return { app, cfg, tokens };
}

test('attack: a refresh token issued before app revoke-tokens no longer redeems', async () => {
  const { app, cfg, tokens } = await tokensAtOwnApp('app-revoke@example.test');
  await new Promise((res) => setTimeout(res, 1_100)); // iat has whole seconds
  await idp.apps.revokeTokens(app.clientId, 'test');
  await assert.rejects(client.refreshTokenGrant(cfg, tokens.refresh_token!, { resource: AUD }), (e: client.ResponseBodyError) => e.error === 'invalid_grant');
});

test('attack: app disable then enable does not bring back the refresh tokens issued before the disable', async () => {
  const { app, cfg, tokens } = await tokensAtOwnApp('app-reenable@example.test');
  await new Promise((res) => setTimeout(res, 1_100));
  await idp.apps.disable(app.clientId, 'test');
  await assert.rejects(client.refreshTokenGrant(cfg, tokens.refresh_token!, { resource: AUD }), (e: client.ResponseBodyError) => e.error === 'invalid_client');
  await idp.apps.enable(app.clientId, 'test');
  await assert.rejects(client.refreshTokenGrant(cfg, tokens.refresh_token!, { resource: AUD }), (e: client.ResponseBodyError) => e.error === 'invalid_grant');
});

test('attack: user disable then enable does not bring back the refresh tokens issued before the disable', async () => {
  const { cfg, tokens } = await tokensAtOwnApp('user-reenable@example.test');
  const user = (await idp.store.getUserByEmail('user-reenable@example.test'))!;
  await new Promise((res) => setTimeout(res, 1_100));
  await idp.users.disable(user.id, 'test');
  await idp.users.enable(user.id, 'test');
  await assert.rejects(client.refreshTokenGrant(cfg, tokens.refresh_token!, { resource: AUD }), (e: client.ResponseBodyError) => e.error === 'invalid_grant');
});

test('attack: RFC 7009 — a JWT access token revoked with token_type_hint=refresh_token is revoked (the hint does not restrict the search)', async () => {
  const { app, tokens } = await tokensAtOwnApp('revoke-hint@example.test');
  const secret = (await idp.apps.rotateSecret(app.clientId, 'test')).clientSecret;
  const auth = 'Basic ' + Buffer.from(`${app.clientId}:${secret}`).toString('base64');
  const revoke = (token: string, hint: string) =>
    fetch(`${idp.issuer}/oauth2/revoke`, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded', authorization: auth }, body: new URLSearchParams({ token, token_type_hint: hint }) });
  const res = await revoke(tokens.access_token, 'refresh_token');
  assert.equal(res.status, 200, await res.text());
  const at = decodeJwt(tokens.access_token) as { jti: string; client_id: string; iat: number; sub: string };
  assert.equal(idp.revocations.check(at.jti, at.client_id, at.iat * 1000, at.sub), 'token.revoked');
  // and the other way round: a refresh token with hint=access_token is revoked too
  const rt = await revoke(tokens.refresh_token!, 'access_token');
  assert.equal(rt.status, 200);
  const cfg2 = await client.discovery(new URL(idp.issuer), app.clientId, secret, undefined, { execute: [client.allowInsecureRequests] });
  await assert.rejects(client.refreshTokenGrant(cfg2, tokens.refresh_token!, { resource: AUD }), (e: client.ResponseBodyError) => e.error === 'invalid_grant');
});

test('attack: after an admin MFA reset, the sessions and tokens signed in with the old factor stop working', async () => {
  const user = await newUser('reset-mfa@example.test');
  const enrol = await idp.totpFactor.enroll({ userId: user.id, address: user.email });
  await idp.totpFactor.confirm({ userId: user.id }, idp.totpNow(enrol.secretBase32!, -30_000));
  const { browser, r, verifier, state } = await signInWithPassword('reset-mfa@example.test');
  const done = await postForm(browser, r.body, 'mfa', { factor: 'totp', code: idp.totpNow(enrol.secretBase32!, 30_000) });
  const cb = await consentAndReturn(browser, done);
  const tokens = await client.authorizationCodeGrant(config, cb, { pkceCodeVerifier: verifier, expectedState: state }, { resource: AUD });
  const at = decodeJwt(tokens.access_token) as { jti: string; client_id: string; iat: number; sub: string; acr: string };
  assert.equal(at.acr, ACR_MFA);
  assert.equal((await idp.oidc.listSessions(user.id)).length, 1);
  await idp.users.resetMfa(user.id, 'test');
  assert.deepEqual(await idp.oidc.listSessions(user.id), []);
  assert.equal(idp.revocations.check(at.jti, at.client_id, at.iat * 1000, at.sub), 'token.revoked');
  await assert.rejects(client.refreshTokenGrant(config, tokens.refresh_token!, { resource: AUD }), (e: client.ResponseBodyError) => e.error === 'invalid_grant');
});
