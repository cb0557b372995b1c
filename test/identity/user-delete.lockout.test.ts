/**
 * Deleting a user left its sign-in counters (identity/lockout.ts: failures, delays and
 * locks of the password and second-factor steps, in the ephemeral store and, on
 * `ephemeral: memory`, the durable table `lockout_state`) under the deleted user's id until
 * they expired: data about a deleted person. The delete clears them.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { DEFAULT_LOCKOUT_POLICY } from '../../src/identity/lockout.js';
import { startTestNode, type TestNode } from '../admin/node.js';

let t: TestNode;
before(async () => {
  t = await startTestNode();
});
after(async () => t?.close());

test('DELETE /v1/users/:id → 200, and the user’s failures and lock (both steps) are gone from the ephemeral and the durable store', async () => {
  const lockout = t.node.services.identity.lockout;
  const user = await t.node.services.identity.users.add({ email: 'leaver@example.test', password: 'plum tractor velvet orbit' }, 'test');
  for (let i = 0; i < DEFAULT_LOCKOUT_POLICY.account.lockAfter; i++) await lockout.recordFailure({ account: user.id });
  await lockout.recordFailure({ account: user.id, step: 'factor' });
  assert.deepEqual(await lockout.state('account', user.id), { failures: DEFAULT_LOCKOUT_POLICY.account.lockAfter + 1, blockedUntil: (await lockout.state('account', user.id)).blockedUntil, locked: true });
  const rows = async () => (await t.node.services.store.listLockoutStates(Date.now())).filter((r) => r.subject === user.id).map((r) => r.counter).sort();
  assert.deepEqual(await rows(), ['auth:account', 'auth:account-factor']);

  const r = await t.api(`/v1/users/${user.id}`, { method: 'DELETE' });
  assert.equal(r.status, 200);
  assert.deepEqual(await lockout.state('account', user.id), { failures: 0, blockedUntil: 0, locked: false });
  assert.deepEqual(await rows(), []);
});
