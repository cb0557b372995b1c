/**
 * User sign-in against a whole Portcullis node (app.ts composition): openid-client as
 * the app, the cookie-keeping no-JavaScript browser of oidc-harness.ts as the user.
 */
import assert from 'node:assert/strict';
import * as client from 'openid-client';
import { configSchema } from '../../src/core/config/schema.js';
import { totp } from '../../src/mfa/totp/hotp.js';
import { Secret } from 'otpauth';
import { Browser, actionOf, csrfOf } from './oidc-harness.js';
import { readFileSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { startPortcullis, type Portcullis } from '../../src/app.js';
import type { Clock } from '../../src/core/clock.js';
import { silentLogger, type Logger } from '../../src/core/logger.js';
import { CONFIG_FILE, initPortcullis } from '../../src/init.js';
import { tempDir, type TestNode } from './portcullis.js';

/** Plain HTTP listeners where the schema knows TLS modes (the default is auto). */
export const TLS_OFF = 'tls' in configSchema.shape ? 'tls: { mode: off }' : '';

export const REDIRECT = 'http://127.0.0.1:9/cb';

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
    s.on('error', reject);
  });
}

/**
 * A whole node whose issuer is its identity plane's real URL (OIDC clients compare the
 * two), so the identity plane listens on a port chosen before start.
 */
export async function startOidcNode(extra = '', opts: { issuerHost?: string; clock?: Clock; logger?: Logger } = {}): Promise<TestNode> {
  const [identity, gateway, admin] = [await freePort(), await freePort(), await freePort()];
  const dir = tempDir('portcullis-oidc-');
  // WebAuthn in a browser needs a domain as RP id: `localhost` still reaches 127.0.0.1.
  // plain HTTP unless `extra` configures tls (then the issuer is https)
  const tls = /^tls:/m.test(extra);
  const config = `issuer: http${tls ? 's' : ''}://${opts.issuerHost ?? '127.0.0.1'}:${identity}\nlisten: { identity: 127.0.0.1:${identity}, gateway: 127.0.0.1:${gateway}, admin: 127.0.0.1:${admin} }\nlog: { level: silent }\n${tls ? '' : TLS_OFF}\n${extra}\n`;
  await initPortcullis(dir, { config });
  const node = await startPortcullis({ configFile: join(dir, CONFIG_FILE), logger: opts.logger ?? silentLogger, env: {}, ...(opts.clock ? { clock: opts.clock } : {}) });
  const adminToken = readFileSync(join(dir, 'admin.token'), 'utf8').trim();
  return {
    ...node,
    dir,
    adminToken,
    stop: async () => {
      await node.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/**
 * Stops `node` (its directory kept) and starts a new node on the same config: the same
 * database, ports and issuer, and a new process memory (as a restart or a crash leaves it).
 */
export async function restartOidcNode(node: TestNode, opts: { clock?: Clock } = {}): Promise<TestNode> {
  await node.close();
  const next = await startPortcullis({ configFile: join(node.dir, CONFIG_FILE), logger: silentLogger, env: {}, ...(opts.clock ? { clock: opts.clock } : {}) });
  return {
    ...next,
    dir: node.dir,
    adminToken: node.adminToken,
    stop: async () => {
      await next.close();
      rmSync(node.dir, { recursive: true, force: true });
    },
  };
}

/**
 * A node with two confidential sign-in apps for `audience` (`appA` ready for openid-client,
 * `b` as its id and secret) and one user: for tests of one app reaching for the other's
 * tokens (revocation, introspection).
 */
export async function startTwoAppNode(audience: string, user: { email: string; password: string }): Promise<{ node: TestNode; appA: OidcApp; b: { id: string; secret: string } }> {
  const node = await startOidcNode();
  const appA = await registerOidcApp(node, audience);
  const created = await node.services.apps.create({ name: 'other-web', audiences: [audience], scopes: ['read'], redirectUris: [REDIRECT] }, 'test');
  await node.services.identity.users.add(user, 'test');
  return { node, appA, b: { id: created.app.clientId, secret: created.clientSecret! } };
}

/**
 * A code-flow authorization request with PKCE S256 (openid-client builds it): its URL, the
 * code_verifier and the state. `params` adds to or overrides the defaults.
 */
export async function authorizationRequest(config: client.Configuration, params: Record<string, string> = {}) {
  const verifier = client.randomPKCECodeVerifier();
  const state = client.randomState();
  const url = client.buildAuthorizationUrl(config, {
    redirect_uri: REDIRECT,
    scope: 'openid',
    code_challenge: await client.calculatePKCECodeChallenge(verifier),
    code_challenge_method: 'S256',
    state,
    prompt: 'login consent',
    ...params,
  });
  return { url: url.toString(), verifier, state };
}

export interface OidcApp {
  clientId: string;
  config: client.Configuration;
}

/** Registers a confidential app with a redirect URI on the node and discovers it. */
export async function registerOidcApp(node: Portcullis, audience: string, opts: { mfaRequired?: boolean } = {}): Promise<OidcApp> {
  const { app, clientSecret } = await node.services.apps.create({ name: 'web', audiences: [audience], scopes: ['read'], redirectUris: [REDIRECT], ...(opts.mfaRequired ? { mfaRequired: true } : {}) }, 'test');
  const config = await client.discovery(new URL(node.urls.identity!), app.clientId, clientSecret!, undefined, { execute: [client.allowInsecureRequests] });
  return { clientId: app.clientId, config };
}

export async function post(browser: Browser, issuer: string, html: string, action: string, fields: Record<string, string>) {
  return browser.request(actionOf(html, action, issuer), { form: { csrf: csrfOf(html), ...fields } });
}

/** The current TOTP code of a base32 seed. */
export function totpCode(secretBase32: string, nowMs = Date.now()): string {
  return totp(new Uint8Array(Secret.fromBase32(secretBase32).buffer), nowMs, { algorithm: 'SHA1', digits: 6, period: 30 });
}

/**
 * Signs `email` in through the pages (password, then a TOTP code when `totpSecret` is
 * given), consents, and redeems the code for tokens bound to `audience`. The TOTP code is
 * the next step's (inside the ±1 window): once a code was accepted — at enrolment — no
 * code for the current step or an earlier one is. `nowMs`: the node's time, when its clock is moved.
 */
export async function signIn(
  node: Portcullis,
  app: OidcApp,
  audience: string,
  email: string,
  password: string,
  opts: { totpSecret?: string; browser?: Browser; extra?: Record<string, string>; nowMs?: number } = {},
): Promise<{ tokens: client.TokenEndpointResponse & client.TokenEndpointResponseHelpers; browser: Browser }> {
  const issuer = node.urls.identity!;
  const { url, verifier, state } = await authorizationRequest(app.config, { scope: 'openid offline_access', resource: audience, ...(opts.extra ?? {}) });
  const browser = opts.browser ?? new Browser();
  let r = await browser.follow(url.toString(), issuer);
  assert.match(r.body, /Sign in/, `expected the sign-in page, got ${r.status} ${r.body.slice(0, 300)}`);
  r = await post(browser, issuer, r.body, 'login', { email, password });
  if (opts.totpSecret) {
    assert.match(r.body, /Second step/, `expected the second step, got ${r.status} ${r.body.slice(0, 300)}`);
    r = await post(browser, issuer, r.body, 'mfa', { factor: 'totp', code: totpCode(opts.totpSecret, (opts.nowMs ?? Date.now()) + 30_000) });
  }
  if (r.location?.startsWith(issuer)) r = await browser.follow(r.location, issuer);
  // Another user was signed in in this browser: oidc-provider ends that session first
  // through a self-submitting form (what a browser's script does, done by hand here).
  if (r.body.includes('Submitting Callback')) r = await submitAutoForm(browser, issuer, r.body);
  if (r.body.includes('Allow access?')) {
    r = await post(browser, issuer, r.body, 'consent', {});
    if (r.location?.startsWith(issuer)) r = await browser.follow(r.location, issuer);
  }
  assert.ok(r.location?.startsWith(REDIRECT), `expected a redirect to the app, got ${r.status} ${r.location} ${r.body.slice(0, 300)}`);
  const tokens = await client.authorizationCodeGrant(app.config, new URL(r.location!), { pkceCodeVerifier: verifier, expectedState: state }, { resource: audience });
  return { tokens, browser };
}

/** Submits oidc-provider's self-submitting form_post page as its script would, then follows redirects. */
async function submitAutoForm(browser: Browser, issuer: string, html: string) {
  const action = /<form method="post" action="([^"]+)"/.exec(html)?.[1];
  assert.ok(action, 'a form in the page');
  const fields: Record<string, string> = {};
  for (const m of html.matchAll(/<input type="hidden" name="([^"]+)" value="([^"]*)"\/?>/g)) fields[m[1]!] = m[2]!.replace(/&amp;/g, '&');
  let r = await browser.request(new URL(action.replace(/&amp;/g, '&'), issuer).toString(), { form: fields });
  if (r.location?.startsWith(issuer)) r = await browser.follow(r.location, issuer);
  return r;
}

/** Enrols and confirms TOTP for a user directly through the factor (at the node's time `nowMs`); returns the base32 seed. */
export async function enrolTotp(node: Portcullis, userId: string, nowMs = Date.now()): Promise<string> {
  const f = node.services.identity.factors.find((x) => x.id === 'totp')!;
  const out = await f.enroll({ userId });
  // The current step's code; a sign-in after it uses the next step's (`signIn` does).
  await f.confirm({ userId }, totpCode(out.secretBase32!, nowMs));
  return out.secretBase32!;
}

/**
 * Stores the refresh token a refresh under way would rotate `found` into (oidc-provider's own
 * fields, `rotations: 1`, the family's `iiat` kept), as if that refresh saved it now: for races
 * between a refresh and a revocation. Returns the new token's value.
 *
 * @example const value = await saveRotatedRefreshToken(provider, app.clientId, await provider.RefreshToken.find(rt));
 */
export async function saveRotatedRefreshToken(provider: any, clientId: string, found: any): Promise<string> {
  const rotated = new provider.RefreshToken({
    accountId: found.accountId,
    acr: found.acr,
    amr: found.amr,
    authTime: found.authTime,
    client: await provider.Client.find(clientId),
    expiresWithSession: found.expiresWithSession,
    iiat: found.iiat,
    grantId: found.grantId,
    gty: found.gty,
    resource: found.resource,
    rotations: 1,
    scope: found.scope,
    sessionUid: found.sessionUid,
    sid: found.sid,
  });
  return rotated.save();
}
