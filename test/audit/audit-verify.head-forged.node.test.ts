/**
 * `audit verify` on a running node whose trail was rewritten by someone with write access
 * to the SQLite file alone: an event's data changed, every later row's hash and the
 * recorded head recomputed with the public chainHash. The admin API and the CLI answer
 * `audit.head-forged` naming the head, and the node's later appends do not make it pass.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { chainHash, GENESIS } from '../../src/audit/trail.js';
import type { AuditRow } from '../../src/audit/store.js';
import { AuditVerify } from '../../src/http/admin/schemas.js';
import { startTestNode, type TestNode } from '../admin/node.js';
import { runCli } from '../cli/run.js';

let t: TestNode;
before(async () => {
  t = await startTestNode();
});
after(() => t.close());

/** Every row's `data` of type `type` replaced, and the whole chain and head recomputed. */
function rewrite(type: string, data: Record<string, unknown>): void {
  const db = new Database(join(t.dir, 'portcullis.db'));
  try {
    const rows = db.prepare('select * from audit_log order by seq').all() as Array<Record<string, unknown>>;
    let prev = GENESIS;
    for (const r of rows) {
      const row = { seq: Number(r['seq']), time: Number(r['time']), type: r['type'], actor: r['actor'], clientId: r['client_id'], route: r['route'], reason: r['reason'], data: r['type'] === type ? data : r['data'] === null ? null : JSON.parse(r['data'] as string) } as AuditRow;
      const hash = chainHash(prev, row.seq, row);
      db.prepare('update audit_log set data = ?, prev_hash = ?, hash = ? where seq = ?').run(row.data === null ? null : JSON.stringify(row.data), prev, hash, row.seq);
      prev = hash;
    }
    db.prepare('update audit_head set hash = ?').run(prev);
  } finally {
    db.close();
  }
}

test('attack: an app.created event rewritten and the chain and head recomputed → GET /v1/audit/verify and `audit verify` answer audit.head-forged, also after new events', async () => {
  assert.equal((await t.api('/v1/apps', { body: { name: 'billing', audiences: ['api'], scopes: [] } })).status, 201);
  const ok = AuditVerify.parse((await t.api('/v1/audit/verify')).body);
  assert.equal(ok.ok, true);
  rewrite('app.created', { name: 'someone-else' });

  const r = AuditVerify.parse((await t.api('/v1/audit/verify')).body);
  assert.deepEqual({ ok: r.ok, code: r.code, brokenAt: r.brokenAt }, { ok: false, code: 'audit.head-forged', brokenAt: ok.rows });
  assert.match(r.reason!, new RegExp(`audit_head, row ${ok.rows}\\) carries a MAC that does not verify`));
  const cli = await runCli(['audit', 'verify', '--dir', t.dir, '--admin-url', t.admin]);
  assert.equal(cli.code, 1);
  assert.match(cli.stderr, /^error: audit\.head-forged: the recorded head of the chain/);

  assert.equal((await t.api('/v1/apps', { body: { name: 'after', audiences: ['api'], scopes: [] } })).status, 201);
  const later = AuditVerify.parse((await t.api('/v1/audit/verify')).body);
  assert.deepEqual({ ok: later.ok, code: later.code }, { ok: false, code: 'audit.head-forged' });
});
