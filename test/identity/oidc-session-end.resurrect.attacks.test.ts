/**
 * oidc-provider saves a browser's existing session at the end of every request that carries
 * its cookie (lib/shared/session.js: `!session.new` is enough). A request in flight while the
 * session is ended ("End" on the account page or the admin API, "End every session", the
 * CLI's `user end-sessions`) has loaded the session before the end and writes it back after:
 * the browser stays signed in, and gets new codes, hence tokens issued after the cut-off.
 * Each test holds that write (the store's upsert of the Session) while the session ends, then
 * lets it through, and expects the browser signed out: the account page answers 401
 * user.not-signed-in and a prompt=none authorization request login_required.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Browser } from '../support/oidc-harness.js';
import { REDIRECT, authorizationRequest, post, registerOidcApp, signIn, startOidcNode, type OidcApp } from '../support/oidc-node.js';
import type { TestNode } from '../support/portcullis.js';
import type { OidcModelRecord } from '../../src/identity/store.js';

const AUD = 'https://api.example.test';
const PASSWORD = 'plum tractor velvet orbit';

/**
 * Holds the next store write of a Session until `release()`; `reached` resolves when it is
 * held (the request under way has loaded its session and is about to save it).
 */
function holdNextSessionWrite(node: TestNode): { reached: Promise<void>; release: () => void } {
  const store = node.services.store as unknown as { upsertOidcModel(r: OidcModelRecord): Promise<void> };
  const original = store.upsertOidcModel.bind(store);
  let reach!: () => void;
  let release!: () => void;
  const reached = new Promise<void>((r) => (reach = r));
  const gate = new Promise<void>((r) => (release = r));
  let armed = true;
  store.upsertOidcModel = async (r: OidcModelRecord) => {
    if (armed && r.model === 'Session') {
      armed = false;
      reach();
      await gate;
    }
    return original(r);
  };
  return { reached, release };
}

/** The browser is signed out: the account page refuses it, and the app's silent sign-in needs a sign-in. */
async function assertSignedOut(node: TestNode, app: OidcApp, browser: Browser): Promise<void> {
  const page = await browser.request(`${node.urls.identity}/account`);
  assert.equal(page.status, 401, `the account page still serves the ended session: ${page.body.slice(0, 200)}`);
  assert.match(page.body, /not signed in/);
  const { url } = await authorizationRequest(app.config, { prompt: 'none', resource: AUD });
  const r = await browser.follow(url, node.urls.identity!);
  assert.ok(r.location?.startsWith(REDIRECT), `expected a redirect to the app, got ${r.status} ${r.location}`);
  assert.equal(new URL(r.location!).searchParams.get('error'), 'login_required', `the ended session signed the browser in again: ${r.location}`);
}

/** Starts a request of `browser` that carries its session cookie (a silent sign-in), held at its session write. */
async function requestUnderWay(node: TestNode, app: OidcApp, browser: Browser) {
  const hold = holdNextSessionWrite(node);
  const { url } = await authorizationRequest(app.config, { prompt: 'none', resource: AUD, scope: 'openid' });
  const done = browser.request(url);
  await hold.reached;
  return { release: hold.release, done };
}

/** The causes of the user's `oidc.session-refused` audit events. */
async function refusals(node: TestNode, userId: string): Promise<string[]> {
  await node.services.audit.flush();
  return (await node.services.store.tailAudit(200)).filter((e) => e.type === 'oidc.session-refused' && (e.data as { userId?: string }).userId === userId).map((e) => String((e.data as { cause?: string }).cause));
}

test('attack: a request under way while "End every session" runs writes the ended session back; the browser is signed out all the same', async (t) => {
  const node = await startOidcNode();
  t.after(() => node.stop());
  const app = await registerOidcApp(node, AUD);
  const user = await node.services.identity.users.add({ email: 'end-all@example.test', password: PASSWORD }, 'test');
  const { browser } = await signIn(node, app, AUD, 'end-all@example.test', PASSWORD);
  const oidc = node.services.identity.oidc;

  const inFlight = await requestUnderWay(node, app, browser);
  await node.services.identity.users.endAllSessions(user.id, 'test');
  inFlight.release();
  await inFlight.done;

  await assertSignedOut(node, app, browser);
  assert.deepEqual(await oidc.listSessions(user.id), [], 'the ended session is stored again');
  assert.ok((await refusals(node, user.id)).includes('session-ended'), 'the session written back is audited');
});

test('attack: a request under way while one session is ended ("End", the admin API) writes it back; the browser is signed out all the same', async (t) => {
  const node = await startOidcNode();
  t.after(() => node.stop());
  const app = await registerOidcApp(node, AUD);
  const user = await node.services.identity.users.add({ email: 'end-one@example.test', password: PASSWORD }, 'test');
  const { browser } = await signIn(node, app, AUD, 'end-one@example.test', PASSWORD);
  const other = await signIn(node, app, AUD, 'end-one@example.test', PASSWORD);
  const oidc = node.services.identity.oidc;
  const before = await oidc.listSessions(user.id);
  assert.equal(before.length, 2);

  // the session of `browser`: the one its account page offers to end as "sign out here"
  const mine = await browser.request(`${node.urls.identity}/account`);
  const ended = before.find((s) => mine.body.includes(`value="${s.handle}"><button type="submit">End (sign out here)`))!;
  assert.ok(ended, 'the account page names this browser\'s session');

  const inFlight = await requestUnderWay(node, app, browser);
  assert.ok(await oidc.endSessionByHandle(user.id, ended.handle));
  inFlight.release();
  await inFlight.done;

  await assertSignedOut(node, app, browser);
  assert.deepEqual((await oidc.listSessions(user.id)).map((s) => s.handle), before.filter((s) => s !== ended).map((s) => s.handle), 'the ended session is stored again');
  assert.equal((await other.browser.request(`${node.urls.identity}/account`)).status, 200, 'the other session stays');
  assert.deepEqual(await refusals(node, user.id), ['session-ended'], 'the session written back is audited');
});

test('attack: a sign-in finished before "End every session" whose new session is first stored after it (never listed, so never ended) is refused', async (t) => {
  const node = await startOidcNode();
  t.after(() => node.stop());
  const app = await registerOidcApp(node, AUD);
  const user = await node.services.identity.users.add({ email: 'new-session@example.test', password: PASSWORD }, 'test');
  const issuer = node.urls.identity!;
  const browser = new Browser();
  const { url } = await authorizationRequest(app.config, { scope: 'openid', resource: AUD });
  let r = await browser.follow(url, issuer);
  r = await post(browser, issuer, r.body, 'login', { email: 'new-session@example.test', password: PASSWORD });
  assert.ok(r.location?.startsWith(issuer), `expected the resume of the authorization request, got ${r.status} ${r.location}`);

  // the resume stores the new session at its end: held there while every session ends
  const hold = holdNextSessionWrite(node);
  const resumed = browser.request(r.location!);
  await hold.reached;
  await node.services.identity.users.endAllSessions(user.id, 'test');
  hold.release();
  await resumed;

  await assertSignedOut(node, app, browser);
  assert.deepEqual(await node.services.identity.oidc.listSessions(user.id), [], 'the refused session is removed');
  assert.deepEqual(await refusals(node, user.id), ['sessions-ended'], 'the session signed in before the cut-off is audited');
});
