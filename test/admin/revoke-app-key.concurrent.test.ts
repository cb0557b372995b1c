/**
 * Two revocations of one app signing key (or app encryption key) at once (a retried CLI
 * call, two operators, two nodes): each read the key while it was still active, so each
 * recorded a revocation event although only one changed it. The revocation is now decided by
 * the conditional update itself: the call whose update changed the row audits, the other
 * gets the answer a revocation of an already revoked key gets (200, the key as revoked by
 * the first, its revoked_at), and no second event.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { startTestNode, type TestNode } from './node.js';

let t: TestNode;
before(async () => {
  t = await startTestNode();
});
after(() => t?.close());

const CALLS = 2;

/** Makes every one of CALLS reads of `id` through `store[method]` wait until all were made: the race, without timing luck. Returns the restore function. */
function gateReads<K extends 'getAppSigningKey' | 'getAppEncryptionKey'>(method: K, id: string): () => void {
  const store = t.node.services.store;
  const real = store[method] as (id: string) => Promise<unknown>;
  const waiting: Array<() => void> = [];
  (store as unknown as Record<K, (id: string) => Promise<unknown>>)[method] = async (key: string) => {
    const read = await real.call(store, key);
    if (key === id && waiting.length < CALLS) {
      await new Promise<void>((resolve) => {
        waiting.push(resolve);
        if (waiting.length === CALLS) for (const go of waiting) go();
      });
    }
    return read;
  };
  return () => {
    (store as unknown as Record<K, unknown>)[method] = real;
  };
}

async function revokedEvents(type: string, field: 'keyid' | 'kid', id: string): Promise<number> {
  const rows = await t.node.services.store.tailAudit(200);
  return rows.filter((e) => e.type === type && (e.data as Record<string, unknown> | null)?.[field] === id).length;
}

for (const kind of [
  { what: 'signing key', path: 'keys', read: 'getAppSigningKey', type: 'app.signing-key-revoked', field: 'keyid', body: { type: 'hmac' } },
  { what: 'encryption key', path: 'encryption-keys', read: 'getAppEncryptionKey', type: 'app.encryption-key-revoked', field: 'kid', body: { type: 'symmetric' } },
] as const) {
  test(`two revocations of one app ${kind.what} at once → both 200 with the same revoked key, one ${kind.type} event`, async () => {
    const created = await t.api('/v1/apps', { body: { name: `revoke-race-${kind.path}`, audiences: ['orders-api'], scopes: [] } });
    assert.equal(created.status, 201, JSON.stringify(created.body));
    const clientId = created.body.client_id as string;
    const added = await t.api(`/v1/apps/${clientId}/${kind.path}`, { body: kind.body });
    assert.equal(added.status, 201, JSON.stringify(added.body));
    const id = added.body.key[kind.field] as string;

    const restore = gateReads(kind.read, id);
    let answers;
    try {
      answers = await Promise.all(Array.from({ length: CALLS }, () => t.api(`/v1/apps/${clientId}/${kind.path}/${id}/revoke`, { method: 'POST' })));
    } finally {
      restore();
    }
    for (const a of answers) {
      assert.equal(a.status, 200, JSON.stringify(a.body));
      assert.equal(a.body.key.status, 'revoked');
    }
    assert.equal(answers[0]!.body.key.revoked_at, answers[1]!.body.key.revoked_at);
    await t.node.services.audit.flush();
    assert.equal(await revokedEvents(kind.type, kind.field, id), 1);

    // a later revocation: the same idempotent answer, still one event
    const again = await t.api(`/v1/apps/${clientId}/${kind.path}/${id}/revoke`, { method: 'POST' });
    assert.equal(again.status, 200);
    assert.deepEqual(again.body, answers[0]!.body);
    assert.equal(await revokedEvents(kind.type, kind.field, id), 1);
  });
}
