/**
 * The interaction pages act on the interaction oidc-provider reads from the `_interaction`
 * cookie (`interactionDetails`), not on the one the URL names. A browser whose cookie names
 * another interaction than `/interaction/:uid` (two sign-ins in one cookie jar, or a cookie
 * tossed in with a narrower Path by a sibling subdomain) would be shown, and would post
 * into, an interaction other than the page it asked for. Every page and step refuses that
 * with 403 `auth.interaction-mismatch`, audited as `signin.interaction-mismatch`, before
 * it acts on either interaction: no password checked, no attempt counted, no state, no result.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import * as client from 'openid-client';
import { Browser, csrfOf, startIdentity, type Identity } from '../support/oidc-harness.js';
import { authorizationRequest } from '../support/oidc-node.js';

const REDIRECT = 'http://127.0.0.1:9/cb';
const AUD = 'https://api.example.test';
const PASSWORD = 'plum tractor velvet orbit';
const JSON_ACCEPT = { accept: 'application/json' };
let idp: Identity;
let config: client.Configuration;

before(async () => {
  idp = await startIdentity();
  const { app, clientSecret } = await idp.apps.create({ name: 'web', audiences: [AUD], scopes: ['read'], redirectUris: [REDIRECT] }, 'test');
  config = await client.discovery(new URL(idp.issuer), app.clientId, clientSecret!, undefined, { execute: [client.allowInsecureRequests] });
});
after(async () => idp.close());

const title = (html: string) => /<title>([^<]*)/.exec(html)?.[1];

/** Starts an authorization request in `browser`; its `_interaction` cookie now names this one. */
async function authorize(browser: Browser) {
  const { url } = await authorizationRequest(config, { scope: 'openid', resource: AUD });
  const page = await browser.follow(url.toString(), idp.issuer);
  assert.equal(title(page.body), 'Sign in');
  const uid = /action="[^"]*\/interaction\/([^/"]+)\//.exec(page.body)![1]!;
  return { uid, csrf: csrfOf(page.body) };
}

/** Two sign-ins in one cookie jar: the cookie names `b`, the older `a` is only in a URL. */
async function twoInOneJar() {
  const browser = new Browser();
  const a = await authorize(browser);
  const b = await authorize(browser);
  assert.notEqual(a.uid, b.uid);
  return { browser, a, b };
}

const mismatches = () => idp.audit.events.filter((e) => e.type === 'signin.interaction-mismatch');
const resultOf = async (uid: string) => ((await idp.oidc.provider.Interaction.find(uid)) as { result?: unknown } | undefined)?.result;

test('attack: posting the password to the other interaction\'s URL is refused 403 auth.interaction-mismatch, audited, and acts on neither interaction', async () => {
  const user = await idp.users.add({ email: 'mismatch@example.test', password: PASSWORD }, 'test');
  const { browser, a, b } = await twoInOneJar();
  const before = mismatches().length;
  const eventsBefore = idp.audit.events.length;
  // with either interaction's anti-CSRF token: the cookie's (which the check would accept) and the URL's
  for (const csrf of [b.csrf, a.csrf]) {
    const r = await browser.request(`${idp.issuer}/interaction/${a.uid}/login`, { form: { csrf, email: user.email, password: PASSWORD }, headers: JSON_ACCEPT });
    assert.equal(r.status, 403, r.body.slice(0, 300));
    assert.equal(JSON.parse(r.body).code, 'auth.interaction-mismatch');
    assert.equal(r.location, undefined);
    assert.ok(!r.headers.getSetCookie().some((c) => c.includes('portcullis-signin-')), 'no browser binding set');
  }
  assert.equal(await resultOf(a.uid), undefined, 'the URL\'s interaction got no result');
  assert.equal(await resultOf(b.uid), undefined, 'the cookie\'s interaction got no result');
  const events = idp.audit.events.slice(eventsBefore);
  assert.deepEqual(
    events.map((e) => e.type),
    ['signin.interaction-mismatch', 'signin.interaction-mismatch'],
    'no sign-in succeeded or failed: the password was not checked',
  );
  assert.equal(mismatches().length, before + 2);
  for (const e of events) {
    assert.equal(e.reason, 'auth.interaction-mismatch');
    assert.equal((e.data as Record<string, unknown>)['step'], 'login');
    assert.ok(!JSON.stringify(e).includes(PASSWORD));
  }

  // the interaction the cookie names still signs in at its own URL
  const own = await browser.request(`${idp.issuer}/interaction/${b.uid}/login`, { form: { csrf: b.csrf, email: user.email, password: PASSWORD } });
  assert.equal(own.status, 303, own.body.slice(0, 300));
  assert.notEqual(await resultOf(b.uid), undefined);
  assert.equal(await resultOf(a.uid), undefined);
});

test('attack: opening the other interaction\'s page, or its recovery-codes page, is refused 403 auth.interaction-mismatch and audited', async () => {
  const { browser, a, b } = await twoInOneJar();
  const before = mismatches().length;
  for (const path of [`/interaction/${a.uid}`, `/interaction/${a.uid}/recovery`]) {
    const r = await browser.request(`${idp.issuer}${path}`, { headers: JSON_ACCEPT });
    assert.equal(r.status, 403, `${path}: ${r.body.slice(0, 300)}`);
    assert.equal(JSON.parse(r.body).code, 'auth.interaction-mismatch');
    assert.doesNotMatch(r.body, new RegExp(b.uid), 'nothing of the cookie\'s interaction is shown');
  }
  assert.deepEqual(
    mismatches()
      .slice(before)
      .map((e) => (e.data as Record<string, unknown>)['step']),
    ['show', 'recovery'],
  );
  // without JSON: a page that says so, not a stack trace
  const html = await browser.request(`${idp.issuer}/interaction/${a.uid}`);
  assert.equal(html.status, 403);
  assert.doesNotMatch(html.body, /at .*\.ts:\d+/);
  // the cookie's own page still shows
  assert.equal(title((await browser.request(`${idp.issuer}/interaction/${b.uid}`)).body), 'Sign in');
});

test('attack: a second step posted to the other interaction\'s URL does not reach the signed-in interaction (auth.interaction-mismatch)', async () => {
  const user = await idp.users.add({ email: 'mismatch-mfa@example.test', password: PASSWORD }, 'test');
  const enrol = await idp.totpFactor.enroll({ userId: user.id, address: user.email });
  await idp.totpFactor.confirm({ userId: user.id }, idp.totpNow(enrol.secretBase32!, -30_000));
  const { browser, a, b } = await twoInOneJar();
  const second = await browser.request(`${idp.issuer}/interaction/${b.uid}/login`, { form: { csrf: b.csrf, email: user.email, password: PASSWORD } });
  assert.equal(title(second.body), 'Second step');
  const r = await browser.request(`${idp.issuer}/interaction/${a.uid}/mfa`, { form: { csrf: b.csrf, factor: 'totp', code: idp.totpNow(enrol.secretBase32!, 30_000) }, headers: JSON_ACCEPT });
  assert.equal(r.status, 403, r.body.slice(0, 300));
  assert.equal(JSON.parse(r.body).code, 'auth.interaction-mismatch');
  assert.equal(await resultOf(b.uid), undefined, 'the second step was not taken');
  assert.equal(idp.audit.events.at(-1)?.type, 'signin.interaction-mismatch');
});
