/**
 * Where the audit anchor (audit/anchor.ts) lives: `audit.anchorFile`, by default
 * `audit.anchor` in the config directory. On Kubernetes the config directory is commonly a
 * read-only ConfigMap or Secret mount, where a node cannot write its anchor: it refuses to
 * start with `audit.anchor-unwritable` naming the file and the key that moves it, and with
 * the key pointing at a writable volume it starts and keeps its anchor there, which still
 * detects a database set back. Real SQLite files, a real read-only mount, real restarts.
 */
import assert from 'node:assert/strict';
import { copyFileSync, existsSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, test } from 'node:test';
import Database from 'better-sqlite3';
import { startPortcullis, type Portcullis } from '../../src/app.js';
import { PortcullisError } from '../../src/core/errors.js';
import { silentLogger } from '../../src/core/logger.js';
import { AuditVerify } from '../../src/http/admin/schemas.js';
import { initDir, tempDir, TEST_CONFIG } from '../admin/node.js';
import { runCli } from '../cli/run.js';
import { bindReadOnly } from '../support/read-only.js';

const dirs: string[] = [];
after(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

function newTemp(prefix: string): string {
  const dir = tempDir(prefix);
  dirs.push(dir);
  return dir;
}

/** A config directory whose SQLite database is in `data` (a writable volume), with `extra` config. */
async function newNode(data: string, extra = ''): Promise<{ dir: string; configFile: string; adminToken: string; db: string }> {
  const db = join(data, 'portcullis.db');
  const d = await initDir(newTemp('portcullis-anchor-cfg-'), TEST_CONFIG.replace('sqlite:./portcullis.db', `sqlite:${db}`) + extra);
  return { ...d, db };
}

function start(configFile: string, env: NodeJS.ProcessEnv = {}, auditAnchorIntervalMs?: number): Promise<Portcullis> {
  return startPortcullis({ configFile, env, ephemeralPorts: true, logger: silentLogger, ...(auditAnchorIntervalMs === undefined ? {} : { auditAnchorIntervalMs }) });
}

async function createApps(node: Portcullis, adminToken: string, n: number, prefix: string): Promise<void> {
  for (let i = 0; i < n; i++) {
    const res = await fetch(`${node.urls.admin!}/v1/apps`, {
      method: 'POST',
      headers: { authorization: `Bearer ${adminToken}`, 'content-type': 'application/json' },
      body: JSON.stringify({ name: `${prefix}-${i}`, audiences: ['api'], scopes: [] }),
    });
    assert.equal(res.status, 201);
  }
}

function newest(db: string): { seq: number; hash: string } {
  const d = new Database(db, { readonly: true });
  try {
    return d.prepare('select seq, hash from audit_log order by seq desc limit 1').get() as { seq: number; hash: string };
  } finally {
    d.close();
  }
}

function anchorAt(file: string): { seq: number; hash: string } {
  const a = JSON.parse(readFileSync(file, 'utf8')) as { seq: number; hash: string };
  return { seq: a.seq, hash: a.hash };
}

async function refused(p: Promise<unknown>, code: string, message: string): Promise<void> {
  await assert.rejects(p, (e: unknown) => {
    assert.ok(e instanceof PortcullisError, `expected a PortcullisError, got ${String(e)}`);
    assert.equal(e.code, code);
    assert.equal(e.message, message);
    return true;
  });
}

const unwritable = (file: string, cause: string) =>
  `the audit anchor ${file} cannot be written: ${cause}; set audit.anchorFile (PORTCULLIS_AUDIT__ANCHOR_FILE) to a file on a volume the node can write (not a read-only mount such as a Kubernetes ConfigMap or Secret), or make that directory writable`;

/** The CLI's stderr, less the warning oidc-provider prints on an older Node.js. */
const stderrLines = (stderr: string): string[] => stderr.split('\n').filter((l) => l !== '' && !l.startsWith('oidc-provider WARNING'));

test('audit.anchorFile is honoured: the anchor is made there (missing directories 0700, the file 0600), not in the config directory; a database set back is still detected through it', async () => {
  const data = newTemp('portcullis-anchor-data-');
  const d = await newNode(data, 'audit:\n  anchorFile: ./state/anchors/node.anchor\n');
  const anchor = join(d.dir, 'state', 'anchors', 'node.anchor');
  let node = await start(d.configFile);
  await createApps(node, d.adminToken, 1, 'first');
  await node.close();
  assert.equal(existsSync(join(d.dir, 'audit.anchor')), false, 'no anchor in the config directory');
  assert.equal(statSync(join(d.dir, 'state')).mode & 0o777, 0o700);
  assert.equal(statSync(join(d.dir, 'state', 'anchors')).mode & 0o777, 0o700);
  assert.equal(statSync(anchor).mode & 0o777, 0o600);
  assert.deepEqual(anchorAt(anchor), newest(d.db));
  const copy = join(data, 'backup.db');
  const b = new Database(d.db);
  b.exec(`vacuum into '${copy}'`);
  b.close();
  const before = newest(d.db);

  node = await start(d.configFile, {}, 100);
  try {
    await createApps(node, d.adminToken, 2, 'later');
    const verify = async () => AuditVerify.parse(await (await fetch(`${node.urls.admin!}/v1/audit/verify`, { headers: { authorization: `Bearer ${d.adminToken}` } })).json());
    const ok = await verify();
    assert.equal(ok.ok, true);
    // the configured anchor follows the head while the node runs
    const deadline = Date.now() + 5000;
    while (anchorAt(anchor).seq !== ok.head!.seq && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    assert.deepEqual(anchorAt(anchor), ok.head);
    // the audit tables set back under the running node: verify reads the configured anchor
    const db = new Database(d.db);
    db.exec(`attach '${copy}' as old; delete from audit_log; insert into audit_log select * from old.audit_log; delete from audit_head; insert into audit_head select * from old.audit_head; detach old`);
    db.close();
    const r = await verify();
    assert.equal(r.ok, false);
    assert.equal(r.code, 'audit.rolled-back');
  } finally {
    await node.close();
  }
  const saw = anchorAt(anchor);
  assert.ok(saw.seq > before.seq);
  // the database restored from the copy: refused at start, through the configured anchor
  rmSync(`${d.db}-wal`, { force: true });
  rmSync(`${d.db}-shm`, { force: true });
  copyFileSync(copy, d.db);
  await refused(
    start(d.configFile),
    'audit.rolled-back',
    `the audit trail ends at seq ${before.seq} but this node last saw seq ${saw.seq} (hash ${saw.hash}): the database was restored from an older copy or its newest events were removed (after a legitimate restore, start the node with --accept-audit-rollback)`,
  );
  assert.equal(existsSync(join(d.dir, 'audit.anchor')), false);
});

test('attack: audit.anchorFile below a regular file → start refused with audit.anchor-unwritable naming the file, the cause and the key; the CLI prints one line, no stack trace', async () => {
  const d = await newNode(newTemp('portcullis-anchor-data-'), 'audit:\n  anchorFile: ./not-a-directory/audit.anchor\n');
  writeFileSync(join(d.dir, 'not-a-directory'), '');
  const file = join(d.dir, 'not-a-directory', 'audit.anchor');
  const message = unwritable(file, `${join(d.dir, 'not-a-directory')} is a file, not a directory`);
  await refused(start(d.configFile), 'audit.anchor-unwritable', message);
  const cli = await runCli(['start', '--dir', d.dir], {}, 60_000);
  assert.equal(cli.code, 1);
  assert.deepEqual(stderrLines(cli.stderr), [`error: audit.anchor-unwritable: ${message}`]);
});

test('an empty audit.anchorFile is refused as config.invalid', async () => {
  const d = await newNode(newTemp('portcullis-anchor-data-'));
  await assert.rejects(start(d.configFile, { PORTCULLIS_AUDIT__ANCHOR_FILE: '""' }), (e: unknown) => e instanceof PortcullisError && e.code === 'config.invalid' && e.message.includes('audit.anchorFile'));
});

const probeDir = tempDir('portcullis-ro-probe-');
const probe = bindReadOnly(probeDir);
if (typeof probe === 'function') probe();
rmSync(probeDir, { recursive: true, force: true });

if (typeof probe === 'string') {
  test(`a read-only config directory [skipped: ${probe}]`, { skip: probe }, () => undefined);
} else {
  test('a read-only config directory (a ConfigMap mount): the default anchor → audit.anchor-unwritable (also when an anchor is already there); audit.anchorFile on a writable volume → the node starts and keeps its anchor there', async () => {
    const data = newTemp('portcullis-anchor-data-');
    const d = await newNode(data);
    const inConfig = join(d.dir, 'audit.anchor');
    // a node that ran before the mount: an anchor at the head is there already
    await (await start(d.configFile)).close();
    assert.deepEqual(anchorAt(inConfig), newest(d.db));
    const unmount = bindReadOnly(d.dir);
    assert.equal(typeof unmount, 'function', String(unmount));
    try {
      const message = unwritable(inConfig, 'read-only file system (EROFS)');
      await refused(start(d.configFile), 'audit.anchor-unwritable', message);
      const cli = await runCli(['start', '--dir', d.dir], {}, 60_000);
      assert.equal(cli.code, 1);
      assert.deepEqual(stderrLines(cli.stderr), [`error: audit.anchor-unwritable: ${message}`]);

      // the key pointing at the writable volume (an environment override: the config file is read-only too)
      const anchor = join(data, 'anchor', 'audit.anchor');
      const node = await start(d.configFile, { PORTCULLIS_AUDIT__ANCHOR_FILE: anchor });
      await createApps(node, d.adminToken, 2, 'x');
      await node.close();
      assert.deepEqual(anchorAt(anchor), newest(d.db));
      assert.equal(statSync(join(data, 'anchor')).mode & 0o777, 0o700);
      assert.equal(statSync(anchor).mode & 0o777, 0o600);
    } finally {
      (unmount as () => void)();
    }
  });
}
