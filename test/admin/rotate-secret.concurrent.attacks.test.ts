/**
 * `POST /v1/apps/:id/rotate-secret` sent several times at once (a double click, a retried
 * CLI call, two operators, two nodes): each call read the app, made a secret and wrote its
 * verifier, so each answered 200 with a new secret and only the last one written worked;
 * whoever held an earlier answer held a secret that never authenticates. The write is now
 * conditional on the verifier the call read: one call wins, the others are 409 conflict.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { AppCredentials } from '../../src/http/admin/schemas.js';
import { issueToken, startTestNode, type TestNode } from './node.js';

let t: TestNode;
before(async () => {
  t = await startTestNode();
});
after(() => t?.close());

const CALLS = 4;

test('attack: four rotate-secret calls at once, all reading the app before any writes → exactly one 200 and three 409 conflict; the 200 secret authenticates, the old one does not', async () => {
  const created = await t.api('/v1/apps', { body: { name: 'rotate-race', audiences: ['orders-api'], scopes: [] } });
  assert.equal(created.status, 201, JSON.stringify(created.body));
  const { client_id: id, client_secret: old } = created.body as { client_id: string; client_secret: string };
  // every call reads the app before any of them goes on to write: the race, without timing luck
  const store = t.node.services.store;
  const getApp = store.getApp;
  const waiting: Array<() => void> = [];
  store.getApp = async (clientId) => {
    const read = await getApp.call(store, clientId);
    if (clientId === id && waiting.length < CALLS) {
      await new Promise<void>((resolve) => {
        waiting.push(resolve);
        if (waiting.length === CALLS) for (const go of waiting) go();
      });
    }
    return read;
  };
  let answers;
  try {
    answers = await Promise.all(Array.from({ length: CALLS }, () => t.api(`/v1/apps/${id}/rotate-secret`, { method: 'POST' })));
  } finally {
    store.getApp = getApp;
  }
  const won = answers.filter((a) => a.status === 200);
  const lost = answers.filter((a) => a.status !== 200);
  assert.equal(won.length, 1, JSON.stringify(answers.map((a) => [a.status, a.body.code])));
  for (const a of lost) {
    assert.equal(a.status, 409, JSON.stringify(a.body));
    assert.equal(a.body.code, 'conflict');
    assert.equal(a.body.client_secret, undefined, 'a refused rotation shows no secret');
  }
  const secret = AppCredentials.parse(won[0]!.body).client_secret!;
  assert.ok(await issueToken(t.identity, id, secret));
  await assert.rejects(issueToken(t.identity, id, old), /401/);
  // a rotation after the race reads the new verifier and wins
  const next = await t.api(`/v1/apps/${id}/rotate-secret`, { method: 'POST' });
  assert.equal(next.status, 200, JSON.stringify(next.body));
  assert.ok(await issueToken(t.identity, id, AppCredentials.parse(next.body).client_secret!));
});
