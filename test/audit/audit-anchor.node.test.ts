/**
 * The audit anchor (audit/anchor.ts): a node records outside the database, in its config
 * directory, the newest (seq, hash) of the audit trail it has seen committed, under an HMAC
 * only a holder of the master key can make. A database restored from an older copy, or
 * whose newest events were removed, still holds a chain that verifies; the anchor is what
 * tells: the node refuses to start (`audit.rolled-back`) unless told to accept it
 * (`start --accept-audit-rollback`, audited). Real SQLite files, real restarts.
 */
import assert from 'node:assert/strict';
import { copyFileSync, existsSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, test } from 'node:test';
import Database from 'better-sqlite3';
import { openServices, startPortcullis, type Portcullis } from '../../src/app.js';
import { ANCHOR_FILE } from '../../src/audit/anchor.js';
import { loadConfig } from '../../src/core/config/load.js';
import { PortcullisError } from '../../src/core/errors.js';
import { silentLogger } from '../../src/core/logger.js';
import { AuditVerify } from '../../src/http/admin/schemas.js';
import { initDir, tempDir } from '../admin/node.js';
import { exitOf, runCli, spawnCli, waitFor } from '../cli/run.js';

const dirs: string[] = [];
after(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

interface Dir {
  dir: string;
  configFile: string;
  adminToken: string;
  db: string;
  anchor: string;
}

async function newDir(): Promise<Dir> {
  const d = await initDir(tempDir('portcullis-anchor-'));
  dirs.push(d.dir);
  return { ...d, db: join(d.dir, 'portcullis.db'), anchor: join(d.dir, ANCHOR_FILE) };
}

function start(d: Dir, extra: { acceptAuditRollback?: boolean; auditAnchorIntervalMs?: number } = {}): Promise<Portcullis> {
  return startPortcullis({ configFile: d.configFile, ephemeralPorts: true, logger: silentLogger, ...extra });
}

async function api(node: Portcullis, d: Dir, path: string, body?: unknown): Promise<{ status: number; body: any }> {
  const res = await fetch(node.urls.admin! + path, {
    method: body === undefined ? 'GET' : 'POST',
    headers: { authorization: `Bearer ${d.adminToken}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  return { status: res.status, body: await res.json() };
}

/** Makes `n` audited changes (apps created) on a running node. */
async function changes(node: Portcullis, d: Dir, n: number, prefix: string): Promise<void> {
  for (let i = 0; i < n; i++) assert.equal((await api(node, d, '/v1/apps', { name: `${prefix}-${i}`, audiences: ['api'], scopes: [] })).status, 201);
}

/** The newest audit row in the SQLite file (the node stopped). */
function newest(d: Dir): { seq: number; hash: string } {
  const db = new Database(d.db, { readonly: true });
  try {
    return db.prepare('select seq, hash from audit_log order by seq desc limit 1').get() as { seq: number; hash: string };
  } finally {
    db.close();
  }
}

function rowsOfType(d: Dir, type: string): Array<{ seq: number; actor: string; data: Record<string, unknown> }> {
  const db = new Database(d.db, { readonly: true });
  try {
    return (db.prepare('select seq, actor, data from audit_log where type = ? order by seq').all(type) as Array<{ seq: number; actor: string; data: string }>).map((r) => ({ ...r, data: JSON.parse(r.data) }));
  } finally {
    db.close();
  }
}

/** A consistent copy of the database (the node stopped). */
function backup(d: Dir): string {
  const file = join(d.dir, `backup-${Math.random().toString(36).slice(2)}.db`);
  const db = new Database(d.db);
  try {
    db.exec(`vacuum into '${file}'`);
  } finally {
    db.close();
  }
  return file;
}

/** Puts `copy` back in place of the database, as an operator restoring a backup does. */
function restore(d: Dir, copy: string): void {
  rmSync(`${d.db}-wal`, { force: true });
  rmSync(`${d.db}-shm`, { force: true });
  copyFileSync(copy, d.db);
}

function anchorJson(d: Dir): { seq: number; hash: string; key: string; mac: string } {
  return JSON.parse(readFileSync(d.anchor, 'utf8'));
}

/** The CLI's stderr, less the warning oidc-provider prints on an older Node.js. */
const stderrLines = (stderr: string): string[] => stderr.split('\n').filter((l) => l !== '' && !l.startsWith('oidc-provider WARNING'));

async function refused(p: Promise<unknown>, code: string, message: string | RegExp): Promise<void> {
  await assert.rejects(p, (e: unknown) => {
    assert.ok(e instanceof PortcullisError, `expected a PortcullisError, got ${String(e)}`);
    assert.equal(e.code, code);
    if (typeof message === 'string') assert.equal(e.message, message);
    else assert.match(e.message, message);
    return true;
  });
}

/** A node with audited changes, stopped; returns the copy taken before `later` more changes, and the heads before and after. */
async function withHistory(later = 3): Promise<{ d: Dir; copy: string; before: { seq: number; hash: string }; after: { seq: number; hash: string } }> {
  const d = await newDir();
  let node = await start(d);
  await changes(node, d, 1, 'first');
  await node.close();
  const copy = backup(d);
  const before = newest(d);
  node = await start(d);
  await changes(node, d, later, 'later');
  await node.close();
  return { d, copy, before, after: newest(d) };
}

const rolledBack = (end: number, saw: { seq: number; hash: string }) =>
  `the audit trail ends at seq ${end} but this node last saw seq ${saw.seq} (hash ${saw.hash}): the database was restored from an older copy or its newest events were removed (after a legitimate restore, start the node with --accept-audit-rollback)`;

test('a missing anchor is created at start (mode 0600); a clean stop writes the newest head the node saw', async () => {
  const d = await newDir();
  assert.equal(existsSync(d.anchor), false);
  const node = await start(d);
  assert.equal(existsSync(d.anchor), true);
  assert.equal(statSync(d.anchor).mode & 0o777, 0o600);
  await changes(node, d, 2, 'x');
  await node.close();
  const a = anchorJson(d);
  assert.deepEqual({ seq: a.seq, hash: a.hash }, newest(d));
  assert.match(a.mac, /^[0-9a-f]{64}$/);
  assert.equal(existsSync(`${d.anchor}.tmp`), false);
  // and it holds: the node starts again
  await (await start(d)).close();
});

test('the anchor follows the head while the node runs (every few seconds, not per event)', async () => {
  const d = await newDir();
  const node = await start(d, { auditAnchorIntervalMs: 100 });
  try {
    const at = anchorJson(d).seq;
    await changes(node, d, 2, 'x');
    const deadline = Date.now() + 5000;
    while (anchorJson(d).seq === at && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    assert.ok(anchorJson(d).seq > at, 'the anchor moved while the node ran');
  } finally {
    await node.close();
  }
});

test('attack: the database restored from a copy taken before audited changes → start refused with audit.rolled-back', async () => {
  const { d, copy, before, after } = await withHistory();
  assert.ok(after.seq > before.seq);
  restore(d, copy);
  await refused(start(d), 'audit.rolled-back', rolledBack(before.seq, after));
  // the CLI: exit status 1, the error on one line, no stack trace
  const cli = await runCli(['start', '--dir', d.dir], {}, 60_000);
  assert.equal(cli.code, 1);
  assert.deepEqual(stderrLines(cli.stderr), [`error: audit.rolled-back: ${rolledBack(before.seq, after)}`]);
  // the anchor is left as it was: the refusal does not forget what the node saw
  assert.deepEqual({ seq: anchorJson(d).seq, hash: anchorJson(d).hash }, after);
});

test('start --accept-audit-rollback after a legitimate restore → starts, audits audit.rollback-accepted naming both seqs, rewrites the anchor', async () => {
  const { d, copy, before, after } = await withHistory();
  restore(d, copy);
  const node = await start(d, { acceptAuditRollback: true });
  await node.close();
  const accepted = rowsOfType(d, 'audit.rollback-accepted');
  assert.equal(accepted.length, 1);
  assert.equal(accepted[0]!.seq, before.seq + 1);
  assert.equal(accepted[0]!.actor, 'cli');
  assert.deepEqual(accepted[0]!.data, { anchorSeq: after.seq, anchorHash: after.hash, headSeq: before.seq, headHash: before.hash });
  const a = anchorJson(d);
  assert.deepEqual({ seq: a.seq, hash: a.hash }, newest(d));
  // a later start needs no flag
  await (await start(d)).close();
  assert.equal(rowsOfType(d, 'audit.rollback-accepted').length, 1);
});

test('the CLI flag: `start --accept-audit-rollback` serves after a restore; its event is in the trail', async () => {
  const { d, copy, after } = await withHistory(1);
  restore(d, copy);
  const child = spawnCli(['start', '--dir', d.dir, '--accept-audit-rollback']);
  try {
    await waitFor(child.stderr!, /portcullis: serving/);
  } finally {
    child.kill('SIGTERM');
  }
  assert.equal(await exitOf(child), 0);
  const accepted = rowsOfType(d, 'audit.rollback-accepted');
  assert.equal(accepted.length, 1);
  assert.equal(accepted[0]!.data.anchorSeq, after.seq);
});

test('attack: the newest audit rows deleted from the SQLite file → start refused with audit.rolled-back', async () => {
  const { d, after } = await withHistory(2);
  const db = new Database(d.db);
  try {
    db.prepare('delete from audit_log where seq > ?').run(after.seq - 2);
  } finally {
    db.close();
  }
  await refused(start(d), 'audit.rolled-back', rolledBack(after.seq - 2, after));
});

test('attack: older events restored and new ones appended in their place (another history) → audit.rolled-back naming both hashes', async () => {
  const { d, copy, after } = await withHistory(1);
  restore(d, copy);
  // events appended without the anchor (a CLI tool, another node) until the trail reaches the anchored seq again
  const s = await openServices(loadConfig(d.configFile), { logger: silentLogger });
  try {
    while (newest(d).seq <= after.seq) {
      s.audit.record({ time: Date.now(), type: 'test.filler', actor: 'system' });
      await s.audit.flush();
    }
  } finally {
    await s.store.close();
    await s.ephemeral.close();
  }
  const db = new Database(d.db, { readonly: true });
  const other = (db.prepare('select hash from audit_log where seq = ?').get(after.seq) as { hash: string }).hash;
  db.close();
  const end = newest(d).seq;
  assert.ok(end > after.seq);
  await refused(
    start(d),
    'audit.rolled-back',
    `the audit trail's event at seq ${after.seq} has hash ${other}, but this node saw seq ${after.seq} with hash ${after.hash} (the trail now ends at seq ${end}): the database was restored from an older copy or its events were replaced (after a legitimate restore, start the node with --accept-audit-rollback)`,
  );
});

test('events appended past the anchor by others (another node, a CLI tool) are no rollback: the node starts', async () => {
  const { d, after } = await withHistory(1);
  const s = await openServices(loadConfig(d.configFile), { logger: silentLogger });
  try {
    s.audit.record({ time: Date.now(), type: 'test.elsewhere', actor: 'system' });
    await s.audit.flush();
  } finally {
    await s.store.close();
    await s.ephemeral.close();
  }
  assert.equal(newest(d).seq, after.seq + 1);
  assert.equal(anchorJson(d).seq, after.seq);
  await (await start(d)).close();
  assert.equal(anchorJson(d).seq, after.seq + 1);
});

test('attack: the anchor edited to an earlier seq (its HMAC no longer verifies) → audit.anchor-invalid with its own message', async () => {
  const { d, before } = await withHistory(1);
  const a = anchorJson(d);
  writeFileSync(d.anchor, `${JSON.stringify({ ...a, seq: before.seq, hash: before.hash })}\n`);
  const message = `the audit anchor ${d.anchor} does not verify (its HMAC is wrong): it was altered or forged, so this node cannot tell whether the database was rolled back; investigate, and if the database is as it should be, start the node with --accept-audit-rollback`;
  await refused(start(d), 'audit.anchor-invalid', message);
  const cli = await runCli(['start', '--dir', d.dir], {}, 60_000);
  assert.equal(cli.code, 1);
  assert.deepEqual(stderrLines(cli.stderr), [`error: audit.anchor-invalid: ${message}`]);
});

test('attack: the anchor file garbled → audit.anchor-invalid; the override replaces it and audits audit.anchor-replaced', async () => {
  const { d } = await withHistory(1);
  writeFileSync(d.anchor, 'not an anchor\n');
  await refused(start(d), 'audit.anchor-invalid', `the audit anchor ${d.anchor} is not an audit anchor (not JSON): it was damaged or edited; investigate, and if the database is as it should be, start the node with --accept-audit-rollback`);
  await (await start(d, { acceptAuditRollback: true })).close();
  const replaced = rowsOfType(d, 'audit.anchor-replaced');
  assert.equal(replaced.length, 1);
  assert.equal(replaced[0]!.data.reason, 'not JSON');
  assert.deepEqual({ seq: anchorJson(d).seq, hash: anchorJson(d).hash }, newest(d));
  await (await start(d)).close();
});

test('attack: the database set back under a running node → GET /v1/audit/verify and `audit verify` answer audit.rolled-back', async () => {
  const { d, copy, before } = await withHistory(2);
  const node = await start(d, { auditAnchorIntervalMs: 100 });
  try {
    const ok = AuditVerify.parse((await api(node, d, '/v1/audit/verify')).body);
    assert.equal(ok.ok, true);
    const saw = ok.head!;
    // the anchor reaches the head the node saw
    const deadline = Date.now() + 5000;
    while (anchorJson(d).seq !== saw.seq && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    assert.deepEqual({ seq: anchorJson(d).seq, hash: anchorJson(d).hash }, saw);
    // the audit tables set back as a whole: the chain and its head (with its genuine MAC) verify on their own
    const db = new Database(d.db);
    try {
      db.exec(`attach '${copy}' as old; delete from audit_log; insert into audit_log select * from old.audit_log; delete from audit_head; insert into audit_head select * from old.audit_head; detach old`);
    } finally {
      db.close();
    }
    const r = AuditVerify.parse((await api(node, d, '/v1/audit/verify')).body);
    assert.deepEqual({ ok: r.ok, code: r.code, rows: r.rows, brokenAt: r.brokenAt }, { ok: false, code: 'audit.rolled-back', rows: before.seq, brokenAt: before.seq + 1 });
    assert.equal(r.reason, rolledBack(before.seq, saw));
    const cli = await runCli(['audit', 'verify', '--dir', d.dir, '--admin-url', node.urls.admin!], {}, 60_000);
    assert.equal(cli.code, 1);
    assert.match(cli.stderr, new RegExp(`^error: audit\\.rolled-back: the audit trail ends at seq ${before.seq} but this node last saw seq ${saw.seq} `));
  } finally {
    await node.close();
  }
  // the running node did not move its anchor back
  assert.ok(anchorJson(d).seq > before.seq);
});

test('attack: the database set back under a running node and its anchor file put back as an older copy, or deleted → GET /v1/audit/verify still answers audit.rolled-back', async () => {
  const d = await newDir();
  let node = await start(d);
  await changes(node, d, 1, 'first');
  await node.close();
  const copy = backup(d);
  const before = newest(d);
  // an anchor the node itself wrote, at the head the copy holds: its MAC verifies
  const olderAnchor = readFileSync(d.anchor, 'utf8');
  assert.equal(anchorJson(d).seq, before.seq);
  node = await start(d, { auditAnchorIntervalMs: 100 });
  try {
    await changes(node, d, 2, 'later');
    const saw = AuditVerify.parse((await api(node, d, '/v1/audit/verify')).body).head!;
    const deadline = Date.now() + 5000;
    while (anchorJson(d).seq !== saw.seq && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    assert.equal(anchorJson(d).seq, saw.seq);
    const db = new Database(d.db);
    try {
      db.exec(`attach '${copy}' as old; delete from audit_log; insert into audit_log select * from old.audit_log; delete from audit_head; insert into audit_head select * from old.audit_head; detach old`);
    } finally {
      db.close();
    }
    writeFileSync(d.anchor, olderAnchor);
    const r = AuditVerify.parse((await api(node, d, '/v1/audit/verify')).body);
    assert.deepEqual({ ok: r.ok, code: r.code, rows: r.rows, brokenAt: r.brokenAt }, { ok: false, code: 'audit.rolled-back', rows: before.seq, brokenAt: before.seq + 1 });
    assert.equal(r.reason, rolledBack(before.seq, saw));
    rmSync(d.anchor);
    const gone = AuditVerify.parse((await api(node, d, '/v1/audit/verify')).body);
    assert.deepEqual({ ok: gone.ok, code: gone.code, reason: gone.reason }, { ok: false, code: 'audit.rolled-back', reason: rolledBack(before.seq, saw) });
  } finally {
    await node.close();
  }
});

test('`keys rotate-master` leaves the anchor valid: the node starts with the new master key', async () => {
  const { d } = await withHistory(1);
  const rotated = await runCli(['keys', 'rotate-master', '--dir', d.dir], {}, 60_000);
  assert.equal(rotated.code, 0, rotated.stderr);
  await (await start(d)).close();
  assert.deepEqual({ seq: anchorJson(d).seq, hash: anchorJson(d).hash }, newest(d));
});
