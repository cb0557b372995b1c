/**
 * The `user.recovery-codes-generated` webhook tells a deployment (and through it the user)
 * that a new set of recovery codes replaced the old one. It must be raised only once the
 * new set is stored: a renewal that fails (503 `audit.unavailable`, the old codes still
 * valid) must not announce a set that does not exist.
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import BetterSqlite3 from 'better-sqlite3';
import { csrfOf } from '../support/oidc-harness.js';
import { enrolTotp, registerOidcApp, signIn, startOidcNode, type OidcApp } from '../support/oidc-node.js';
import type { TestNode } from '../support/portcullis.js';

const AUD = 'https://api.example.test';
const PASSWORD = 'plum tractor velvet orbit';
let node: TestNode;
let app: OidcApp;
let account: string;
let webhookId: string;

before(async () => {
  node = await startOidcNode('webhooks: { allowPrivateTargets: true }');
  app = await registerOidcApp(node, AUD);
  account = `${node.urls.identity}/account`;
  // nobody listens there: the deliveries stay in the queue, which is what is looked at
  webhookId = (await node.services.webhooks.subscribe({ url: 'http://127.0.0.1:9/events', events: ['user.recovery-codes-generated'] }, 'test')).id;
});
after(async () => node?.stop());

async function announced(userId: string): Promise<number> {
  await node.services.webhooks.flush();
  const all = await node.services.webhooks.deliveries(webhookId);
  return all.filter((d) => d.eventType === 'user.recovery-codes-generated' && (JSON.parse(d.payload) as { data: { userId?: string } }).data.userId === userId).length;
}

async function strongUser(email: string) {
  const u = await node.services.identity.users.add({ email, password: PASSWORD }, 'test');
  const secret = await enrolTotp(node, u.id);
  const s = await signIn(node, app, AUD, email, PASSWORD, { totpSecret: secret });
  await node.services.audit.flush();
  return { user: u, ...s };
}

test('attack: a renewal of recovery codes that fails (503 audit.unavailable) raises no user.recovery-codes-generated webhook', async (t) => {
  const { user, browser } = await strongUser('renew-fails@example.test');
  const other = new BetterSqlite3(join(node.dir, 'portcullis.db'));
  t.after(() => other.close());
  other.exec('alter table audit_log rename to audit_log_away');
  try {
    const page = await browser.request(account);
    const r = await browser.request(`${account}/factors/recovery-codes`, { form: { 'current-password': PASSWORD, csrf: csrfOf(page.body) } });
    assert.equal(r.status, 503, r.body.slice(0, 300));
    assert.match(r.body, /not renewed/);
  } finally {
    other.exec('alter table audit_log_away rename to audit_log');
  }
  await node.services.audit.flush();
  assert.equal(await announced(user.id), 0, 'no set was made, so none is announced');
});

test('a renewal that succeeds raises user.recovery-codes-generated once, queued when the new set is shown', async () => {
  const { user, browser } = await strongUser('renew-ok@example.test');
  const page = await browser.request(account);
  const r = await browser.request(`${account}/factors/recovery-codes`, { form: { 'current-password': PASSWORD, csrf: csrfOf(page.body) } });
  assert.equal(r.status, 200, r.body.slice(0, 300));
  assert.match(r.body, /id="recovery-codes"/);
  assert.equal(await announced(user.id), 1);
});
