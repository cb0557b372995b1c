/**
 * An invite link (also the administrator's password reset, `POST /v1/users/{id}/invite`)
 * lets whoever holds it choose the user's password. Disabling a user (often: the account
 * or its mailbox is suspected compromised) or deleting it must end every such link: a link
 * sent before still chose the password of a disabled account, which took effect at the
 * next `enable`, and the link of a deleted user answered `not-found` (telling the holder the
 * account was deleted) instead of `user.invite-invalid`.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { csrfOf } from '../support/oidc-harness.js';
import { registerOidcApp, signIn, startOidcNode, type OidcApp } from '../support/oidc-node.js';
import type { TestNode } from '../support/portcullis.js';

const AUD = 'https://orders.example.test';
const OLD_PASSWORD = 'plum tractor velvet orbit';
const ATTACKER_PASSWORD = 'copper lantern meadow quartz';
let node: TestNode;
let app: OidcApp;

before(async () => {
  node = await startOidcNode();
  app = await registerOidcApp(node, AUD);
});
after(async () => node?.stop());

const admin = async (method: string, path: string) => {
  const r = await fetch(`${node.urls.admin}${path}`, { method, headers: { authorization: `Bearer ${node.adminToken}` } });
  return { status: r.status, body: (await r.json()) as any };
};
const json = { accept: 'application/json' };

/** The link's page, then its form posted with `password`: both answers, as JSON errors when refused. */
async function useLink(url: string, password: string) {
  const form = await fetch(url, { headers: json });
  const formText = await form.text();
  const csrf = form.status === 200 ? csrfOf(formText) : 'x';
  const post = await fetch(url, { method: 'POST', headers: { ...json, 'content-type': 'application/x-www-form-urlencoded' }, body: new URLSearchParams({ csrf, password }) });
  const postText = await post.text();
  const codeOf = (status: number, text: string) => (status === 200 ? undefined : (JSON.parse(text) as { code: string }).code);
  return { get: { status: form.status, code: codeOf(form.status, formText), text: formText }, post: { status: post.status, code: codeOf(post.status, postText) } };
}

test('attack: a reset link sent before the account was disabled no longer sets its password, nor after enable → 400 user.invite-invalid', async () => {
  const user = await node.services.identity.users.add({ email: 'suspect@example.test', password: OLD_PASSWORD }, 'test');
  const link = await admin('POST', `/v1/users/${user.id}/invite`);
  assert.equal(link.status, 200);
  assert.equal((await admin('POST', `/v1/users/${user.id}/disable`)).status, 200);

  const used = await useLink(link.body.invite_url, ATTACKER_PASSWORD);
  assert.deepEqual({ status: used.get.status, code: used.get.code }, { status: 400, code: 'user.invite-invalid' });
  assert.ok(!used.get.text.includes('suspect@example.test'), 'the page does not name the account');
  assert.deepEqual(used.post, { status: 400, code: 'user.invite-invalid' });

  // enabled again: the link stays void, the password is the one the user had
  assert.equal((await admin('POST', `/v1/users/${user.id}/enable`)).status, 200);
  assert.deepEqual((await useLink(link.body.invite_url, ATTACKER_PASSWORD)).post, { status: 400, code: 'user.invite-invalid' });
  await assert.rejects(() => signIn(node, app, AUD, 'suspect@example.test', ATTACKER_PASSWORD), /expected a redirect to the app/);
  await signIn(node, app, AUD, 'suspect@example.test', OLD_PASSWORD);
});

test('a disabled user gets no new invite link → 403 user.disabled; enabled, a new link works', async () => {
  const user = await node.services.identity.users.add({ email: 'parked@example.test' }, 'test');
  await admin('POST', `/v1/users/${user.id}/disable`);
  const refused = await admin('POST', `/v1/users/${user.id}/invite`);
  assert.equal(refused.status, 403);
  assert.equal(refused.body.code, 'user.disabled');
  assert.equal(refused.body.invite_url, undefined);
  await admin('POST', `/v1/users/${user.id}/enable`);
  const link = await admin('POST', `/v1/users/${user.id}/invite`);
  assert.equal(link.status, 200);
  assert.equal((await useLink(link.body.invite_url, ATTACKER_PASSWORD)).post.status, 200);
});

test('attack: the invite link of a deleted user → 400 user.invite-invalid (not not-found), and it never sets the password of the user re-added with that e-mail', async () => {
  const created = await fetch(`${node.urls.admin}/v1/users`, {
    method: 'POST',
    headers: { authorization: `Bearer ${node.adminToken}`, 'content-type': 'application/json' },
    body: JSON.stringify({ email: 'leaver@example.test', invite: true }),
  });
  const { user, invite_url } = (await created.json()) as { user: { id: string }; invite_url: string };
  assert.equal((await admin('DELETE', `/v1/users/${user.id}`)).status, 200);
  const again = await node.services.identity.users.add({ email: 'leaver@example.test', password: OLD_PASSWORD }, 'test');

  const used = await useLink(invite_url, ATTACKER_PASSWORD);
  assert.deepEqual({ status: used.get.status, code: used.get.code }, { status: 400, code: 'user.invite-invalid' });
  assert.deepEqual(used.post, { status: 400, code: 'user.invite-invalid' });
  await signIn(node, app, AUD, 'leaver@example.test', OLD_PASSWORD);
  assert.notEqual(again.id, user.id);
});
