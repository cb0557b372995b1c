/**
 * `audit verify` on a running node whose whole trail was deleted from the database (every
 * `audit_log` row and the `audit_head` row, by someone with write access to the SQLite
 * file): the admin API and the CLI report `audit.trail-missing`, not a new, empty trail,
 * also after the node has appended events again.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { AuditVerify } from '../../src/http/admin/schemas.js';
import { startTestNode, type TestNode } from '../admin/node.js';
import { runCli } from '../cli/run.js';

let t: TestNode;
before(async () => {
  t = await startTestNode();
});
after(() => t.close());

const wipeTrail = () => {
  const db = new Database(join(t.dir, 'portcullis.db'));
  try {
    db.exec('delete from audit_log; delete from audit_head');
  } finally {
    db.close();
  }
};

test('attack: the whole trail deleted beside an app → GET /v1/audit/verify and `audit verify` answer audit.trail-missing, also after new events', async () => {
  assert.equal((await t.api('/v1/apps', { body: { name: 'billing', audiences: ['api'], scopes: [] } })).status, 201);
  assert.equal(AuditVerify.parse((await t.api('/v1/audit/verify')).body).ok, true);
  wipeTrail();

  const r = AuditVerify.parse((await t.api('/v1/audit/verify')).body);
  assert.deepEqual({ ok: r.ok, rows: r.rows, brokenAt: r.brokenAt, code: r.code }, { ok: false, rows: 0, brokenAt: 1, code: 'audit.trail-missing' });
  assert.match(r.reason!, /while the store holds apps/);
  const cli = await runCli(['audit', 'verify', '--dir', t.dir, '--admin-url', t.admin]);
  assert.equal(cli.code, 1);
  assert.match(cli.stderr, /^error: audit\.trail-missing: the trail has no row and no recorded head/);

  // the node goes on auditing: its new rows do not pass for a new trail
  assert.equal((await t.api('/v1/apps', { body: { name: 'after', audiences: ['api'], scopes: [] } })).status, 201);
  const later = AuditVerify.parse((await t.api('/v1/audit/verify')).body);
  assert.equal(later.ok, false);
  assert.equal(later.code, 'audit.chain-broken');
  assert.match(later.reason!, /head/);
});
