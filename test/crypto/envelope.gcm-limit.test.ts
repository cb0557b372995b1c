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
import { MemoryAuditSink } from '../../src/audit/sink.js';
import { FrozenClock } from '../../src/core/clock.js';
import { Envelope } from '../../src/crypto/envelope.js';
import { GcmMeter } from '../../src/crypto/gcm-usage.js';
import { createMasterKeyFile, readMasterKeyFile } from '../../src/crypto/master-key.js';
import { rotateMasterKey } from '../../src/crypto/rotate-master.js';
import { openDurableStore } from '../../src/store/index.js';
import type { DurableStore } from '../../src/store/types.js';
import { startTestNode, testConfig } from '../support/portcullis.js';
import { createTempPostgresDatabase, serviceDescribe } from '../support/services.js';

const dekOf = (sealed: string) => sealed.split('.')[1]!;
/** `audited`: the switches are audited in the store, as a node opens it (app.ts). */
const open = (store: DurableStore, master: Buffer, audited = false) =>
  Envelope.open(store, master, { usage: new GcmMeter(store, { limit: 5, block: 2 }), ...(audited ? { audit: store, clock: new FrozenClock(Date.UTC(2026, 0, 1)) } : {}) });

const switchRows = async (store: DurableStore) => (await store.listAudit(0, 10_000)).filter((e) => e.type === 'keys.data-key-rotated');

/** The data-key switches audited by every node, checked against the successor chain in the store: one event per switch, ids only. */
async function assertSwitchesAuditedOnce(store: DurableStore): Promise<void> {
  const successors = await store.listSettings('envelope.successor.');
  const events = await switchRows(store);
  assert.ok(successors.length > 0);
  assert.deepEqual(
    events.map((e) => `${e.data?.['from']}>${e.data?.['to']}`).sort(),
    successors.map((s) => `${s.name.slice('envelope.successor.'.length)}>${s.value}`).sort(),
    'each switch is audited once, by the node whose proposal won',
  );
  const wrapped = (await store.listSettings('envelope.dek.')).map((s) => s.value);
  for (const e of events) {
    assert.equal(e.actor, 'system');
    assert.equal(e.reason, 'gcm-limit');
    assert.equal(e.time, Date.UTC(2026, 0, 1));
    assert.deepEqual(Object.keys(e.data ?? {}).sort(), ['from', 'limit', 'to']);
    assert.equal(e.data?.['limit'], 5);
    const text = JSON.stringify(e);
    for (const w of wrapped) for (const part of w.split('.')) if (part.length > 16) assert.ok(!text.includes(part), 'no wrapped key material in the event');
  }
}

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
    const a = await open(store, master, true);
    const b = await open(store, master, true); // a second node, opened before any rotation
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
    // the switch is audited once, by the node that made it; the node that followed it records nothing
    assert.deepEqual((await switchRows(store)).map((e) => [e.type, e.data?.['from'], e.data?.['to']]), [['keys.data-key-rotated', first, second]]);
    await assertSwitchesAuditedOnce(store);
    await store.close();

    // restart: counts go on from the store, nothing is reused
    store = await openDurableStore(url);
    const c = await open(store, master);
    for (let i = 0; i < 6; i++) sealed.push([await c.encrypt(`late ${i}`, `ctx:late${i}`), `late ${i}`]);
    for (const [dek, n] of perDek(sealed.map(([v]) => v))) assert.ok(n <= 5, `data key ${dek} sealed ${n} values`);
    for (const [i, [v, plain]] of sealed.entries()) assert.equal(await c.decryptString(v, i < 6 ? `ctx:${i}` : i === 6 ? 'ctx:b' : `ctx:late${i - 7}`), plain);
    for (let i = 0; i < 6; i++) await store.putSetting(`test.sealed.${i}`, sealed[i]![0]);

    // master-key rotation checks the successor keys through their chain and leaves them alone
    const audit = new MemoryAuditSink();
    const r = await rotateMasterKey(store, keyFile, { audit, actor: 'test' });
    assert.ok(r.dataKeys.includes(first) && r.dataKeys.includes(second));
    const done = audit.events.find((e) => e.type === 'keys.master-rotated');
    assert.deepEqual([done?.data?.['rewrapped'], done?.data?.['successors']], [1, (await store.listSettings('envelope.successor.')).length], 'the successors are counted apart');
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
    const n1 = await open(s1, master, true);
    const n2 = await open(s2, master, true);
    const values = (await Promise.all(Array.from({ length: 24 }, (_, i) => (i % 2 ? n1 : n2).encrypt(`v${i}`, `c${i}`)))).map((v, i) => [v, i] as const);
    const counts = perDek(values.map(([v]) => v));
    for (const [dek, n] of counts) assert.ok(n <= 5, `data key ${dek} sealed ${n} values`);
    assert.ok(counts.size >= 5);
    // one successor per data key: the chain never forks
    const successors = await s1.listSettings('envelope.successor.');
    assert.equal(new Set(successors.map((s) => s.value)).size, successors.length);
    for (const [v, i] of values) assert.equal(await (i % 2 ? n2 : n1).decryptString(v, `c${i}`), `v${i}`);
    await assertSwitchesAuditedOnce(s1);
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

test('envelope gcm limit: a node audits its data-key switches in its audit trail (keys.data-key-rotated)', async () => {
  const node = await startTestNode({ config: testConfig('encryption: { aesGcm: { invocationLimit: 2, reserveBlock: 1 } }\n') });
  try {
    const { app } = await node.services.apps.create({ name: 'sealer', audiences: ['x'], scopes: [] }, 'test');
    for (let i = 0; i < 3; i++) await node.services.appEncryptionKeys.add(app.clientId, { type: 'symmetric', alg: 'dir' }, 'test');
    await node.services.audit.flush();
    const rows = (await node.services.store.listAudit(0, 10_000)).filter((r) => r.type === 'keys.data-key-rotated');
    const successors = await node.services.store.listSettings('envelope.successor.');
    assert.ok(rows.length > 0);
    // every switch, also those made while `init` sealed the first secrets, once
    const chain = successors.map((s) => `${s.name.slice('envelope.successor.'.length)}>${s.value}`).sort();
    assert.deepEqual(rows.map((r) => `${r.data?.['from']}>${r.data?.['to']}`).sort(), chain);
  } finally {
    await node.stop();
  }
});
