/**
 * An acknowledged admin change has its audit event stored: when the audit trail cannot
 * write, the admin API answers 503 `audit.unavailable` (problem+json) instead of 2xx,
 * and the held events are written, in order, once the store can take them. A change that
 * fails after it recorded its events (stored, but `change.not-in-force`) has them stored
 * before that answer too.
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { test } from 'node:test';
import BetterSqlite3 from 'better-sqlite3';
import { PortcullisError } from '../../src/core/errors.js';
import { startTestNode } from './node.js';

test('admin change while the audit table cannot be written → 503 audit.unavailable, never a 2xx without its audit row', async (t) => {
  const node = await startTestNode();
  const other = new BetterSqlite3(join(node.dir, 'portcullis.db'));
  t.after(async () => {
    other.close();
    await node.close();
  });
  other.exec('alter table audit_log rename to audit_log_away');
  const res = await node.api('/v1/apps', { body: { name: 'while-broken', audiences: ['orders-api'], scopes: ['orders:read'] } });
  assert.equal(res.status, 503);
  assert.match(res.headers.get('content-type') ?? '', /^application\/problem\+json/);
  assert.equal(res.body.code, 'audit.unavailable');
  other.exec('alter table audit_log_away rename to audit_log');
  const ok = await node.api('/v1/apps', { body: { name: 'after-repair', audiences: ['orders-api'], scopes: ['orders:read'] } });
  assert.equal(ok.status, 201);
  const types = other.prepare("select type, data from audit_log where type = 'app.created' order by seq").all() as Array<{ type: string; data: string }>;
  assert.deepEqual(
    types.map((r) => (JSON.parse(r.data) as { name?: string }).name ?? r.data),
    ['while-broken', 'after-repair'],
  );
});

test('attack: client_id=x%00 at the token endpoint → 400 invalid_request before any lookup; the audit trail keeps writing', async (t) => {
  const node = await startTestNode();
  t.after(() => node.close());
  const r = await fetch(`${node.identity}/oauth2/token`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: 'grant_type=client_credentials&client_id=x%00&client_secret=y',
  });
  assert.equal(r.status, 400);
  assert.equal(((await r.json()) as { error: string }).error, 'invalid_request');
  const ok = await node.api('/v1/apps', { body: { name: 'after-poison', audiences: ['a'], scopes: [] } });
  assert.equal(ok.status, 201);
  const rows = (await node.node.services.store.tailAudit(10)).map((x) => [x.type, x.clientId]);
  assert.equal(rows.find((x) => x[0] === 'token.denied'), undefined, 'a malformed client id is refused before it is looked up or audited');
  assert.ok(rows.some((x) => x[0] === 'app.created'));
});

/** Every event publication fails as an unconfirmed change does: stored, but not confirmed in force. */
function changesNotConfirmed(node: Awaited<ReturnType<typeof startTestNode>>): void {
  const notInForce = () => Promise.reject(new PortcullisError('change.not-in-force', 'the gateway could not confirm the change', { expose: true }));
  const events = node.node.services.events as unknown as Record<string, unknown>;
  events['emit'] = notInForce;
  events['emitAll'] = notInForce;
}

test('certificate revoke answered change.not-in-force has its certificate.revoked event stored before the answer', async (t) => {
  const node = await startTestNode();
  t.after(() => node.close());
  const issued = await node.api('/v1/certificates', { body: { profile: 'server', dns_names: ['orders.internal'] } });
  assert.equal(issued.status, 201);
  const serial: string = issued.body.serial;
  changesNotConfirmed(node);
  const r = await node.api(`/v1/certificates/${serial}/revoke`, { body: { reason: 'keyCompromise' } });
  assert.equal(r.status, 503);
  assert.equal(r.body.code, 'change.not-in-force');
  const rows = await node.node.services.store.tailAudit(10);
  assert.ok(rows.some((x) => x.type === 'certificate.revoked' && (x.data as { serial?: string } | null)?.serial === serial), 'stored when the answer arrives');
});

test('app revoke-tokens answered change.not-in-force has its app.tokens-revoked event stored before the answer', async (t) => {
  const node = await startTestNode();
  t.after(() => node.close());
  const created = await node.api('/v1/apps', { body: { name: 'unconfirmed', audiences: ['orders-api'], scopes: ['orders:read'] } });
  assert.equal(created.status, 201);
  changesNotConfirmed(node);
  const r = await node.api(`/v1/apps/${created.body.client_id}/revoke-tokens`, { body: {} });
  assert.equal(r.status, 503);
  assert.equal(r.body.code, 'change.not-in-force');
  const rows = await node.node.services.store.tailAudit(10);
  assert.ok(rows.some((x) => x.type === 'app.tokens-revoked' && x.clientId === created.body.client_id), 'stored when the answer arrives');
});

test('admin change whose audit event was dropped (queue full) → 503 audit.unavailable once the store is back, not 201', async (t) => {
  const node = await startTestNode();
  const other = new BetterSqlite3(join(node.dir, 'portcullis.db'));
  t.after(async () => {
    other.close();
    await node.close();
  });
  const audit = node.node.services.audit;
  (audit as unknown as { opts: { maxQueue?: number } }).opts.maxQueue = audit.pending + 3;
  other.exec('alter table audit_log rename to audit_log_away');
  for (let i = 0; i < 3; i++) audit.record({ time: Date.now(), type: 'test.filler', actor: 'system' });
  await assert.rejects(audit.flush(), (e) => e instanceof PortcullisError && e.code === 'audit.unavailable');
  other.exec('alter table audit_log_away rename to audit_log');
  // the store is back, the held events not yet written (their retry is a second away): the change's event is dropped
  const res = await node.api('/v1/apps', { body: { name: 'dropped-event', audiences: ['orders-api'], scopes: ['orders:read'] } });
  assert.equal(res.status, 503);
  assert.equal(res.body.code, 'audit.unavailable');
  assert.ok(audit.stats.dropped >= 1);
  const rows = other.prepare("select type from audit_log where type in ('audit.dropped', 'app.created')").all() as Array<{ type: string }>;
  assert.deepEqual(rows.map((r) => r.type), ['audit.dropped'], 'the drop is stored, the change event is not');
  const ok = await node.api('/v1/apps', { body: { name: 'after-drain', audiences: ['orders-api'], scopes: ['orders:read'] } });
  assert.equal(ok.status, 201);
});
