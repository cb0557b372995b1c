/** Invite links: one use, expiry, and only the user's newest link works. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { FrozenClock } from '../../src/core/clock.js';
import { Invites } from '../../src/identity/invites.js';
import { MemoryEphemeralStore } from '../../src/store/memory/ephemeral.js';

const rejectsWith = (p: Promise<unknown>, code: string) => assert.rejects(p, (e: { code?: string }) => e.code === code);

function setup() {
  const clock = new FrozenClock(Date.UTC(2030, 0, 1));
  const ephemeral = new MemoryEphemeralStore({ clock });
  return { clock, ephemeral, invites: new Invites(ephemeral, clock, 60_000) };
}

test('an invite is redeemed once and expires', async () => {
  const { clock, ephemeral, invites } = setup();
  try {
    const a = await invites.create('usr_1');
    assert.equal(await invites.peek(a.token), 'usr_1');
    assert.equal(await invites.redeem(a.token), 'usr_1');
    await rejectsWith(invites.redeem(a.token), 'user.invite-invalid');
    const b = await invites.create('usr_1');
    clock.advance(60_001);
    await rejectsWith(invites.peek(b.token), 'user.invite-invalid');
  } finally {
    await ephemeral.close();
  }
});

test('attack: an older invite link of a user (re-sent, or left over after the user chose a password) no longer sets the password (user.invite-invalid)', async () => {
  const { ephemeral, invites } = setup();
  try {
    const first = await invites.create('usr_1');
    const second = await invites.create('usr_1');
    const other = await invites.create('usr_2');
    await rejectsWith(invites.peek(first.token), 'user.invite-invalid');
    await rejectsWith(invites.redeem(first.token), 'user.invite-invalid');
    assert.equal(await invites.redeem(second.token), 'usr_1');
    // another user's invite is not touched
    assert.equal(await invites.peek(other.token), 'usr_2');
  } finally {
    await ephemeral.close();
  }
});

test('an invite made before only the newest counted still works once, and its redemption ends the user\'s other such invites', async () => {
  const { ephemeral, invites } = setup();
  try {
    const a = await invites.create('usr_3');
    const b = await invites.create('usr_3');
    // as stored by the previous version: no pointer to the newest invite
    await ephemeral.delete('invite-current:usr_3');
    assert.equal(await invites.redeem(a.token), 'usr_3');
    await rejectsWith(invites.peek(b.token), 'user.invite-invalid');
  } finally {
    await ephemeral.close();
  }
});

test('attack: revoke (the user disabled or deleted) voids every invite of the user, a later one works (user.invite-invalid)', async () => {
  const { ephemeral, invites } = setup();
  try {
    const a = await invites.create('usr_4');
    const other = await invites.create('usr_5');
    await invites.revoke('usr_4');
    await rejectsWith(invites.peek(a.token), 'user.invite-invalid');
    await rejectsWith(invites.redeem(a.token), 'user.invite-invalid');
    assert.equal(await invites.peek(other.token), 'usr_5');
    const b = await invites.create('usr_4');
    assert.equal(await invites.redeem(b.token), 'usr_4');
  } finally {
    await ephemeral.close();
  }
});

test('attack: two concurrent redemptions of one invite → exactly one wins, the other user.invite-invalid', async () => {
  const { ephemeral, invites } = setup();
  try {
    const a = await invites.create('usr_6');
    const results = await Promise.allSettled([invites.redeem(a.token), invites.redeem(a.token), invites.redeem(a.token)]);
    assert.equal(results.filter((r) => r.status === 'fulfilled').length, 1);
    for (const r of results) if (r.status === 'rejected') assert.equal((r.reason as { code?: string }).code, 'user.invite-invalid');
  } finally {
    await ephemeral.close();
  }
});
