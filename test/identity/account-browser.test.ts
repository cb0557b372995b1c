/**
 * Headless Chromium on a whole node (issuer on `localhost`, the WebAuthn RP id; SMS
 * codes to the file outbox): a user signed in with TOTP adds a passkey on the account
 * page with Chromium's virtual authenticator (CDP WebAuthn domain) through the page's
 * own script, then signs in with it, passwordless; a sign-in with a texted code.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as client from 'openid-client';
import { decodeJwt } from 'jose';
import { chromium, type BrowserContext, type Page } from 'playwright-core';
import { readOutbox } from '../../src/mfa/otp/senders/file-outbox.js';
import { authorizationRequest, enrolTotp, startOidcNode, totpCode } from '../support/oidc-node.js';
import type { TestNode } from '../support/portcullis.js';

const CHROMIUM = '/usr/bin/chromium';
const HAVE = existsSync(CHROMIUM);
const REDIRECT = 'http://127.0.0.1:9/cb';
const AUD = 'https://api.example.test';
const PASSWORD = 'plum tractor velvet orbit';
const name = (t: string) => (HAVE ? t : `${t} (skipped: ${CHROMIUM} is not installed; apt-get install chromium)`);

let node: TestNode;
let issuer: string;
let config: client.Configuration;
let ctx: BrowserContext;
let profile: string;

before(async () => {
  if (!HAVE) return;
  node = await startOidcNode('identity: { otp: { channel: sms, sender: file } }', { issuerHost: 'localhost' });
  issuer = `http://localhost:${new URL(node.urls.identity!).port}`;
  const { app, clientSecret } = await node.services.apps.create({ name: 'web', audiences: [AUD], scopes: ['read'], redirectUris: [REDIRECT] }, 'test');
  config = await client.discovery(new URL(issuer), app.clientId, clientSecret!, undefined, { execute: [client.allowInsecureRequests] });
  profile = mkdtempSync(join(tmpdir(), 'pc-chromium-acct-'));
  ctx = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    headless: true,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
  await ctx.route(`${REDIRECT}**`, (route) => route.fulfill({ status: 200, body: 'app callback' }));
});
after(async () => {
  if (!HAVE) return;
  await ctx.close();
  await node.stop();
  rmSync(profile, { recursive: true, force: true });
});

async function start(page: Page) {
  const { url, verifier, state } = await authorizationRequest(config, { resource: AUD });
  await page.goto(url.toString());
  return { verifier, state };
}

async function finish(page: Page, flow: { verifier: string; state: string }) {
  for (let i = 0; i < 80 && !page.url().startsWith(REDIRECT); i++) {
    const allow = page.getByRole('button', { name: 'Allow' });
    if (await allow.isVisible().catch(() => false)) await allow.click();
    else await page.waitForTimeout(100);
  }
  assert.ok(page.url().startsWith(REDIRECT), `not back at the app: ${page.url()} ${(await page.content()).slice(0, 400)}`);
  return client.authorizationCodeGrant(config, new URL(page.url()), { pkceCodeVerifier: flow.verifier, expectedState: flow.state }, { resource: AUD });
}

test(name('account page in Chromium: a TOTP-signed-in user adds a passkey with the virtual authenticator, then signs in with it passwordless'), { skip: !HAVE }, async () => {
  const user = await node.services.identity.users.add({ email: 'browser-keys@example.test', password: PASSWORD }, 'test');
  const seed = await enrolTotp(node, user.id);
  const page = await ctx.newPage();
  const cdp = await ctx.newCDPSession(page);
  await cdp.send('WebAuthn.enable');
  await cdp.send('WebAuthn.addVirtualAuthenticator', {
    options: { protocol: 'ctap2', transport: 'internal', hasResidentKey: true, hasUserVerification: true, isUserVerified: true, automaticPresenceSimulation: true },
  });

  const f1 = await start(page);
  await page.getByLabel('E-mail address').fill('browser-keys@example.test');
  await page.getByLabel('Password').fill(PASSWORD);
  await page.getByRole('button', { name: 'Sign in', exact: true }).click();
  await page.getByRole('heading', { name: 'Second step' }).waitFor();
  await page.locator('#code-totp').fill(totpCode(seed, Date.now() + 30_000));
  await page.locator('form[action$="/mfa"]').first().getByRole('button', { name: 'Verify' }).click();
  await finish(page, f1);

  await page.goto(`${issuer}/account`);
  await page.getByRole('heading', { name: 'Your account' }).waitFor();
  await page.getByLabel('Name for this key').fill('Laptop');
  await page.locator('#passkey-password').fill(PASSWORD);
  await page.getByRole('button', { name: 'Add a passkey' }).click();
  await page.getByText('Passkey or security key: Laptop').waitFor({ timeout: 10_000 }).catch(async (e) => {
    throw new Error(`${page.url()} ${(await page.content()).slice(0, 800)}`, { cause: e });
  });
  const creds = await node.services.store.listWebAuthnCredentials(user.id);
  assert.deepEqual(creds.map((c) => c.name), ['Laptop']);

  await ctx.clearCookies();
  const f2 = await start(page);
  await page.getByRole('button', { name: 'Sign in with a passkey' }).click();
  const t2 = await finish(page, f2);
  const at = decodeJwt(t2.access_token);
  assert.equal(at.sub, user.id);
  assert.deepEqual(at['amr'], ['hwk', 'user']);
  await page.close();
});

test(name('SMS code sign-in in Chromium: "Send a code" texts it (file outbox), the user types it'), { skip: !HAVE }, async () => {
  const user = await node.services.identity.users.add({ email: 'browser-sms@example.test', password: PASSWORD }, 'test');
  const outbox = join(node.dir, 'otp-outbox.jsonl');
  const sms = node.services.identity.factors.find((f) => f.id === 'sms')!;
  await sms.enroll({ userId: user.id, address: '+15550001111' });
  await sms.confirm({ userId: user.id }, (await readOutbox(outbox)).findLast((m) => m.to === '+15550001111')!.code);
  await node.services.ephemeral.delete(`mfa:otp-send:sms:${user.id}`); // the 30 s resend interval, elapsed
  await ctx.clearCookies();
  const page = await ctx.newPage();
  const flow = await start(page);
  await page.getByLabel('E-mail address').fill('browser-sms@example.test');
  await page.getByLabel('Password').fill(PASSWORD);
  await page.getByRole('button', { name: 'Sign in', exact: true }).click();
  await page.getByRole('heading', { name: 'Code by text message' }).waitFor();
  await page.getByRole('button', { name: 'Send a code' }).click();
  await page.getByText('A code was sent to +15*******11.').waitFor();
  const texted = (await readOutbox(outbox)).findLast((m) => m.to === '+15550001111')!;
  assert.equal(texted.purpose, 'sign-in');
  await page.locator('#code-sms').fill(texted.code);
  await page.locator('form[action$="/mfa"]').first().getByRole('button', { name: 'Verify' }).click();
  const tokens = await finish(page, flow);
  assert.deepEqual(decodeJwt(tokens.access_token)['amr'], ['pwd', 'sms', 'otp']);
  await page.close();
});
