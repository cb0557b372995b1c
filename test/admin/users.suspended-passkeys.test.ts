/**
 * The admin user view tells an operator which second factors the user can actually sign in
 * with: a security key suspended as a suspected clone (its counter went back) signs in no
 * more, so a user whose every key is suspended must not be shown `webauthn` among `factors`;
 * the suspension is in `unusable_factors` (`webauthn_suspended`), by the API and `user show`.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { UserResponse } from '../../src/http/admin/user-schemas.js';
import { runCli } from '../cli/run.js';
import { startTestNode, type TestNode } from './node.js';

let t: TestNode;
before(async () => {
  t = await startTestNode();
});
after(() => t.close());

const T0 = Date.parse('2026-03-01T10:00:00.000Z');

async function userWithKeys(email: string, suspended: boolean[]): Promise<string> {
  const created = await t.api('/v1/users', { body: { email, password: 'plum tractor velvet orbit' } });
  assert.equal(created.status, 201, JSON.stringify(created.body));
  const id = created.body.user.id as string;
  for (const [i, s] of suspended.entries()) {
    await t.node.services.store.addWebAuthnCredential({ id: `${id}-k${i}`, userId: id, name: `Key ${i}`, publicKey: 'AQID', counter: 1, transports: [], backedUp: false, deviceType: 'singleDevice', createdAt: T0, lastUsedAt: null, suspendedAt: s ? T0 + 1000 : null });
  }
  return id;
}

test('every key suspended: webauthn is not among the usable factors; unusable_factors says webauthn_suspended; user show says so', async () => {
  const id = await userWithKeys('all-suspended@example.test', [true, true]);
  const r = await t.api(`/v1/users/${id}`);
  assert.equal(r.status, 200);
  const user = UserResponse.parse(r.body).user;
  assert.deepEqual(user.factors, []);
  assert.deepEqual(user.unusable_factors, ['webauthn_suspended']);
  assert.equal(user.passkeys, 2);
  const show = await runCli(['user', 'show', id, '--dir', t.dir, '--admin-url', t.admin]);
  assert.equal(show.code, 0, show.stderr);
  assert.match(show.stdout, /^factors:\s+-$/m);
  assert.match(show.stdout, /^not usable:\s+webauthn_suspended \(a key suspended as a suspected clone signs in no more; the user removes it, or reset-mfa does\)$/m);
});

test('one key usable, one suspended: webauthn is usable, and the suspension is still reported', async () => {
  const id = await userWithKeys('one-suspended@example.test', [false, true]);
  const user = UserResponse.parse((await t.api(`/v1/users/${id}`)).body).user;
  assert.deepEqual(user.factors, ['webauthn']);
  assert.deepEqual(user.unusable_factors, ['webauthn_suspended']);
});

test('no key suspended: webauthn, nothing unusable', async () => {
  const id = await userWithKeys('none-suspended@example.test', [false]);
  const user = UserResponse.parse((await t.api(`/v1/users/${id}`)).body).user;
  assert.deepEqual(user.factors, ['webauthn']);
  assert.deepEqual(user.unusable_factors, []);
});
