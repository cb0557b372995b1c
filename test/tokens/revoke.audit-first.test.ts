/**
 * RFC 7009 revocation is an acknowledged security change: its `token.revoked` event is
 * stored before the 200 goes out. When the audit trail cannot write, the endpoint
 * answers 503 `audit.unavailable` instead, and the revocation holds all the same.
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { test } from 'node:test';
import BetterSqlite3 from 'better-sqlite3';
import { issueToken, startTestNode } from '../admin/node.js';
import { basic, postForm } from '../support/portcullis.js';

async function appWithToken(node: Awaited<ReturnType<typeof startTestNode>>) {
  const created = await node.api('/v1/apps', { body: { name: 'revoker', audiences: ['orders-api'], scopes: ['orders:read'] } });
  assert.equal(created.status, 201);
  const id: string = created.body.client_id;
  const secret: string = created.body.client_secret;
  return { id, secret, token: await issueToken(node.identity, id, secret) };
}

test('revocation answers 200 only once its token.revoked event is stored', async (t) => {
  const node = await startTestNode();
  t.after(() => node.close());
  const a = await appWithToken(node);
  const r = await postForm(`${node.identity}/oauth2/revoke`, { token: a.token }, { authorization: basic(a.id, a.secret) });
  assert.equal(r.status, 200);
  const rows = await node.node.services.store.tailAudit(5);
  assert.ok(rows.some((x) => x.type === 'token.revoked' && x.clientId === a.id), 'the event is in the store when the answer arrives');
});

test('attack: revoke while the audit table cannot be written → 503 audit.unavailable, never a 200 without its audit row; the token stays revoked', async (t) => {
  const node = await startTestNode();
  const other = new BetterSqlite3(join(node.dir, 'portcullis.db'));
  t.after(async () => {
    other.close();
    await node.close();
  });
  const a = await appWithToken(node);
  other.exec('alter table audit_log rename to audit_log_away');
  const r = await postForm(`${node.identity}/oauth2/revoke`, { token: a.token }, { authorization: basic(a.id, a.secret) });
  assert.equal(r.status, 503);
  assert.match(r.headers.get('content-type') ?? '', /^application\/problem\+json/);
  assert.equal(r.body.code, 'audit.unavailable');
  const introspected = await postForm(`${node.identity}/oauth2/introspect`, { token: a.token }, { authorization: basic(a.id, a.secret) });
  assert.deepEqual(introspected.body, { active: false }, 'the revocation holds');
  other.exec('alter table audit_log_away rename to audit_log');
  await node.node.services.audit.flush();
  const rows = other.prepare("select client_id from audit_log where type = 'token.revoked'").all() as Array<{ client_id: string }>;
  assert.deepEqual(rows.map((x) => x.client_id), [a.id], 'the held event is written once the store can take it');
});
