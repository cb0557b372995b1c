/**
 * `POST /v1/keys/rotate` sent again before the first has answered (a double click, a
 * retried CLI call, two operators): each rotation read the ring before the others wrote
 * theirs, so each made a new signing key and a new next key. The ring was left with one
 * pending next key per call, published in the JWKS and taking over at their own times, and
 * the `next` the earlier answers named was not the key the following rotation activated.
 * Rotations on a node now run one after the other.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { KeyList, KeyRotation } from '../../src/http/admin/schemas.js';
import { startTestNode, type TestNode } from './node.js';

let t: TestNode;
before(async () => {
  t = await startTestNode();
});
after(() => t?.close());

test('three rotations at once → one next key in the ring, and each rotation activates the next key the one before it named', async () => {
  const answers = await Promise.all([1, 2, 3].map(() => t.api('/v1/keys/rotate', { method: 'POST' })));
  for (const a of answers) assert.equal(a.status, 200, JSON.stringify(a.body));
  const rotations = answers.map((a) => KeyRotation.parse(a.body));
  const list = KeyList.parse((await t.api('/v1/keys')).body);
  const pending = list.keys.filter((k) => k.state === 'next').map((k) => k.kid);
  assert.equal(pending.length, 1, `next keys: ${pending.join(', ')}`);
  // in the order they ran: each one's next is what the following one activated
  const activated = new Set(rotations.map((r) => r.activated));
  const dangling = rotations.map((r) => r.next).filter((kid) => !activated.has(kid));
  assert.deepEqual(dangling, pending, 'a rotation named a next key no rotation activated');
  assert.equal(list.signing_kid, rotations.find((r) => r.next === pending[0])!.activated);
});
