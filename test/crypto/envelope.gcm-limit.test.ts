/**
 * NIST SP 800-38D §8.3 for secrets at rest: a data key seals (with random IVs) at most
 * 2^32 values, or the configured lower limit; then every node moves to one successor
 * data key, and values sealed under any of them still open, on every node and after a
 * restart or a master-key rotation.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Envelope } from '../../src/crypto/envelope.js';
import { GcmMeter } from '../../src/crypto/gcm-usage.js';
import { createMasterKeyFile, readMasterKeyFile } from '../../src/crypto/master-key.js';
import { rotateMasterKey } from '../../src/crypto/rotate-master.js';
import { openDurableStore } from '../../src/store/index.js';
import type { DurableStore } from '../../src/store/types.js';
import { createTempPostgresDatabase, serviceDescribe } from '../support/services.js';

const dekOf = (sealed: string) => sealed.split('.')[1]!;
const open = (store: DurableStore, master: Buffer) => Envelope.open(store, master, { usage: new GcmMeter(store, { limit: 5, block: 2 }) });

function perDek(values: string[]): Map<string, number> {
  const m = new Map<string, number>();
  for (const v of values) m.set(dekOf(v), (m.get(dekOf(v)) ?? 0) + 1);
  return m;
}

test('envelope gcm limit: the 6th seal under a data key limited to 5 uses a new data key; another node, a restart and a master-key rotation open every value', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'portcullis-dek-'));
  const url = `sqlite:${join(dir, 'a.db')}`;
  const keyFile = join(dir, 'master.key');
  createMasterKeyFile(keyFile);
  try {
    let store = await openDurableStore(url);
    const master = readMasterKeyFile(keyFile);
    const a = await open(store, master);
    const b = await open(store, master); // a second node, opened before any rotation
    const sealed: Array<[string, string]> = [];
    for (let i = 0; i < 6; i++) sealed.push([await a.encrypt(`secret ${i}`, `ctx:${i}`), `secret ${i}`]);
    const first = dekOf(sealed[0]![0]);
    assert.deepEqual(sealed.slice(0, 5).map(([v]) => dekOf(v)), Array(5).fill(first));
    const second = dekOf(sealed[5]![0]);
    assert.notEqual(second, first);
    // the other node opens a value under the data key it has never seen, and seals under it too
    assert.equal(await b.decryptString(sealed[5]![0], 'ctx:5'), 'secret 5');
    const fromB = await b.encrypt('from b', 'ctx:b');
    assert.equal(dekOf(fromB), second);
    sealed.push([fromB, 'from b']);
    await store.close();

    // restart: counts go on from the store, nothing is reused
    store = await openDurableStore(url);
    const c = await open(store, master);
    for (let i = 0; i < 6; i++) sealed.push([await c.encrypt(`late ${i}`, `ctx:late${i}`), `late ${i}`]);
    for (const [dek, n] of perDek(sealed.map(([v]) => v))) assert.ok(n <= 5, `data key ${dek} sealed ${n} values`);
    for (const [i, [v, plain]] of sealed.entries()) assert.equal(await c.decryptString(v, i < 6 ? `ctx:${i}` : i === 6 ? 'ctx:b' : `ctx:late${i - 7}`), plain);
    for (let i = 0; i < 6; i++) await store.putSetting(`test.sealed.${i}`, sealed[i]![0]);

    // master-key rotation checks the successor keys through their chain and leaves them alone
    const r = await rotateMasterKey(store, keyFile);
    assert.ok(r.dataKeys.includes(first) && r.dataKeys.includes(second));
    const after = await Envelope.open(store, readMasterKeyFile(keyFile));
    for (let i = 0; i < 6; i++) assert.equal(await after.decryptString(sealed[i]![0], `ctx:${i}`), `secret ${i}`);
    await store.close();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

async function twoNodes(openStore: () => Promise<DurableStore>): Promise<void> {
  const master = Buffer.alloc(32, 7);
  const s1 = await openStore();
  const s2 = await openStore();
  try {
    const n1 = await open(s1, master);
    const n2 = await open(s2, master);
    const values = (await Promise.all(Array.from({ length: 24 }, (_, i) => (i % 2 ? n1 : n2).encrypt(`v${i}`, `c${i}`)))).map((v, i) => [v, i] as const);
    const counts = perDek(values.map(([v]) => v));
    for (const [dek, n] of counts) assert.ok(n <= 5, `data key ${dek} sealed ${n} values`);
    assert.ok(counts.size >= 5);
    // one successor per data key: the chain never forks
    const successors = await s1.listSettings('envelope.successor.');
    assert.equal(new Set(successors.map((s) => s.value)).size, successors.length);
    for (const [v, i] of values) assert.equal(await (i % 2 ? n2 : n1).decryptString(v, `c${i}`), `v${i}`);
  } finally {
    await s1.close();
    await s2.close();
  }
}

test('envelope gcm limit: two nodes on one SQLite file never seal more than the limit under one data key', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'portcullis-dek-'));
  try {
    await twoNodes(() => openDurableStore(`sqlite:${join(dir, 'a.db')}`));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

await serviceDescribe('postgres', 'envelope gcm limit on PostgreSQL', () => {
  test('envelope gcm limit: two nodes on one PostgreSQL database never seal more than the limit under one data key', async () => {
    const db = await createTempPostgresDatabase();
    try {
      await twoNodes(() => openDurableStore(db.url));
    } finally {
      await db.drop();
    }
  });
});
