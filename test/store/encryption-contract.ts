/**
 * The AppEncryptionKeyStore (src/tokens/app-encryption-keys-store.ts) and TransitStore
 * (src/crypto/transit/store.ts) contracts, for every adapter (memory transit store,
 * SQLite, PostgreSQL). `addTransitKeyVersion` is a compare-and-set: under concurrent
 * rotation from two nodes exactly one writer of each version wins, and a version that
 * skips ahead is refused.
 */
import assert from 'node:assert/strict';
import type { TransitKeyRecord, TransitKeyVersion, TransitStore } from '../../src/crypto/transit/store.js';
import type { AppEncryptionKeyRecord, AppEncryptionKeyStore } from '../../src/tokens/app-encryption-keys-store.js';
import { rejectsWith, storeTests, twoNodes, type StoreHarness } from './store-harness.js';

const T0 = 1_700_000_000_000;

function encKey(kid: string, clientId: string, over: Partial<AppEncryptionKeyRecord> = {}): AppEncryptionKeyRecord {
  return { kid, clientId, type: 'symmetric', alg: 'dir', sealedKey: `pc1.dek.${kid}`, publicJwk: null, status: 'active', createdAt: T0, revokedAt: null, ...over };
}

function version(n: number, over: Partial<TransitKeyVersion> = {}): TransitKeyVersion {
  return { version: n, createdAt: T0 + n, sealed: `pc1.dek.iv.v${n}`, ...over };
}

function transitKey(name: string, over: Partial<TransitKeyRecord> = {}): TransitKeyRecord {
  return { name, type: 'aes256-gcm', createdAt: T0, minDecryptionVersion: 1, minEncryptionVersion: 0, autoRotate: true, versions: [version(1)], ...over };
}

export function runAppEncryptionKeyStoreSuite(name: string, make: () => Promise<StoreHarness<AppEncryptionKeyStore>>): void {
  const t = storeTests(`${name} app encryption keys`, make);

  t('insert, get and list round-trip every field; list filters by app, oldest first', async (open) => {
    const s = await open();
    const pub = encKey('k-pub', 'app-a', { type: 'public', alg: 'ECDH-ES+A256KW', sealedKey: null, publicJwk: { kty: 'OKP', crv: 'X25519', x: 'abc' }, createdAt: T0 + 2 });
    const sym = encKey('k-sym', 'app-a', { alg: 'A256KW', createdAt: T0 + 1 });
    const other = encKey('k-other', 'app-b');
    await s.insertAppEncryptionKey(pub);
    await s.insertAppEncryptionKey(sym);
    await s.insertAppEncryptionKey(other);
    assert.deepEqual(await s.getAppEncryptionKey('k-pub'), pub);
    assert.equal(typeof (await s.getAppEncryptionKey('k-sym'))!.createdAt, 'number');
    assert.deepEqual(await s.listAppEncryptionKeys('app-a'), [sym, pub]);
    assert.deepEqual(await s.listAppEncryptionKeys(), [other, sym, pub]);
    assert.equal(await s.getAppEncryptionKey('nope'), undefined);
  });

  t('list pages one app after a (createdAt, kid) cursor, ties broken by kid, at most limit', async (open) => {
    const s = await open();
    for (const x of [encKey('k4', 'app-a', { createdAt: T0 + 2 }), encKey('k3', 'app-a'), encKey('other', 'app-b'), encKey('k1', 'app-a', { createdAt: T0 + 1 }), encKey('k2', 'app-a')]) await s.insertAppEncryptionKey(x);
    const kids = async (after: { createdAt: number; id: string } | undefined, limit: number) => (await s.listAppEncryptionKeys('app-a', { ...(after ? { after } : {}), limit })).map((x) => x.kid);
    assert.deepEqual(await kids(undefined, 2), ['k2', 'k3']);
    assert.deepEqual(await kids({ createdAt: T0, id: 'k3' }, 2), ['k1', 'k4']);
    assert.deepEqual(await kids({ createdAt: T0, id: 'k25' }, 10), ['k3', 'k1', 'k4'], 'a cursor whose row is gone');
    assert.deepEqual(await kids({ createdAt: T0 + 2, id: 'k4' }, 2), []);
  });

  t('a kid is unique across apps: a second insert is a conflict and keeps the first', async (open) => {
    const s = await open();
    await s.insertAppEncryptionKey(encKey('shared', 'app-a'));
    await rejectsWith(s.insertAppEncryptionKey(encKey('shared', 'app-b')), 'conflict');
    assert.equal((await s.getAppEncryptionKey('shared'))!.clientId, 'app-a');
  });

  t('revoke is idempotent and keeps the first revokedAt; unknown kid is undefined', async (open) => {
    const s = await open();
    await s.insertAppEncryptionKey(encKey('k1', 'app-a'));
    const r = await s.revokeAppEncryptionKey('k1', T0 + 10);
    assert.deepEqual(r, { key: encKey('k1', 'app-a', { status: 'revoked', revokedAt: T0 + 10 }), revoked: true });
    const again = await s.revokeAppEncryptionKey('k1', T0 + 99);
    assert.equal(again!.key.revokedAt, T0 + 10);
    assert.equal(again!.revoked, false);
    assert.equal(await s.revokeAppEncryptionKey('ghost', T0), undefined);
  });
}

export function runTransitStoreSuite(name: string, make: () => Promise<StoreHarness<TransitStore>>): void {
  const t = storeTests(`${name} transit`, make);

  t('create and get round-trip every field; list is sorted; a taken name is a conflict and keeps the first', async (open) => {
    const s = await open();
    const sig = transitKey('sig', { type: 'ed25519', versions: [version(1, { publicKey: 'MCowBQYDK2VwAyEA' })] });
    await s.createTransitKey(transitKey('zeta'));
    await s.createTransitKey(sig);
    assert.deepEqual(await s.getTransitKey('sig'), sig);
    assert.deepEqual(await s.listTransitKeys(), ['sig', 'zeta']);
    await rejectsWith(s.createTransitKey(transitKey('sig', { type: 'aes256-gcm' })), 'conflict');
    assert.deepEqual(await s.getTransitKey('sig'), sig);
    assert.equal(await s.getTransitKey('nope'), undefined);
  });

  t('list pages the sorted names after a name, at most limit', async (open) => {
    const s = await open();
    for (const n of ['m', 'b', 'z', 'a', 'q']) await s.createTransitKey(transitKey(n));
    assert.deepEqual(await s.listTransitKeys({ limit: 2 }), ['a', 'b']);
    assert.deepEqual(await s.listTransitKeys({ after: 'b', limit: 2 }), ['m', 'q']);
    assert.deepEqual(await s.listTransitKeys({ after: 'c', limit: 10 }), ['m', 'q', 'z'], 'a cursor whose key is gone');
    assert.deepEqual(await s.listTransitKeys({ after: 'z', limit: 2 }), []);
  });

  t('addTransitKeyVersion appends n+1 only: a repeated or skipping version returns false; unknown key is transit.key-not-found', async (open) => {
    const s = await open();
    await s.createTransitKey(transitKey('k'));
    assert.equal(await s.addTransitKeyVersion('k', version(2)), true);
    assert.equal(await s.addTransitKeyVersion('k', version(2, { sealed: 'pc1.dek.iv.other' })), false);
    assert.equal(await s.addTransitKeyVersion('k', version(4)), false);
    assert.equal(await s.addTransitKeyVersion('k', version(1)), false);
    assert.deepEqual((await s.getTransitKey('k'))!.versions, [version(1), version(2)]);
    await rejectsWith(s.addTransitKeyVersion('ghost', version(2)), 'transit.key-not-found');
  });

  t('race: two nodes adding the same version at once, 20 times: exactly one wins each, versions stay 1..n without gaps', async (open, h) => {
    const [a, b] = await twoNodes(open, h);
    await a.createTransitKey(transitKey('raced'));
    for (let n = 2; n <= 21; n++) {
      const wins = await Promise.all([a.addTransitKeyVersion('raced', version(n, { sealed: `a${n}` })), b.addTransitKeyVersion('raced', version(n, { sealed: `b${n}` }))]);
      assert.equal(wins.filter(Boolean).length, 1, `version ${n}: ${JSON.stringify(wins)}`);
    }
    const k = (await b.getTransitKey('raced'))!;
    assert.deepEqual(k.versions.map((v) => v.version), Array.from({ length: 21 }, (_, i) => i + 1));
  });

  t('updateTransitKeyConfig sets the floors; unknown key is transit.key-not-found', async (open) => {
    const s = await open();
    await s.createTransitKey(transitKey('k', { versions: [version(1), version(2), version(3)] }));
    await s.updateTransitKeyConfig('k', { minDecryptionVersion: 2 });
    await s.updateTransitKeyConfig('k', { minEncryptionVersion: 3 });
    const k = (await s.getTransitKey('k'))!;
    assert.equal(k.minDecryptionVersion, 2);
    assert.equal(k.minEncryptionVersion, 3);
    await rejectsWith(s.updateTransitKeyConfig('ghost', { minDecryptionVersion: 1 }), 'transit.key-not-found');
  });

  t('autoRotate round-trips from create and updateTransitKeyConfig, leaving the floors alone', async (open) => {
    const s = await open();
    await s.createTransitKey(transitKey('k', { autoRotate: false }));
    assert.equal((await s.getTransitKey('k'))!.autoRotate, false);
    await s.updateTransitKeyConfig('k', { autoRotate: true });
    const k = (await s.getTransitKey('k'))!;
    assert.equal(k.autoRotate, true);
    assert.equal(k.minDecryptionVersion, 1);
  });
}
