/**
 * Assertions shared by the tests of SQLite files deleted or replaced under a running node
 * (the database file, its -wal, its -shm): a write refused `store.unavailable` with the
 * store's message, `ping` refused `store.not-writable` with the driver's reason.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PortcullisError } from '../../src/core/errors.js';
import { openDurableStore } from '../../src/store/index.js';
import type { DurableStore } from '../../src/store/types.js';

/** What a write refused because the -wal was deleted or replaced says (store-error.ts). */
export const WAL_REPLACED = 'the database -wal file was removed or replaced; stop the node (a clean stop, not kill -9: closing writes the open -wal into the database file) and start it again';

/** Asserts `p` fails 503 `store.unavailable` with exactly `message` (or matching it). */
export async function refused(p: Promise<unknown>, message: string | RegExp): Promise<void> {
  await assert.rejects(p, (e: unknown) => {
    assert.ok(e instanceof PortcullisError, String(e));
    assert.equal(e.code, 'store.unavailable');
    assert.equal(e.status, 503);
    if (typeof message === 'string') assert.equal(e.message, message);
    else assert.match(e.message, message);
    return true;
  });
}

/** Asserts the store's readiness check fails `store.not-writable` naming `reason`. */
export async function notWritable(store: DurableStore, reason: string): Promise<void> {
  await assert.rejects(store.ping(), (e: unknown) => {
    assert.ok(e instanceof PortcullisError, String(e));
    assert.equal(e.code, 'store.not-writable');
    assert.equal(e.details?.['reason'], reason);
    return true;
  });
}

/** An audit event to append. */
export const event = (type: string) => ({ time: Date.now(), type, actor: 'test', data: { n: 1 } });

/** Runs `fn` on a store over a fresh SQLite file (one write and a ping done), then closes it and removes the directory. */
export async function withSqliteStore(prefix: string, fn: (store: DurableStore, file: string, dir: string) => Promise<void>, auditThread = false): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  const file = join(dir, 'a.db');
  const store = await openDurableStore(`sqlite:${file}`, { auditThread });
  try {
    await store.putSetting('before', '1');
    await store.ping();
    await fn(store, file, dir);
  } finally {
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  }
}
