/**
 * The SDK is web-standard (review #5): bundled for the browser and run in headless
 * Chromium, where neither `Buffer` nor `process` exists, `verifyResponse` and
 * `verifyWebhook` verify what Portcullis signs and refuse a tampered body with the
 * SDK's own PortcullisError codes (never a `ReferenceError`).
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { generateKeyPairSync } from 'node:crypto';
import { build } from 'esbuild';
import { chromium, type BrowserContext } from 'playwright-core';
import { systemClock } from '../../src/core/clock.js';
import { importParams } from '../../src/signatures/algorithms.js';
import { contentDigest } from '../../src/signatures/content-digest.js';
import { signMessage } from '../../src/signatures/sign.js';
import { DELIVERY_HEADER, KeyRingWebhookSigner, WEBHOOK_TAG } from '../../src/webhooks/sign.js';

const CHROMIUM = '/usr/bin/chromium';
const HAVE = existsSync(CHROMIUM);
const name = (t: string) => (HAVE ? t : `${t} (skipped: ${CHROMIUM} is not installed; apt-get install chromium)`);
const root = resolve(dirname(fileURLToPath(import.meta.url)), '../..');

let ctx: BrowserContext;
let profile: string;
let server: Server;
let origin: string;

before(async () => {
  if (!HAVE) return;
  const bundle = await build({ entryPoints: [join(root, 'src/sdk/index.ts')], bundle: true, format: 'iife', globalName: 'PortcullisSDK', platform: 'browser', write: false, logLevel: 'silent' });
  const js = bundle.outputFiles[0]!.text;
  server = createServer((req, res) => {
    if (req.url === '/sdk.js') res.writeHead(200, { 'content-type': 'text/javascript' }).end(js);
    else res.writeHead(200, { 'content-type': 'text/html' }).end('<!doctype html><script src="/sdk.js"></script>');
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  origin = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
  profile = mkdtempSync(join(tmpdir(), 'pc-chromium-sdk-'));
  ctx = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    headless: true,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
});
after(async () => {
  if (!HAVE) return;
  await ctx.close();
  await new Promise((r) => server.close(r));
  rmSync(profile, { recursive: true, force: true });
});

describe('the SDK in a browser (no Buffer, no process)', () => {
  test(name('verifyResponse and verifyWebhook verify signed messages; a tampered body is digest.mismatch, a replayed webhook signature.replayed, one for another tag signature.wrong-tag'), { skip: !HAVE }, async () => {
    const pair = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    const jwk = { ...pair.publicKey.export({ format: 'jwk' }), kid: 'pc1', alg: 'ES256', use: 'sig' };
    const signKey = await crypto.subtle.importKey('jwk', pair.privateKey.export({ format: 'jwk' }) as JsonWebKey, importParams('ecdsa-p256-sha256'), false, ['sign']);
    // a signed response, as the gateway's response signer makes it
    const body = '{"ok":true,"items":[1,2,3]}';
    const headers: Record<string, string> = { 'content-type': 'application/json', 'content-digest': await contentDigest(new TextEncoder().encode(body)) };
    const s = await signMessage({ status: 200, headers }, { key: signKey, alg: 'ecdsa-p256-sha256', keyid: 'pc1', components: ['@status', 'content-digest'] });
    const response = { body, headers: { ...headers, 'signature-input': s.signatureInput, signature: s.signature } };
    // a webhook, as the delivery worker signs it
    const hookUrl = 'https://hooks.example/in';
    const event = JSON.stringify({ id: 'evt_1', type: 'app.disabled', time: new Date().toISOString(), client_id: 'app_1', data: {} });
    const signer = new KeyRingWebhookSigner({ signingKey: () => ({ kid: 'pc1', alg: 'ES256', privateKey: pair.privateKey }) }, systemClock);
    const hookHeaders: Record<string, string> = {};
    (await signer.signedHeaders(hookUrl, new TextEncoder().encode(event), WEBHOOK_TAG, { [DELIVERY_HEADER]: 'dlv_1' })).forEach((v, k) => (hookHeaders[k] = v));

    const page = await ctx.newPage();
    await page.goto(origin);
    // a string, not a function: the test's transpiler would wrap named functions in helpers the page lacks
    const out = await page.evaluate(`(async ({ jwk, response, hookUrl, event, hookHeaders }) => {
      const sdk = globalThis.PortcullisSDK;
      const result = { buffer: typeof globalThis.Buffer, process: typeof globalThis.process, secure: globalThis.isSecureContext };
      async function outcome(f) {
        try {
          const v = await f();
          return 'ok ' + v.label + ' ' + v.keyid;
        } catch (e) {
          return e?.name + ': ' + (e?.code ?? e?.message);
        }
      }
      const keys = { keys: [jwk] };
      // built here, the response answers no request: without the explicit opt-out it is refused
      result.responseWithoutRequest = await outcome(() => sdk.verifyResponse(new Response(response.body, { status: 200, headers: response.headers }), keys));
      result.response = await outcome(() => sdk.verifyResponse(new Response(response.body, { status: 200, headers: response.headers }), { ...keys, requestBinding: false }));
      result.tamperedResponse = await outcome(() => sdk.verifyResponse(new Response(response.body.replace('1', '9'), { status: 200, headers: response.headers }), { ...keys, requestBinding: false }));
      result.webhook = await outcome(() => sdk.verifyWebhook(new Request(hookUrl, { method: 'POST', headers: hookHeaders, body: event }), keys));
      result.tamperedWebhook = await outcome(() => sdk.verifyWebhook(new Request(hookUrl, { method: 'POST', headers: hookHeaders, body: event.replace('app_1', 'app_2') }), keys));
      result.replayedWebhook = await outcome(() => sdk.verifyWebhook(new Request(hookUrl, { method: 'POST', headers: hookHeaders, body: event }), keys));
      result.eventAtOtpReceiver = await outcome(() => sdk.verifyWebhook(new Request(hookUrl, { method: 'POST', headers: hookHeaders, body: event }), { ...keys, tag: sdk.OTP_TAG }));
      return result;
    })(${JSON.stringify({ jwk, response, hookUrl, event, hookHeaders })})`);
    await page.close();
    assert.deepEqual(out, {
      buffer: 'undefined',
      process: 'undefined',
      secure: true,
      responseWithoutRequest: 'PortcullisError: signature.request-unknown',
      response: 'ok sig1 pc1',
      tamperedResponse: 'PortcullisError: digest.mismatch',
      webhook: 'ok sig1 pc1',
      tamperedWebhook: 'PortcullisError: digest.mismatch',
      replayedWebhook: 'PortcullisError: signature.replayed',
      eventAtOtpReceiver: 'PortcullisError: signature.wrong-tag',
    });
  });
});
