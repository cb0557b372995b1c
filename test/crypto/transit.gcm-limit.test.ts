/**
 * NIST SP 800-38D §8.3: a transit key version encrypts (with random IVs) at most 2^32
 * times, or the configured lower limit; counts are durable, reserved in blocks and
 * shared by every node on the store.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FrozenClock } from '../../src/core/clock.js';
import { PortcullisError, ERRORS } from '../../src/core/errors.js';
import { MemoryAuditSink } from '../../src/audit/sink.js';
import { Envelope } from '../../src/crypto/envelope.js';
import { GcmMeter, MemoryKeyUsageStore } from '../../src/crypto/gcm-usage.js';
import type { KeyUsageStore } from '../../src/crypto/store.js';
import { MemoryTransitStore, Transit } from '../../src/crypto/transit/index.js';
import { openDurableStore } from '../../src/store/index.js';
import type { DurableStore } from '../../src/store/types.js';
import { createTempPostgresDatabase, serviceDescribe } from '../support/services.js';
import { memorySettings } from './transit-support.js';

const clock = new FrozenClock(Date.UTC(2026, 0, 1));
const versionOf = (ct: string) => Number(ct.slice(4, ct.indexOf(':', 4)));
const dec = (b: Uint8Array) => new TextDecoder().decode(b);
const exhausted = (e: unknown) => e instanceof PortcullisError && e.code === 'transit.key-exhausted' && e.status === 409;

async function memoryTransit(limit: number, block: number, usageStore: KeyUsageStore = new MemoryKeyUsageStore()) {
  const envelope = await Envelope.open(memorySettings(), randomBytes(32));
  const audit = new MemoryAuditSink();
  const transit = new Transit(new MemoryTransitStore(), envelope, clock, { usage: new GcmMeter(usageStore, { limit, block }), audit });
  return { transit, audit };
}

/** A node on a durable store: its own Transit and its own meter (its own reserved blocks). */
async function node(store: DurableStore, master: Buffer, limit = 5, block = 2): Promise<Transit> {
  return new Transit(store, await Envelope.open(store, master), clock, { usage: new GcmMeter(store, { limit, block }) });
}

test('gcm limit: the 6th encryption under a version limited to 5 lands on a new version (auto-rotation); every value decrypts', async () => {
  const { transit, audit } = await memoryTransit(5, 2);
  await transit.createKey('pii', 'aes256-gcm');
  const cts: string[] = [];
  for (let i = 0; i < 12; i++) cts.push(await transit.encrypt('pii', `m${i}`));
  assert.deepEqual(cts.map(versionOf), [1, 1, 1, 1, 1, 2, 2, 2, 2, 2, 3, 3]);
  for (let i = 0; i < 12; i++) assert.equal(dec(await transit.decrypt('pii', cts[i]!)), `m${i}`);
  const info = await transit.readKey('pii');
  assert.equal(info.latestVersion, 3);
  assert.deepEqual(info.versions.map((v) => v.encryptions), [5, 5, 2]);
  assert.equal(info.encryptionLimit, 5);
  const rotations = audit.events.filter((e) => e.type === 'transit.key-rotated');
  assert.deepEqual(rotations.map((e) => [e.actor, e.reason, e.data?.version]), [['system', 'transit.key-exhausted', 2], ['system', 'transit.key-exhausted', 3]]);
});

test('gcm limit: without auto-rotation the 6th encryption is refused with transit.key-exhausted (409), audited; decrypt goes on; a rotation resumes encryption', async () => {
  const { transit, audit } = await memoryTransit(5, 2);
  await transit.createKey('pii', 'aes256-gcm', { autoRotate: false });
  const cts: string[] = [];
  for (let i = 0; i < 5; i++) cts.push(await transit.encrypt('pii', `m${i}`));
  await assert.rejects(transit.encrypt('pii', 'sixth'), exhausted);
  await assert.rejects(transit.rewrap('pii', cts[0]!), exhausted);
  await assert.rejects(transit.generateDataKey('pii'), exhausted);
  const batch = await transit.encryptBatch('pii', [{ plaintext: 'a' }]);
  assert.deepEqual(batch.map((r) => (r.ok ? 'ok' : r.code)), ['transit.key-exhausted']);
  for (let i = 0; i < 5; i++) assert.equal(dec(await transit.decrypt('pii', cts[i]!)), `m${i}`);
  assert.equal(ERRORS['transit.key-exhausted'].status, 409);
  assert.equal(audit.events.filter((e) => e.type === 'transit.key-exhausted').length, 1);
  await transit.rotate('pii');
  assert.equal(versionOf(await transit.encrypt('pii', 'after')), 2);
  // an exhausted version asked for by number is refused even with auto-rotation on
  await transit.configure('pii', { autoRotate: true });
  await assert.rejects(transit.encrypt('pii', 'x', { version: 1 }), exhausted);
});

test('gcm limit: the library fast path writes to the store once per block, not per encryption', async () => {
  const inner = new MemoryKeyUsageStore();
  let reservations = 0;
  const counting: KeyUsageStore = {
    reserveKeyUsage: (...a) => (reservations++, inner.reserveKeyUsage(...a)),
    readKeyUsage: (ids) => inner.readKeyUsage(ids),
  };
  const { transit } = await memoryTransit(2 ** 32, 2 ** 16, counting);
  await transit.createKey('hot', 'aes256-gcm');
  for (let i = 0; i < 1000; i++) await transit.encrypt('hot', 'x');
  assert.equal(reservations, 1);
  assert.equal((await transit.readKey('hot')).versions[0]!.encryptions, 2 ** 16);
});

test('gcm limit: counts survive a restart of the node (SQLite reopened); the unused rest of a block is forfeited, never reused', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'portcullis-gcm-'));
  const url = `sqlite:${join(dir, 'a.db')}`;
  const master = randomBytes(32);
  try {
    let store = await openDurableStore(url);
    let t = await node(store, master);
    await t.createKey('pii', 'aes256-gcm', { autoRotate: false });
    const before = [await t.encrypt('pii', 'a'), await t.encrypt('pii', 'b'), await t.encrypt('pii', 'c')];
    assert.deepEqual(before.map(versionOf), [1, 1, 1]);
    await store.close();

    store = await openDurableStore(url);
    t = await node(store, master);
    // blocks [0,2) and [2,4) were reserved; the 4th count was forfeited: one encryption is left of 5
    assert.equal((await t.readKey('pii')).versions[0]!.encryptions, 4);
    assert.equal(versionOf(await t.encrypt('pii', 'd')), 1);
    await assert.rejects(t.encrypt('pii', 'e'), exhausted);
    for (const [i, ct] of before.entries()) assert.equal(dec(await t.decrypt('pii', ct)), 'abc'[i]);
    await store.close();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

async function twoNodes(open: () => Promise<DurableStore>): Promise<void> {
  const master = randomBytes(32);
  const a = await open();
  const b = await open();
  try {
    const na = await node(a, master);
    const nb = await node(b, master);
    await na.createKey('fixed', 'aes256-gcm', { autoRotate: false });
    await na.createKey('rolling', 'aes256-gcm');
    // interleaved and concurrent: neither node may hand out a count the other has
    const fixed = await Promise.allSettled(Array.from({ length: 16 }, (_, i) => (i % 2 ? na : nb).encrypt('fixed', `m${i}`)));
    const ok = fixed.filter((r): r is PromiseFulfilledResult<string> => r.status === 'fulfilled').map((r) => r.value);
    assert.equal(ok.length, 5);
    assert.ok(fixed.every((r) => r.status === 'fulfilled' || exhausted(r.reason)));
    for (const ct of ok) assert.match(dec(await nb.decrypt('fixed', ct)), /^m\d+$/);

    const rolling: string[] = [];
    for (let round = 0; round < 4; round++) rolling.push(...(await Promise.all(Array.from({ length: 6 }, (_, i) => (i % 2 ? na : nb).encrypt('rolling', `r${round}.${i}`)))));
    const perVersion = new Map<number, number>();
    for (const ct of rolling) perVersion.set(versionOf(ct), (perVersion.get(versionOf(ct)) ?? 0) + 1);
    for (const [v, n] of perVersion) assert.ok(n <= 5, `version ${v} encrypted ${n} times`);
    const info = await na.readKey('rolling');
    assert.deepEqual(info.versions.map((v) => v.version), [...Array(info.latestVersion).keys()].map((i) => i + 1));
    for (const ct of rolling) assert.match(dec(await na.decrypt('rolling', ct)), /^r\d\.\d$/);
  } finally {
    await a.close();
    await b.close();
  }
}

test('gcm limit: two nodes on one SQLite file never hand out more than the limit between them', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'portcullis-gcm-'));
  try {
    await twoNodes(() => openDurableStore(`sqlite:${join(dir, 'a.db')}`));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

await serviceDescribe('postgres', 'gcm limit on PostgreSQL', () => {
  test('gcm limit: two nodes on one PostgreSQL database never hand out more than the limit between them', async () => {
    const db = await createTempPostgresDatabase();
    try {
      await twoNodes(() => openDurableStore(db.url));
    } finally {
      await db.drop();
    }
  });
});
