/**
 * NIST SP 800-38D §8.3 bounds the invocations of the authenticated encryption function under
 * one key, every use counted. A data key limited to N sealed N values, and then sealed one
 * more thing: its successor data key, wrapped under it when the envelope moved on (and one
 * more per node whose proposal lost the race). That (N+1)-th invocation was not counted.
 * These tests count every AES-GCM encryption per key, at the exact boundary.
 */
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import { syncBuiltinESMExports } from 'node:module';
import { after, before, test } from 'node:test';
import { MemoryAuditSink } from '../../src/audit/sink.js';
import { Envelope } from '../../src/crypto/envelope.js';
import { GcmMeter } from '../../src/crypto/gcm-usage.js';
import { rotateMasterKey } from '../../src/crypto/rotate-master.js';
import { openDurableStore } from '../../src/store/index.js';
import type { DurableStore } from '../../src/store/types.js';

/** AES-256-GCM encryptions per key (hex of the key bytes), as the cipher saw them. */
const invocations = new Map<string, number>();
const realCreateCipheriv = crypto.createCipheriv;

before(() => {
  (crypto as { createCipheriv: unknown }).createCipheriv = (...args: Parameters<typeof crypto.createCipheriv>) => {
    const [algorithm, key] = args;
    if (algorithm === 'aes-256-gcm' && Buffer.isBuffer(key)) invocations.set(key.toString('hex'), (invocations.get(key.toString('hex')) ?? 0) + 1);
    return realCreateCipheriv(...args);
  };
  syncBuiltinESMExports();
});
after(() => {
  (crypto as { createCipheriv: unknown }).createCipheriv = realCreateCipheriv;
  syncBuiltinESMExports();
});

const dekOf = (sealed: string) => sealed.split('.')[1]!;
const MASTER = Buffer.alloc(32, 9);

/** The data key bytes an envelope holds, by id (read from it, as a test may). */
const dataKeys = (e: Envelope) => (e as unknown as { deks: Map<string, Buffer> }).deks;

async function usedUnder(e: Envelope, id: string): Promise<number> {
  const key = dataKeys(e).get(id);
  assert.ok(key, `data key ${id} is known`);
  return invocations.get(key.toString('hex')) ?? 0;
}

for (const [limit, block] of [[1, 1], [3, 1], [5, 2], [4, 4]] as const) {
  test(`a data key limited to ${limit} (blocks of ${block}) is used for exactly ${limit} AES-GCM encryptions, its successor's wrap included`, async () => {
    const store = await openDurableStore('sqlite::memory:');
    try {
      const env = await Envelope.open(store, MASTER, { usage: new GcmMeter(store, { limit, block }) });
      const sealed: string[] = [];
      for (let i = 0; i < 3 * limit + 1; i++) sealed.push(await env.encrypt(`v${i}`, `c${i}`));
      const ids = [...new Set(sealed.map(dekOf))];
      assert.ok(ids.length >= 3, 'the envelope moved on more than once');
      for (const id of ids.slice(0, -1)) assert.equal(await usedUnder(env, id), limit, `AES-GCM encryptions under spent data key ${id}`);
      assert.ok((await usedUnder(env, ids.at(-1)!)) <= limit);
      for (const [i, v] of sealed.entries()) assert.equal(await env.decryptString(v, `c${i}`), `v${i}`);
    } finally {
      await store.close();
    }
  });
}

test('two nodes racing to replace a spent data key: neither proposal is encrypted under the spent key', async () => {
  const store: DurableStore = await openDurableStore('sqlite::memory:');
  try {
    const meter = () => new GcmMeter(store, { limit: 2, block: 1 });
    const a = await Envelope.open(store, MASTER, { usage: meter() });
    const b = await Envelope.open(store, MASTER, { usage: meter() });
    const first = dekOf(await a.encrypt('x', 'c'));
    await b.encrypt('y', 'c');
    // both find the key spent at once: both propose a successor, one wins
    const [va, vb] = await Promise.all([a.encrypt('a', 'ca'), b.encrypt('b', 'cb')]);
    assert.equal(dekOf(va), dekOf(vb));
    assert.notEqual(dekOf(va), first);
    assert.equal(await usedUnder(a, first), 2);
    assert.equal(await a.decryptString(vb, 'cb'), 'b');
    assert.equal(await b.decryptString(va, 'ca'), 'a');
  } finally {
    await store.close();
  }
});

test('values sealed before and after a switch open after a restart and after a master-key rotation', async () => {
  const { mkdtempSync, rmSync } = await import('node:fs');
  const { tmpdir } = await import('node:os');
  const { join } = await import('node:path');
  const { createMasterKeyFile, readMasterKeyFile } = await import('../../src/crypto/master-key.js');
  const dir = mkdtempSync(join(tmpdir(), 'pc-dek-wrap-'));
  try {
    const keyFile = join(dir, 'master.key');
    createMasterKeyFile(keyFile);
    const url = `sqlite:${join(dir, 'a.db')}`;
    let store = await openDurableStore(url);
    const env = await Envelope.open(store, readMasterKeyFile(keyFile), { usage: new GcmMeter(store, { limit: 2, block: 1 }) });
    const sealed: string[] = [];
    for (let i = 0; i < 7; i++) sealed.push(await env.encrypt(`v${i}`, `c${i}`));
    for (const [i, v] of sealed.entries()) await store.putSetting(`test.sealed.${i}`, v);
    await store.close();
    store = await openDurableStore(url);
    const restarted = await Envelope.open(store, readMasterKeyFile(keyFile));
    for (const [i, v] of sealed.entries()) assert.equal(await restarted.decryptString(v, `c${i}`), `v${i}`);
    await rotateMasterKey(store, keyFile, { audit: new MemoryAuditSink(), actor: 'test' });
    const rotated = await Envelope.open(store, readMasterKeyFile(keyFile));
    for (const [i, v] of sealed.entries()) assert.equal(await rotated.decryptString(v, `c${i}`), `v${i}`);
    await store.close();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a successor stored before this rule (wrapped under its predecessor itself) still opens, on a node and through keys rotate-master', async () => {
  const { mkdtempSync, rmSync } = await import('node:fs');
  const { tmpdir } = await import('node:os');
  const { join } = await import('node:path');
  const { createMasterKeyFile, readMasterKeyFile } = await import('../../src/crypto/master-key.js');
  const dir = mkdtempSync(join(tmpdir(), 'pc-dek-legacy-'));
  const gcm = (key: Buffer, plain: Buffer, aad: string) => {
    const iv = crypto.randomBytes(12);
    const c = realCreateCipheriv('aes-256-gcm', key, iv);
    c.setAAD(Buffer.from(aad));
    return `${iv.toString('base64url')}.${Buffer.concat([c.update(plain), c.final(), c.getAuthTag()]).toString('base64url')}`;
  };
  try {
    const keyFile = join(dir, 'master.key');
    createMasterKeyFile(keyFile);
    const store = await openDurableStore(`sqlite:${join(dir, 'a.db')}`);
    const env = await Envelope.open(store, readMasterKeyFile(keyFile));
    const root = dekOf(await env.encrypt('r', 'cr'));
    // what an earlier version stored at a switch: the successor under the root data key itself
    const legacy = Buffer.alloc(32, 4);
    await store.putSetting(`envelope.dek.legacy1`, `${root}.${gcm(dataKeys(env).get(root)!, legacy, 'envelope.dek.legacy1')}`);
    await store.putSetting(`envelope.successor.${root}`, 'legacy1');
    const value = `pc1.legacy1.${gcm(legacy, Buffer.from('old'), 'cl')}`;
    await store.putSetting('test.sealed.legacy', value);
    const reopened = await Envelope.open(store, readMasterKeyFile(keyFile), { usage: new GcmMeter(store, { limit: 1, block: 1 }) });
    assert.equal(await reopened.decryptString(value, 'cl'), 'old');
    // it seals under the legacy successor, then moves on to one wrapped the new way
    const next = [await reopened.encrypt('n1', 'c1'), await reopened.encrypt('n2', 'c2')];
    assert.equal(dekOf(next[0]!), 'legacy1');
    assert.match((await store.getSetting(`envelope.dek.${dekOf(next[1]!)}`))!, /^legacy1\.h1\./);
    await rotateMasterKey(store, keyFile, { audit: new MemoryAuditSink(), actor: 'test' });
    const rotated = await Envelope.open(store, readMasterKeyFile(keyFile));
    assert.equal(await rotated.decryptString(value, 'cl'), 'old');
    assert.equal(await rotated.decryptString(next[1]!, 'c2'), 'n2');
    await store.close();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
