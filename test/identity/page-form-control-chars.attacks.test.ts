/**
 * Control characters in the forms of the sign-in and account pages: a field with a C0
 * control other than TAB, LF or CR, DEL or a C1 control (a terminal escape an operator's
 * `portcullis audit tail` would otherwise carry) is refused with 400 `request.invalid`
 * naming the field, before anything is checked or recorded, as the admin API refuses it
 * in JSON bodies.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { Browser } from '../support/oidc-harness.js';
import { authorizationRequest, type OidcApp, post, registerOidcApp, startOidcNode } from '../support/oidc-node.js';
import type { TestNode } from '../support/portcullis.js';

const AUD = 'https://api.example.test';
const PASSWORD = 'plum tractor velvet orbit';
let node: TestNode;
let app: OidcApp;

before(async () => {
  node = await startOidcNode();
  app = await registerOidcApp(node, AUD);
  await node.services.identity.users.add({ email: 'form@example.test', password: PASSWORD }, 'test');
});
after(async () => node?.stop());

async function signInPage() {
  const { url } = await authorizationRequest(app.config, { resource: AUD });
  const browser = new Browser();
  const start = await browser.follow(url.toString(), node.urls.identity!);
  assert.equal(start.status, 200);
  return { browser, start };
}

test('attack: a sign-in form whose e-mail carries ESC/BEL, DEL or a C1 CSI is refused (400 request.invalid naming the field); nothing is audited for it; the same page then signs in', async () => {
  const { browser, start } = await signInPage();
  await node.services.audit.flush();
  const before = (await node.services.store.tailAudit(100)).length;
  for (const [email, char] of [
    ['x\u001b]0;pwned\u0007@example.test', 'U+001B'],
    ['x\u007f@example.test', 'U+007F'],
    ['x\u009b2J@example.test', 'U+009B'],
  ] as const) {
    const r = await post(browser, node.urls.identity!, start.body, 'login', { email, password: PASSWORD });
    assert.equal(r.status, 400, r.body.slice(0, 300));
    assert.match(r.body, new RegExp(`email: control character ${char.replace('+', '\\+')} is not allowed`));
    assert.ok(!r.body.includes('\u001b') && !r.body.includes('\u009b'), 'the page does not echo the control');
  }
  await node.services.audit.flush();
  assert.equal((await node.services.store.tailAudit(100)).length, before, 'nothing recorded for a refused form');
  const ok = await post(browser, node.urls.identity!, start.body, 'login', { email: 'form@example.test', password: PASSWORD });
  assert.ok(ok.status === 303 || ok.status === 200, `${ok.status} ${ok.body.slice(0, 200)}`);
  assert.doesNotMatch(ok.body, /control character/);
});

test('a password with a TAB is text (not refused as a control character)', async () => {
  const { browser, start } = await signInPage();
  const r = await post(browser, node.urls.identity!, start.body, 'login', { email: 'form@example.test', password: `${PASSWORD}\t` });
  assert.doesNotMatch(r.body, /control character/);
});
