/**
 * Rotating the admin token: the admin plane read `adminTokenFile` once at start, so an
 * operator who replaced a leaked token in the file still had the old one accepted until the
 * node restarted, with nothing in the audit trail. The plane now re-reads the file when it
 * changes (as `tls.mode: files` re-reads its certificate): the old token stops working within
 * the check interval, and the replacement is audited (`admin.token-replaced`, actor `system`,
 * never the token). A file that no longer holds a usable token (a mode others can read, no
 * token, removed) fails closed: no token is accepted until it does (`admin.token-refused`).
 */
import assert from 'node:assert/strict';
import { chmodSync, renameSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { startPortcullis, type Portcullis } from '../../src/app.js';
import { silentLogger } from '../../src/core/logger.js';
import { initDir } from './node.js';

const CHECK_MS = 50;
let dir: string;
let node: Portcullis;
let oldToken: string;
const NEW_TOKEN = `pca_${'n'.repeat(43)}`;
const THIRD_TOKEN = `pca_${'t'.repeat(43)}`;

before(async () => {
  const init = await initDir();
  dir = init.dir;
  oldToken = init.adminToken;
  node = await startPortcullis({ configFile: init.configFile, ephemeralPorts: true, logger: silentLogger, adminTokenCheckIntervalMs: CHECK_MS });
});
after(async () => {
  await node?.close();
  rmSync(dir, { recursive: true, force: true });
});

async function statusWith(token: string): Promise<number> {
  const res = await fetch(`${node.urls.admin}/v1/apps`, { headers: { authorization: `Bearer ${token}` } });
  await res.arrayBuffer();
  return res.status;
}

/** Polls until `token` gets `status`, for at most 40 check intervals. */
async function until(token: string, status: number): Promise<void> {
  for (let i = 0; i < 40; i++) {
    if ((await statusWith(token)) === status) return;
    await sleep(CHECK_MS);
  }
  assert.fail(`${token.slice(0, 6)}… never got ${status}`);
}

/** Replaces the token file as an operator would: a new file renamed over the old one. */
function replaceTokenFile(content: string, mode = 0o600): void {
  const tmp = join(dir, 'admin.token.new');
  writeFileSync(tmp, content, { mode });
  chmodSync(tmp, mode);
  renameSync(tmp, join(dir, 'admin.token'));
}

async function adminTokenEvents(): Promise<Array<{ type: string; actor: string; reason: string | null | undefined; data: unknown }>> {
  await node.services.audit.flush();
  return (await node.services.store.tailAudit(1000)).filter((r) => r.type.startsWith('admin.token-')).map((r) => ({ type: r.type, actor: r.actor, reason: r.reason, data: r.data }));
}

test('bug: a replaced admin token file revokes the old token without a restart, and the new one works; audited, never the token', async () => {
  assert.equal(await statusWith(oldToken), 200);
  replaceTokenFile(`${NEW_TOKEN}\n`);
  await until(oldToken, 401);
  assert.equal(await statusWith(NEW_TOKEN), 200);
  const events = await adminTokenEvents();
  assert.deepEqual(events, [{ type: 'admin.token-replaced', actor: 'system', reason: null, data: { file: './admin.token' } }]);
  const trail = JSON.stringify(await node.services.store.tailAudit(1000));
  assert.ok(!trail.includes(NEW_TOKEN) && !trail.includes(oldToken), 'no token in the trail');
});

test('a file touched without a new token is no replacement (no event, the token still works)', async () => {
  const before = (await adminTokenEvents()).length;
  const later = new Date(Date.now() + 5_000);
  utimesSync(join(dir, 'admin.token'), later, later);
  await sleep(CHECK_MS * 4);
  assert.equal(await statusWith(NEW_TOKEN), 200);
  assert.equal((await adminTokenEvents()).length, before);
});

test('fail closed: a replacement others can read refuses every token (the old one too) until the file holds a usable token', async () => {
  replaceTokenFile(`${THIRD_TOKEN}\n`, 0o644);
  await until(NEW_TOKEN, 401);
  assert.equal(await statusWith(THIRD_TOKEN), 401);
  const refused = (await adminTokenEvents()).at(-1)!;
  assert.equal(refused.type, 'admin.token-refused');
  assert.equal(refused.reason, 'config.invalid');
  assert.deepEqual(refused.data, { file: './admin.token' });
  chmodSync(join(dir, 'admin.token'), 0o600);
  await until(THIRD_TOKEN, 200);
  assert.equal((await adminTokenEvents()).at(-1)!.type, 'admin.token-replaced');
});

test('fail closed: a removed token file refuses every token until it is back', async () => {
  rmSync(join(dir, 'admin.token'));
  await until(THIRD_TOKEN, 401);
  assert.deepEqual((await adminTokenEvents()).at(-1), { type: 'admin.token-refused', actor: 'system', reason: 'config.not-found', data: { file: './admin.token' } });
  replaceTokenFile(`${THIRD_TOKEN}\n`);
  await until(THIRD_TOKEN, 200);
});
