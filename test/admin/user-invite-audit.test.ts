/**
 * An invite link lets whoever holds it choose the user's password, so issuing one is
 * audited (`user.invited`, actor admin) whether it comes from `POST /v1/users/{id}/invite`
 * or from `POST /v1/users` with `invite: true`; the latter recorded only `user.created`.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { startTestNode, type TestNode } from './node.js';

describe('admin API: invite links are audited', () => {
  let t: TestNode;
  before(async () => {
    t = await startTestNode();
  });
  after(() => t.close());

  const invitedEvents = async (userId: string) =>
    ((await t.api('/v1/audit/tail?limit=1000')).body.rows as Array<{ type: string; actor: string; data: { userId?: string } | null }>).filter((r) => r.type === 'user.invited' && r.data?.userId === userId);

  test('POST /v1/users with invite:true → 201 and a user.invited event by admin, without the link', async () => {
    const r = await t.api('/v1/users', { body: { email: 'invited-at-create@example.test', invite: true } });
    assert.equal(r.status, 201);
    const events = await invitedEvents(r.body.user.id);
    assert.equal(events.length, 1);
    assert.equal(events[0]!.actor, 'admin');
    const token = String(r.body.invite_url).split('/').at(-1)!;
    assert.ok(!JSON.stringify(events).includes(token), 'the invite token is not in the audit trail');
  });

  test('POST /v1/users with a password records no user.invited', async () => {
    const r = await t.api('/v1/users', { body: { email: 'with-password@example.test', password: 'correct horse battery staple 42' } });
    assert.equal(r.status, 201);
    assert.deepEqual(await invitedEvents(r.body.user.id), []);
  });
});
