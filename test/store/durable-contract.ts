/**
 * The contract every durable store adapter passes (SQLite, PostgreSQL): the
 * semantics written in the domain store interfaces, plus race safety across nodes.
 */
import { createHash } from 'node:crypto';
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { AuditEventInput, AuditRow } from '../../src/audit/store.js';
import type { StoredKey } from '../../src/crypto/store.js';
import type { AppRecord } from '../../src/tokens/store.js';
import type { DurableStore } from '../../src/store/types.js';
import type { AppSigningKeyRecord } from '../../src/tokens/app-keys-store.js';
import type { DeliveryRecord } from '../../src/webhooks/store.js';
import { runMfaStoreSuite, runPasswordStoreSuite } from './mfa-contract.js';
import { runCertificateStoreSuite } from './pki-contract.js';
import { runAppEncryptionKeyStoreSuite, runTransitStoreSuite } from './encryption-contract.js';
import { rejectsWith, type StoreHarness } from './store-harness.js';

export { rejectsWith } from './store-harness.js';

export interface DurableHarness {
  /** Opens another store instance on the same database (another node). */
  open(): Promise<DurableStore>;
  /** Whether two open instances may write at the same time (true for every adapter today). */
  multiNode: boolean;
  /** Drops the database; the suite closes the stores it opened first. */
  dispose(): Promise<void>;
}

const T0 = 1_700_000_000_123;
const GENESIS = '0'.repeat(64);

/** Field order fixed and `undefined` dropped by JSON: a row only verifies if the store hashed what it stored. */
export function testChainHash(prevHash: string, seq: number, e: AuditEventInput): string {
  const body = JSON.stringify({ seq, time: e.time, type: e.type, actor: e.actor, clientId: e.clientId, route: e.route, reason: e.reason, data: e.data });
  return createHash('sha256').update(`${prevHash}\n${body}`).digest('hex');
}


/** seq is 1..n without gaps, row 1 links to 64 zeros, every row links to the one before and its hash recomputes. */
export function assertChain(rows: AuditRow[]): void {
  let prev = GENESIS;
  rows.forEach((r, i) => {
    assert.equal(r.seq, i + 1, `seq ${r.seq} at position ${i}`);
    assert.equal(r.prevHash, prev, `row ${r.seq} links to the previous row`);
    assert.equal(r.hash, testChainHash(prev, r.seq, r), `row ${r.seq} hash recomputes from what was stored`);
    prev = r.hash;
  });
}

function app(clientId: string, over: Partial<AppRecord> = {}): AppRecord {
  return {
    clientId,
    name: `App ${clientId}`,
    audiences: ['https://api.example'],
    scopes: ['read', 'write'],
    tokenEndpointAuthMethod: 'client_secret_basic',
    secretVerifier: 'hmac-sha256$k1$c2VjcmV0LXZlcmlmaWVy',
    jwks: null,
    status: 'active',
    tokensRevokedBefore: 0,
    createdAt: T0,
    updatedAt: T0,
    ...over,
  };
}

function key(kid: string, over: Partial<StoredKey> = {}): StoredKey {
  return {
    kid,
    use: 'sig',
    alg: 'ES256',
    publicJwk: JSON.stringify({ kty: 'EC', crv: 'P-256', x: 'x', y: 'y', kid }),
    privateJwk: 'v1.ciphertext-not-a-key',
    status: 'next',
    createdAt: T0,
    activatesAt: T0 + 1000,
    retiresAt: null,
    expiresAt: null,
    ...over,
  };
}

function event(i: number, over: Partial<AuditEventInput> = {}): AuditEventInput {
  return { time: T0 + i, type: 'gateway.allowed', actor: `client:c${i}`, ...over };
}

/** A durable adapter seen as a domain store: `dispose` closes every instance it opened, then drops the database. */
function asStoreHarness(makeStore: () => Promise<DurableHarness>): () => Promise<StoreHarness<DurableStore>> {
  return async () => {
    const h = await makeStore();
    const opened: DurableStore[] = [];
    return {
      multiNode: h.multiNode,
      async open() {
        const s = await h.open();
        opened.push(s);
        return s;
      },
      async dispose() {
        await Promise.all(opened.map((s) => s.close().catch(() => undefined)));
        await h.dispose();
      },
    };
  };
}

/**
 * Registers the suite, with the domain store sections (certificates, MFA, passwords)
 * that the memory adapters run too. `makeStore` gives a fresh, empty database per test.
 *
 * @example
 * runDurableStoreSuite('sqlite', async () => ({ open: () => openDurableStore(`sqlite:${file}`), multiNode: false, dispose }));
 */
export function runDurableStoreSuite(name: string, makeStore: () => Promise<DurableHarness>): void {
  const t = (title: string, fn: (open: () => Promise<DurableStore>, h: DurableHarness) => Promise<void>): void => {
    test(`${name}: ${title}`, async () => {
      const h = await makeStore();
      const opened: DurableStore[] = [];
      const open = async (): Promise<DurableStore> => {
        const s = await h.open();
        opened.push(s);
        return s;
      };
      try {
        await fn(open, h);
      } finally {
        await Promise.all(opened.map((s) => s.close().catch(() => undefined)));
        await h.dispose();
      }
    });
  };

  t('apps: create, get, list and update round-trip every field', async (open) => {
    const s = await open();
    const jwks = [{ kty: 'EC', crv: 'P-256', x: 'abc', y: 'def', kid: 'k1', use: 'sig' }];
    const a = app('app-a', { tokenEndpointAuthMethod: 'private_key_jwt', secretVerifier: null, jwks, tokensRevokedBefore: T0 - 5, servedAudiences: ['https://api.example', 'https://other'] });
    const b = app('app-b', { createdAt: T0 + 1, updatedAt: T0 + 1, status: 'disabled', scopes: [] });
    await s.createApp(b);
    await s.createApp(a);
    assert.deepEqual(await s.getApp('app-a'), a);
    assert.deepEqual(await s.listApps(), [a, b]);
    assert.equal(typeof (await s.getApp('app-a'))!.createdAt, 'number');
    assert.equal(await s.getApp('nope'), undefined);

    const updated = await s.updateApp('app-b', { name: 'Renamed', audiences: ['https://other'], status: 'active', tokensRevokedBefore: T0 + 50, jwks, servedAudiences: ['https://served'] }, T0 + 99);
    const expected = { ...b, name: 'Renamed', audiences: ['https://other'], status: 'active' as const, tokensRevokedBefore: T0 + 50, jwks, servedAudiences: ['https://served'], updatedAt: T0 + 99 };
    assert.deepEqual(updated, expected);
    assert.deepEqual(await s.getApp('app-b'), expected);
    assert.deepEqual(await s.updateApp('app-b', { secretVerifier: null, jwks: null }, T0 + 100), { ...expected, secretVerifier: null, jwks: null, updatedAt: T0 + 100 });
  });

  t('apps: a page after a (createdAt, clientId) cursor, ties broken by client id, at most limit', async (open) => {
    const s = await open();
    for (const [id, at] of [['app_d', T0 + 1], ['app_b', T0], ['app_C', T0], ['app_c', T0], ['app_a', T0 + 2]] as const) await s.createApp(app(id, { createdAt: at, updatedAt: at }));
    const ids = async (after: { createdAt: number; id: string } | undefined, limit: number) => (await s.listApps({ ...(after ? { after } : {}), limit })).map((x) => x.clientId);
    assert.deepEqual(await ids(undefined, 3), ['app_C', 'app_b', 'app_c']);
    assert.deepEqual(await ids({ createdAt: T0, id: 'app_c' }, 3), ['app_d', 'app_a']);
    assert.deepEqual(await ids({ createdAt: T0, id: 'app_bb' }, 2), ['app_c', 'app_d'], 'a cursor whose row is gone');
    assert.deepEqual(await ids({ createdAt: T0 + 2, id: 'app_a' }, 2), []);
    assert.deepEqual((await s.listApps()).map((x) => x.clientId), ['app_C', 'app_b', 'app_c', 'app_d', 'app_a'], 'no page: every app');
  });

  t('apps: creating an existing client id is a conflict and keeps the first record', async (open) => {
    const s = await open();
    await s.createApp(app('dup'));
    await rejectsWith(s.createApp(app('dup', { name: 'Impostor' })), 'conflict');
    assert.equal((await s.getApp('dup'))!.name, 'App dup');
  });

  t('apps: updating an unknown app returns undefined and creates nothing', async (open) => {
    const s = await open();
    assert.equal(await s.updateApp('ghost', { name: 'x' }, T0), undefined);
    assert.deepEqual(await s.listApps(), []);
  });

  t('apps: replaceAppSecret race — 20 concurrent callers (two nodes when supported) replacing the same verifier: exactly one wins and its verifier is stored', async (open, h) => {
    const a = await open();
    const b = h.multiNode ? await open() : a;
    const first = app('app-rot');
    await a.createApp(first);
    const results = await Promise.all(Array.from({ length: 20 }, (_, i) => (i % 2 ? a : b).replaceAppSecret('app-rot', first.secretVerifier, `sha256$candidate-${i}`, T0 + 1 + i)));
    const won = results.filter((r): r is AppRecord => typeof r === 'object');
    assert.equal(won.length, 1, JSON.stringify(results));
    assert.equal(results.filter((r) => r === 'changed').length, 19);
    const stored = await a.getApp('app-rot');
    assert.deepEqual(stored, won[0]);
    assert.deepEqual(stored, { ...first, secretVerifier: won[0]!.secretVerifier, updatedAt: won[0]!.updatedAt });
    // the stale verifier no longer matches; the stored one does; an app without a verifier matches null
    assert.equal(await a.replaceAppSecret('app-rot', first.secretVerifier, 'sha256$late', T0 + 50), 'changed');
    assert.equal((await a.replaceAppSecret('app-rot', stored!.secretVerifier, 'sha256$next', T0 + 60) as AppRecord).secretVerifier, 'sha256$next');
    await a.createApp(app('app-none', { secretVerifier: null }));
    assert.equal(await a.replaceAppSecret('app-none', 'sha256$x', 'sha256$y', T0 + 70), 'changed');
    assert.equal((await a.replaceAppSecret('app-none', null, 'sha256$y', T0 + 80) as AppRecord).secretVerifier, 'sha256$y');
    assert.equal(await a.replaceAppSecret('ghost', null, 'sha256$z', T0), undefined);
    assert.equal(await a.getApp('ghost'), undefined);
  });

  t('revocations: revoke is idempotent, list returns only unexpired, purge deletes expired and counts', async (open) => {
    const s = await open();
    const live = { jti: 'j-live', clientId: 'c1', expiresAt: T0 + 10_000, revokedAt: T0 };
    const dead = { jti: 'j-dead', clientId: 'c1', expiresAt: T0 - 1, revokedAt: T0 - 100 };
    await s.revokeToken(live);
    await s.revokeToken(dead);
    await s.revokeToken({ ...live, revokedAt: T0 + 5 });
    assert.deepEqual(await s.listRevokedTokens(T0), [live]);
    assert.deepEqual(await s.listRevokedTokens(T0 - 2), [dead, live]);
    assert.equal(await s.purgeRevokedTokens(T0), 1);
    assert.equal(await s.purgeRevokedTokens(T0), 0);
    assert.deepEqual(await s.listRevokedTokens(0), [live]);
    assert.equal(await s.purgeRevokedTokens(T0 + 10_001), 1);
    assert.deepEqual(await s.listRevokedTokens(0), []);
  });

  t('keys: insert, list, update and delete; duplicate kid is a conflict; unknown kid is key.not-found', async (open) => {
    const s = await open();
    const k1 = key('k1', { status: 'active', retiresAt: T0 + 9, expiresAt: T0 + 10 });
    const k2 = key('k2', { use: 'enc', alg: 'ECDH-ES+A256KW', createdAt: T0 + 1 });
    await s.insertKey(k2);
    await s.insertKey(k1);
    assert.deepEqual(await s.listKeys(), [k1, k2]);
    await rejectsWith(s.insertKey(key('k1', { alg: 'none' })), 'conflict');

    await s.updateKey('k2', { status: 'active', retiresAt: T0 + 500, privateJwk: 'v1.rewrapped' });
    await s.updateKey('k1', { status: 'retired', expiresAt: null });
    await s.updateKey('k1', {});
    assert.deepEqual(await s.listKeys(), [
      { ...k1, status: 'retired', expiresAt: null },
      { ...k2, status: 'active', retiresAt: T0 + 500, privateJwk: 'v1.rewrapped' },
    ]);
    await rejectsWith(s.updateKey('ghost', { status: 'retired' }), 'key.not-found');
    await rejectsWith(s.updateKey('ghost', {}), 'key.not-found');

    await s.deleteKey('k1');
    await s.deleteKey('k1');
    assert.deepEqual((await s.listKeys()).map((k) => k.kid), ['k2']);
  });

  t('settings: get, put overwrites, setIfAbsent keeps the first value', async (open) => {
    const s = await open();
    assert.equal(await s.getSetting('dek'), undefined);
    assert.equal(await s.setSettingIfAbsent('dek', 'first'), 'first');
    assert.equal(await s.setSettingIfAbsent('dek', 'second'), 'first');
    assert.equal(await s.getSetting('dek'), 'first');
    await s.putSetting('dek', 'rotated');
    await s.putSetting('other', 'x');
    assert.equal(await s.getSetting('dek'), 'rotated');
    assert.equal(await s.getSetting('other'), 'x');
  });

  t('settings: setSettingIfAbsent race — 40 concurrent callers (two nodes when supported) all get the one stored value', async (open, h) => {
    const a = await open();
    const b = h.multiNode ? await open() : a;
    const results = await Promise.all(Array.from({ length: 40 }, (_, i) => (i % 2 ? a : b).setSettingIfAbsent('wrapped-dek', `candidate-${i}`)));
    const stored = await a.getSetting('wrapped-dek');
    assert.ok(stored?.startsWith('candidate-'));
    assert.deepEqual(new Set(results), new Set([stored]));
  });

  t('audit: appends chain from 64 zeros with seq 1..n; list pages and tail reads the newest', async (open) => {
    const s = await open();
    await s.appendAudit([], testChainHash);
    assert.deepEqual(await s.tailAudit(10), []);
    await s.appendAudit([event(1, { clientId: 'c1', route: 'r1', reason: 'token.expired', data: { n: 1, nested: { ok: true } } }), event(2)], testChainHash);
    await s.appendAudit([event(3, { data: { dropped: undefined, kept: 'x' } })], testChainHash);
    const all = await s.listAudit(0, 100);
    assertChain(all);
    assert.equal(all.length, 3);
    assert.deepEqual(
      { ...all[0] },
      { seq: 1, time: T0 + 1, type: 'gateway.allowed', actor: 'client:c1', clientId: 'c1', route: 'r1', reason: 'token.expired', data: { n: 1, nested: { ok: true } }, prevHash: GENESIS, hash: all[0]!.hash },
    );
    assert.equal(all[1]!.clientId, null);
    assert.equal(all[1]!.data, null);
    assert.deepEqual(all[2]!.data, { kept: 'x' });
    assert.deepEqual((await s.listAudit(1, 1)).map((r) => r.seq), [2]);
    assert.deepEqual((await s.listAudit(3, 10)).map((r) => r.seq), []);
    assert.deepEqual((await s.tailAudit(2)).map((r) => r.seq), [2, 3]);
    assert.equal(typeof all[0]!.seq, 'number');
    assert.equal(typeof all[0]!.time, 'number');
  });

  t('audit: NUL and lone surrogates in any text column are stored on every adapter, as U+FFFD, and the chain still verifies', async (open) => {
    const { chainHash, verifyAuditChain } = await import('../../src/audit/trail.js');
    const { AuditHeadKey } = await import('../../src/audit/head-key.js');
    const s = await open();
    const headKey = AuditHeadKey.generate({ seq: 0, hash: '0'.repeat(64) });
    s.useAuditHeadKey(headKey);
    const odd = 'x\u0000y\ud800z\udc00';
    await s.appendAudit([{ time: T0, type: `t${odd}`, actor: `a${odd}`, clientId: odd, route: odd, reason: odd, data: { [odd]: odd } }, event(2)], chainHash);
    const rows = await s.listAudit(0, 10);
    assert.equal(rows.length, 2);
    const clean = 'x\ufffdy\ufffdz\ufffd';
    assert.deepEqual(
      [rows[0]!.type, rows[0]!.actor, rows[0]!.clientId, rows[0]!.route, rows[0]!.reason],
      [`t${clean}`, `a${clean}`, clean, clean, clean],
    );
    // data is JSON text: every string survives exactly
    assert.deepEqual(rows[0]!.data, { [odd]: odd });
    assert.deepEqual(await verifyAuditChain(s, headKey), { ok: true, rows: 2, head: { seq: 2, hash: rows[1]!.hash } });
  });

  t('a text value with NUL is refused with request.invalid on every adapter (PostgreSQL cannot store it; SQLite refuses it alike)', async (open) => {
    const s = await open();
    await rejectsWith(s.putSetting('nul', 'a\u0000b'), 'request.invalid');
    await rejectsWith(s.createApp(app('nul\u0000app')), 'request.invalid');
    assert.equal(await s.getSetting('nul'), undefined);
    await s.putSetting('nul', 'a\tb\n');
    assert.equal(await s.getSetting('nul'), 'a\tb\n');
  });

  t('audit: a large batch (1200 events) is one contiguous run', async (open) => {
    const s = await open();
    await s.appendAudit(Array.from({ length: 1200 }, (_, i) => event(i)), testChainHash);
    const rows = [...(await s.listAudit(0, 1000)), ...(await s.listAudit(1000, 1000))];
    assert.equal(rows.length, 1200);
    assertChain(rows);
  });

  t('audit: a failing append (chainHash throws mid-batch) writes none of the batch and leaves the chain intact', async (open) => {
    const s = await open();
    await s.appendAudit([event(1)], testChainHash);
    const failing = (p: string, seq: number, e: AuditEventInput): string => {
      if (seq === 3) throw new Error('boom');
      return testChainHash(p, seq, e);
    };
    await assert.rejects(s.appendAudit([event(2), event(3)], failing));
    await s.appendAudit([event(4)], testChainHash);
    const rows = await s.listAudit(0, 10);
    assert.deepEqual(rows.map((r) => r.time), [T0 + 1, T0 + 4]);
    assertChain(rows);
  });

  t('audit: concurrent appends (two nodes when supported) keep one linear chain without gaps', async (open, h) => {
    const a = await open();
    const b = h.multiNode ? await open() : a;
    await Promise.all(Array.from({ length: 30 }, (_, i) => (i % 2 ? a : b).appendAudit([event(i * 10), event(i * 10 + 1), event(i * 10 + 2)], testChainHash)));
    const rows = await b.listAudit(0, 1000);
    assert.equal(rows.length, 90);
    assertChain(rows);
    // Each batch stays together and in order.
    for (let i = 0; i < rows.length; i += 3) assert.deepEqual(rows.slice(i, i + 3).map((r) => r.time - rows[i]!.time), [0, 1, 2]);
  });

  t('migrations: reopening the same database is idempotent and keeps the data', async (open) => {
    const s = await open();
    await s.createApp(app('persisted'));
    await s.appendAudit([event(1)], testChainHash);
    await s.close();
    const again = await open();
    assert.equal((await again.getApp('persisted'))!.clientId, 'persisted');
    await again.appendAudit([event(2)], testChainHash);
    assertChain(await again.listAudit(0, 10));
    await again.close();
    const third = await open();
    assert.equal((await third.listAudit(0, 10)).length, 2);
  });

  // app signing keys (tokens/app-keys-store.ts) and webhooks (webhooks/store.ts)
  t('app signing keys: insert, get, list per app; a keyid of any app is a conflict; revoke is idempotent and keeps the first time', async (open) => {
    const s = await open();
    const k = (keyid: string, clientId: string, createdAt: number): AppSigningKeyRecord => ({
      keyid, clientId, type: 'public', alg: 'ed25519', sealedSecret: null, publicJwk: { kty: 'OKP', crv: 'Ed25519', x: 'abc' }, status: 'active', createdAt, revokedAt: null,
    });
    const a1 = k('a1', 'app-a', T0 + 2);
    const a2 = { ...k('a2', 'app-a', T0 + 1), type: 'hmac' as const, alg: 'hmac-sha256' as const, sealedSecret: 'pc1.x.y.z', publicJwk: null };
    const b1 = k('b1', 'app-b', T0);
    for (const x of [a1, a2, b1]) await s.insertAppSigningKey(x);
    assert.deepEqual(await s.getAppSigningKey('a2'), a2);
    assert.deepEqual(await s.listAppSigningKeys('app-a'), [a2, a1]);
    assert.deepEqual((await s.listAppSigningKeys()).map((x) => x.keyid), ['b1', 'a2', 'a1']);
    await rejectsWith(s.insertAppSigningKey(k('a1', 'app-b', T0 + 9)), 'conflict');
    assert.equal((await s.getAppSigningKey('a1'))!.clientId, 'app-a');
    assert.deepEqual(await s.revokeAppSigningKey('a1', T0 + 50), { key: { ...a1, status: 'revoked', revokedAt: T0 + 50 }, revoked: true });
    assert.deepEqual(await s.revokeAppSigningKey('a1', T0 + 99), { key: { ...a1, status: 'revoked', revokedAt: T0 + 50 }, revoked: false });
    // two at once: one changes the key
    const both = await Promise.all([s.revokeAppSigningKey('a2', T0 + 60), s.revokeAppSigningKey('a2', T0 + 61)]);
    assert.deepEqual(both.map((r) => r!.revoked).sort(), [false, true]);
    assert.equal(both[0]!.key.revokedAt, both[1]!.key.revokedAt);
    assert.equal(await s.revokeAppSigningKey('ghost', T0), undefined);
  });

  t('app signing keys: a page of one app after a (createdAt, keyid) cursor, ties broken by keyid, at most limit', async (open) => {
    const s = await open();
    const k = (keyid: string, clientId: string, createdAt: number): AppSigningKeyRecord => ({
      keyid, clientId, type: 'public', alg: 'ed25519', sealedSecret: null, publicJwk: { kty: 'OKP', crv: 'Ed25519', x: 'abc' }, status: 'active', createdAt, revokedAt: null,
    });
    for (const x of [k('a4', 'app-a', T0 + 2), k('a3', 'app-a', T0), k('b1', 'app-b', T0), k('a1', 'app-a', T0 + 1), k('a2', 'app-a', T0)]) await s.insertAppSigningKey(x);
    const ids = async (after: { createdAt: number; id: string } | undefined, limit: number) => (await s.listAppSigningKeys('app-a', { ...(after ? { after } : {}), limit })).map((x) => x.keyid);
    assert.deepEqual(await ids(undefined, 2), ['a2', 'a3']);
    assert.deepEqual(await ids({ createdAt: T0, id: 'a3' }, 2), ['a1', 'a4']);
    assert.deepEqual(await ids({ createdAt: T0, id: 'a25' }, 10), ['a3', 'a1', 'a4'], 'a cursor whose row is gone');
    assert.deepEqual(await ids({ createdAt: T0 + 2, id: 'a4' }, 2), []);
  });

  t('webhooks: a page after a (createdAt, id) cursor, ties broken by id, at most limit', async (open) => {
    const s = await open();
    const w = (id: string, createdAt: number) => ({ id, url: `https://hooks.example/${id}`, events: ['*'], description: null, createdAt });
    for (const x of [w('wh_d', T0 + 1), w('wh_b', T0), w('wh_c', T0), w('wh_a', T0 + 2)]) await s.insertWebhook(x);
    const ids = async (after: { createdAt: number; id: string } | undefined, limit: number) => (await s.listWebhooks({ ...(after ? { after } : {}), limit })).map((x) => x.id);
    assert.deepEqual(await ids(undefined, 3), ['wh_b', 'wh_c', 'wh_d']);
    assert.deepEqual(await ids({ createdAt: T0 + 1, id: 'wh_d' }, 3), ['wh_a']);
    assert.deepEqual(await ids({ createdAt: T0, id: 'wh_bb' }, 2), ['wh_c', 'wh_d'], 'a cursor whose row is gone');
    assert.deepEqual((await s.listWebhooks()).map((x) => x.id), ['wh_b', 'wh_c', 'wh_d', 'wh_a'], 'no page: every subscription');
  });

  t('webhooks: two nodes claiming the same due deliveries at once each get disjoint sets, and every due delivery is claimed once', async (open, h) => {
    const a = await open();
    const b = h.multiNode ? await open() : a;
    await a.insertWebhook({ id: 'wh1', url: 'https://hooks.example/in', events: ['*'], description: null, createdAt: T0 });
    await a.insertWebhook({ id: 'wh0', url: 'https://hooks.example/other', events: ['token.revoked', 'app.disabled'], description: null, createdAt: T0 - 1 });
    assert.deepEqual(await b.listWebhookEvents(), [{ id: 'wh0', events: ['token.revoked', 'app.disabled'] }, { id: 'wh1', events: ['*'] }]);
    assert.equal(await a.deleteWebhook('wh0'), true);
    const d = (i: number): DeliveryRecord => ({
      id: `d${String(i).padStart(2, '0')}`, webhookId: 'wh1', eventId: `e${i}`, eventType: 'token.revoked', payload: '{}', status: 'pending', attempts: 0,
      nextAttemptAt: i < 30 ? T0 : T0 + 60_000, leaseUntil: 0, leaseOwner: null, lastStatus: null, lastError: null, createdAt: T0 + i, updatedAt: T0 + i, deliveredAt: null,
    });
    await a.insertDeliveries(Array.from({ length: 32 }, (_, i) => d(i)));
    // Rounds of 8 concurrent claimers (4 per node) until nothing is left: they race for the same candidates.
    const claims: DeliveryRecord[][] = [];
    for (let round = 0; round < 10; round++) {
      const got = await Promise.all(Array.from({ length: 8 }, (_, i) => (i % 2 ? a : b).claimDueDeliveries(T0 + 1, 10, `owner-${round}-${i}`, 30_000)));
      claims.push(...got);
      if (got.every((g) => g.length === 0)) break;
    }
    const ids = claims.flat().map((x) => x.id);
    assert.equal(new Set(ids).size, ids.length, 'no delivery claimed twice');
    assert.equal(ids.length, 30, 'every due delivery claimed, the two not yet due left alone');
    assert.deepEqual(await a.claimDueDeliveries(T0 + 2, 50, 'late', 30_000), []);
    const one = claims.flat()[0]!;
    assert.ok(claims.flat().every((x) => x.attempts === 1), 'a claim counts the attempt');
    assert.equal(await a.recordAttempt(one.id, 'someone-else', one.leaseUntil, { status: 'delivered', nextAttemptAt: T0, lastStatus: 200, lastError: null, at: T0 + 3 }), false);
    assert.equal(await a.recordAttempt(one.id, one.leaseOwner!, one.leaseUntil, { status: 'pending', nextAttemptAt: T0 + 1000, lastStatus: 500, lastError: 'HTTP 500', at: T0 + 3 }), true);
    assert.deepEqual(
      { ...(await b.getDelivery(one.id))!, payload: undefined },
      { ...d(Number(one.id.slice(1))), payload: undefined, attempts: 1, nextAttemptAt: T0 + 1000, lastStatus: 500, lastError: 'HTTP 500', updatedAt: T0 + 3 },
    );
    assert.deepEqual((await a.listDeliveries('wh1', 3)).map((x) => x.id), ['d31', 'd30', 'd29']);
    assert.equal(await a.deleteWebhook('wh1'), true);
    assert.equal(await a.deleteWebhook('wh1'), false);
    assert.deepEqual(await a.listDeliveries('wh1', 100), []);
    assert.deepEqual(await a.listWebhooks(), []);
  });

  t('webhooks: with a cap per subscription, a backlog due first takes only its share of a claim and the others are claimed past it, earliest first', async (open, h) => {
    const a = await open();
    const b = h.multiNode ? await open() : a;
    for (const id of ['wh_slow', 'wh_ok', 'wh_c']) await a.insertWebhook({ id, url: `https://hooks.example/${id}`, events: ['*'], description: null, createdAt: T0 });
    const d = (id: string, webhookId: string, due: number): DeliveryRecord => ({
      id, webhookId, eventId: `e-${id}`, eventType: 'token.revoked', payload: '{}', status: 'pending', attempts: 0,
      nextAttemptAt: due, leaseUntil: 0, leaseOwner: null, lastStatus: null, lastError: null, createdAt: due, updatedAt: due, deliveredAt: null,
    });
    const slow = Array.from({ length: 40 }, (_, i) => d(`s${String(i).padStart(2, '0')}`, 'wh_slow', T0 + i));
    await a.insertDeliveries([...slow, d('o0', 'wh_ok', T0 + 50), d('o1', 'wh_ok', T0 + 51), d('c0', 'wh_c', T0 + 52), d('o2', 'wh_ok', T0 + 53), d('o3', 'wh_ok', T0 + 70_000)]);
    const now = T0 + 1000;
    const ids = (x: DeliveryRecord[]) => x.map((r) => r.id);
    const cap = (perWebhook: number, held: Record<string, number> = {}) => ({ perWebhook, held: new Map(Object.entries(held)) });

    const first = await a.claimDueDeliveries(now, 10, 'n1', 30_000, cap(2));
    assert.deepEqual(ids(first), ['s00', 's01', 'o0', 'o1', 'c0'], 'two of the backlog, then the others past it; o2 waits for a place of wh_ok');
    assert.ok(first.every((r) => r.leaseOwner === 'n1' && r.leaseUntil === now + 30_000));
    assert.deepEqual(ids(await b.claimDueDeliveries(now, 10, 'n1', 30_000, cap(2, { wh_slow: 2, wh_ok: 2, wh_c: 1 }))), [], 'the places the caller holds count toward its cap');
    assert.deepEqual(ids(await b.claimDueDeliveries(now, 10, 'n1', 30_000, cap(2, { wh_slow: 2, wh_ok: 1 }))), ['o2'], 'a subscription below its cap gets its next due row');
    assert.deepEqual(ids(await b.claimDueDeliveries(now, 3, 'n2', 30_000, cap(2))), ['s02', 's03'], 'rows leased by n1 are not claimed again; the cap holds within one claim');

    const done = first.find((r) => r.id === 's00')!;
    assert.equal(await a.recordAttempt(done.id, 'n1', done.leaseUntil, { status: 'pending', nextAttemptAt: now + 60_000, lastStatus: null, lastError: 'timeout', at: now }), true);
    assert.deepEqual(ids(await a.claimDueDeliveries(now, 10, 'n1', 30_000, cap(2, { wh_slow: 1, wh_ok: 2, wh_c: 1 }))), ['s04'], 'a place freed by a recorded attempt is taken by the next due delivery of that subscription');
    assert.deepEqual(ids(await a.claimDueDeliveries(now + 30_000, 10, 'n1', 30_000, cap(2))), ['s01', 's02', 'o0', 'o1', 'c0'], 'lapsed leases are due again first');
    assert.deepEqual(ids(await b.claimDueDeliveries(now, 3, 'n3', 30_000)), ['s05', 's06', 's07'], 'without a cap: oldest due first, as before');

    // concurrent capped claimers on two nodes still never share a delivery, and each holds at most its cap per subscription
    const got = await Promise.all(Array.from({ length: 6 }, (_, i) => (i % 2 ? a : b).claimDueDeliveries(now + 100_000, 10, `c${i}`, 30_000, cap(3))));
    const all = got.flat().map((r) => r.id);
    assert.equal(new Set(all).size, all.length, 'no delivery claimed twice');
    for (const g of got) for (const w of ['wh_slow', 'wh_ok', 'wh_c']) assert.ok(g.filter((r) => r.webhookId === w).length <= 3);
    assert.equal(all.filter((x) => x.startsWith('o') || x === 'c0').length, 5, 'every due delivery of the small subscriptions claimed');
  });

  t('webhooks: consecutive abandoned deliveries are counted per subscription; the one that reaches the limit disables it, once, across nodes; a delivery resets the count; enabling clears it', async (open, h) => {
    const a = await open();
    const b = h.multiNode ? await open() : a;
    for (const id of ['wh_dead', 'wh_ok']) await a.insertWebhook({ id, url: `https://hooks.example/${id}`, events: ['*'], description: null, createdAt: T0 });
    const fresh = await a.getWebhook('wh_dead');
    assert.deepEqual([fresh!.consecutiveAbandoned, fresh!.disabledAt, fresh!.disabledReason], [0, null, null]);

    assert.deepEqual(await a.recordAbandoned('wh_dead', 3, T0 + 1, 'r'), { consecutive: 1, disabled: false });
    assert.deepEqual(await b.recordAbandoned('wh_dead', 3, T0 + 2, 'r'), { consecutive: 2, disabled: false });
    await b.recordDelivered('wh_dead');
    assert.equal((await a.getWebhook('wh_dead'))!.consecutiveAbandoned, 0, 'a delivery resets the count');
    await a.recordDelivered('wh_ok');
    assert.equal((await a.getWebhook('wh_ok'))!.consecutiveAbandoned, 0);

    // six abandoned at once on two nodes against a limit of 3: exactly one of them disables it
    const got = await Promise.all(Array.from({ length: 6 }, (_, i) => (i % 2 ? a : b).recordAbandoned('wh_dead', 3, T0 + 10, '3 consecutive deliveries abandoned')));
    assert.equal(got.filter((r) => r.disabled).length, 1, 'disabled once');
    assert.deepEqual(got.map((r) => r.consecutive).sort((x, y) => x - y), [1, 2, 3, 4, 5, 6]);
    const off = (await b.getWebhook('wh_dead'))!;
    assert.deepEqual([off.consecutiveAbandoned, off.disabledAt, off.disabledReason], [6, T0 + 10, '3 consecutive deliveries abandoned']);
    assert.deepEqual((await a.recordAbandoned('wh_dead', 3, T0 + 11, 'r')).disabled, false, 'already disabled');
    assert.deepEqual((await b.listWebhookEvents()).map((w) => w.id), ['wh_ok'], 'a disabled subscription is not queued for');
    assert.deepEqual((await a.listWebhooks()).map((w) => [w.id, w.disabledAt]), [['wh_dead', T0 + 10], ['wh_ok', null]], 'but it is listed');
    assert.equal((await a.getWebhook('wh_ok'))!.disabledAt, null, 'the other subscription is untouched');

    assert.equal(await b.enableWebhook('wh_dead'), true);
    assert.equal(await a.enableWebhook('wh_dead'), false, 'enabled already');
    assert.equal(await a.enableWebhook('wh_none'), false);
    const on = (await a.getWebhook('wh_dead'))!;
    assert.deepEqual([on.consecutiveAbandoned, on.disabledAt, on.disabledReason], [0, null, null]);
    assert.deepEqual((await b.listWebhookEvents()).map((w) => w.id), ['wh_dead', 'wh_ok']);
    assert.deepEqual(await a.recordAbandoned('wh_gone', 3, T0, 'r'), { consecutive: 0, disabled: false }, 'a removed subscription');
  });

  t('webhooks: a capped claim also takes a delivery whose subscription was removed while it was queued', async (open) => {
    const a = await open();
    await a.insertWebhook({ id: 'wh_live', url: 'https://hooks.example/live', events: ['*'], description: null, createdAt: T0 });
    const d = (id: string, webhookId: string): DeliveryRecord => ({
      id, webhookId, eventId: `e-${id}`, eventType: 'token.revoked', payload: '{}', status: 'pending', attempts: 0,
      nextAttemptAt: T0, leaseUntil: 0, leaseOwner: null, lastStatus: null, lastError: null, createdAt: T0, updatedAt: T0, deliveredAt: null,
    });
    await a.insertDeliveries([d('l0', 'wh_live'), d('g0', 'wh_gone')]);
    const got = await a.claimDueDeliveries(T0 + 1, 10, 'n1', 30_000, { perWebhook: 2 });
    assert.deepEqual(got.map((r) => r.id).sort(), ['g0', 'l0']);
  });

  t('webhooks: the delivery log is purged of deliveries finished before a cutoff; pending and later ones stay', async (open, h) => {
    const a = await open();
    const b = h.multiNode ? await open() : a;
    await a.insertWebhook({ id: 'wh1', url: 'https://hooks.example/in', events: ['*'], description: null, createdAt: T0 });
    const d = (id: string, status: DeliveryRecord['status'], at: number): DeliveryRecord => ({
      id, webhookId: 'wh1', eventId: `e-${id}`, eventType: 'token.revoked', payload: '{}', status, attempts: 1,
      nextAttemptAt: at, leaseUntil: 0, leaseOwner: null, lastStatus: 200, lastError: null, createdAt: T0, updatedAt: at, deliveredAt: status === 'delivered' ? at : null,
    });
    // finished deliveries have nextAttemptAt = the time they finished (the worker records it so)
    await a.insertDeliveries([d('old-ok', 'delivered', T0 + 10), d('old-failed', 'failed', T0 + 20), d('old-pending', 'pending', T0 + 5), d('new-ok', 'delivered', T0 + 1000)]);
    assert.equal(await b.purgeDeliveries(T0 + 500), 2);
    assert.deepEqual((await a.listDeliveries('wh1', 10)).map((x) => x.id).sort(), ['new-ok', 'old-pending']);
    assert.equal(await a.purgeDeliveries(T0 + 500), 0);
    // the log pages newest first (createdAt, then id, descending) from the previous page's last row
    assert.deepEqual((await b.listDeliveries('wh1', 1)).map((x) => x.id), ['old-pending']);
    assert.deepEqual((await b.listDeliveries('wh1', 5, { createdAt: T0, id: 'old-pending' })).map((x) => x.id), ['new-ok']);
    assert.deepEqual(await b.listDeliveries('wh1', 5, { createdAt: T0, id: 'new-ok' }), []);
  });

  t('users: a page after a (createdAt, id) cursor, ties broken by id, at most limit', async (open) => {
    const s = await open();
    const user = (id: string, at: number) => ({ id, email: `${id}@example.test`, emailNormalized: `${Buffer.from(id).toString('hex')}@example.test`, status: 'active' as const, mfaRequired: false, tokensRevokedBefore: 0, createdAt: at, updatedAt: at });
    for (const [id, at] of [['usr_d', T0 + 1], ['usr_b', T0], ['usr_B', T0], ['usr_c', T0], ['usr_a', T0 + 2]] as const) await s.createUser(user(id, at));
    const ids = async (after: { createdAt: number; id: string } | undefined, limit: number) => (await s.listUsers({ ...(after ? { after } : {}), limit })).map((x) => x.id);
    assert.deepEqual(await ids(undefined, 2), ['usr_B', 'usr_b']);
    assert.deepEqual(await ids({ createdAt: T0, id: 'usr_b' }, 10), ['usr_c', 'usr_d', 'usr_a']);
    assert.deepEqual(await ids({ createdAt: T0, id: 'usr_bb' }, 1), ['usr_c'], 'a cursor whose row is gone');
    assert.deepEqual(await ids({ createdAt: T0 + 2, id: 'usr_a' }, 5), []);
    assert.deepEqual((await s.listUsers()).map((x) => x.id), ['usr_B', 'usr_b', 'usr_c', 'usr_d', 'usr_a'], 'no page: every user');
  });

  t('users: the token watermarks list only users whose tokens were revoked, never every user', async (open) => {
    const s = await open();
    const user = (id: string) => ({ id, email: `${id}@example.test`, emailNormalized: `${id}@example.test`, status: 'active' as const, mfaRequired: false, tokensRevokedBefore: 0, createdAt: T0, updatedAt: T0 });
    for (const id of ['usr_a', 'usr_b', 'usr_c']) await s.createUser(user(id));
    assert.deepEqual(await s.listUserTokenWatermarks(), []);
    await s.updateUser('usr_b', { tokensRevokedBefore: T0 + 7 }, T0 + 7);
    assert.deepEqual(await s.listUserTokenWatermarks(), [{ userId: 'usr_b', tokensRevokedBefore: T0 + 7 }]);
  });

  t('lockout state: a failure row is stored and listed while in force; a later write keeps the larger count and the later delay and lock', async (open) => {
    const s = await open();
    const row = { counter: 'auth:account', subject: 'usr_1', failures: 6, windowEndsAt: T0 + 900_000, delayedUntil: T0 + 1_000, lockedUntil: 0 };
    await s.putLockoutState(row, T0);
    assert.deepEqual(await s.listLockoutStates(T0), [row]);
    // the 7th failure's write, then the 6th's arriving late: neither lowers the count nor moves the window
    await s.putLockoutState({ ...row, failures: 7, windowEndsAt: T0 + 960_000, delayedUntil: T0 + 62_000 }, T0 + 60_000);
    await s.putLockoutState({ ...row, windowEndsAt: T0 + 960_000, delayedUntil: T0 + 61_000 }, T0 + 60_000);
    assert.deepEqual(await s.listLockoutStates(T0 + 60_000), [{ ...row, failures: 7, delayedUntil: T0 + 62_000 }]);
    await s.putLockoutState({ ...row, failures: 10, delayedUntil: 0, lockedUntil: T0 + 1_000_000 }, T0 + 100_000);
    const locked = { ...row, failures: 10, delayedUntil: T0 + 62_000, lockedUntil: T0 + 1_000_000 };
    assert.deepEqual(await s.listLockoutStates(T0 + 100_000), [locked]);
    // still listed for its lock after its window closed; gone once the lock is over too
    assert.deepEqual(await s.listLockoutStates(T0 + 950_000), [locked]);
    assert.deepEqual(await s.listLockoutStates(T0 + 1_000_000), []);
  });

  t('lockout state: a write after the window closed starts a new window; counters and subjects are apart', async (open) => {
    const s = await open();
    await s.putLockoutState({ counter: 'auth:account', subject: 'usr_1', failures: 4, windowEndsAt: T0 + 1_000, delayedUntil: 0, lockedUntil: 0 }, T0);
    await s.putLockoutState({ counter: 'auth:account-factor', subject: 'usr_1', failures: 2, windowEndsAt: T0 + 1_000, delayedUntil: 0, lockedUntil: 0 }, T0);
    await s.putLockoutState({ counter: 'auth:ip', subject: '2001:db8:1:2::/64', failures: 1, windowEndsAt: T0 + 3_600_000, delayedUntil: 0, lockedUntil: 0 }, T0);
    await s.putLockoutState({ counter: 'auth:account', subject: 'usr_1', failures: 1, windowEndsAt: T0 + 901_000, delayedUntil: 0, lockedUntil: 0 }, T0 + 1_000);
    assert.deepEqual(await s.listLockoutStates(T0 + 1_000), [
      { counter: 'auth:account', subject: 'usr_1', failures: 1, windowEndsAt: T0 + 901_000, delayedUntil: 0, lockedUntil: 0 },
      { counter: 'auth:ip', subject: '2001:db8:1:2::/64', failures: 1, windowEndsAt: T0 + 3_600_000, delayedUntil: 0, lockedUntil: 0 },
    ]);
  });

  t('lockout state: a success clears the count and delay but keeps a lock in force; an unlock deletes the row; purge deletes what is over', async (open) => {
    const s = await open();
    const base = { failures: 10, windowEndsAt: T0 + 900_000, delayedUntil: T0 + 5_000, lockedUntil: T0 + 900_000 };
    await s.putLockoutState({ counter: 'auth:account', subject: 'locked', ...base }, T0);
    await s.putLockoutState({ counter: 'auth:account', subject: 'counted', ...base, failures: 3, delayedUntil: 0, lockedUntil: 0 }, T0);
    await s.putLockoutState({ counter: 'auth:ip', subject: '192.0.2.1', ...base }, T0);
    await s.putLockoutState({ counter: 'auth:ip', subject: '192.0.2.2', failures: 1, windowEndsAt: T0 + 10, delayedUntil: 0, lockedUntil: 0 }, T0);
    await s.clearLockoutState('auth:account', 'locked', false, T0);
    await s.clearLockoutState('auth:account', 'counted', false, T0);
    await s.clearLockoutState('auth:ip', '192.0.2.1', true, T0);
    assert.deepEqual(await s.listLockoutStates(T0), [
      { counter: 'auth:account', subject: 'locked', failures: 0, windowEndsAt: 0, delayedUntil: 0, lockedUntil: T0 + 900_000 },
      { counter: 'auth:ip', subject: '192.0.2.2', failures: 1, windowEndsAt: T0 + 10, delayedUntil: 0, lockedUntil: 0 },
    ]);
    // a failure after the success opens a new window, the lock kept
    await s.putLockoutState({ counter: 'auth:account', subject: 'locked', failures: 1, windowEndsAt: T0 + 901_000, delayedUntil: 0, lockedUntil: 0 }, T0 + 1_000);
    assert.deepEqual((await s.listLockoutStates(T0 + 1_000))[0], { counter: 'auth:account', subject: 'locked', failures: 1, windowEndsAt: T0 + 901_000, delayedUntil: 0, lockedUntil: T0 + 900_000 });
    assert.equal(await s.purgeLockoutStates(T0 + 10), 1);
    assert.equal(await s.purgeLockoutStates(T0 + 10), 0);
    assert.deepEqual((await s.listLockoutStates(0)).map((r) => r.subject), ['locked']);
    assert.equal(await s.purgeLockoutStates(T0 + 901_000), 1);
    assert.deepEqual(await s.listLockoutStates(0), []);
  });

  t('lockout state: deleting every row (a node on Redis at start) takes the rows in force too, and reports how many', async (open) => {
    const s = await open();
    await s.putLockoutState({ counter: 'auth:account', subject: 'usr_1', failures: 10, windowEndsAt: T0 + 900_000, delayedUntil: 0, lockedUntil: T0 + 900_000 }, T0);
    await s.putLockoutState({ counter: 'auth:account', subject: 'email:hmac-sha256:AAAA', failures: 2, windowEndsAt: T0 + 900_000, delayedUntil: 0, lockedUntil: 0 }, T0);
    await s.putLockoutState({ counter: 'auth:ip', subject: '192.0.2.1', failures: 1, windowEndsAt: T0 + 10, delayedUntil: 0, lockedUntil: 0 }, T0);
    assert.equal(await s.deleteAllLockoutStates(), 3);
    assert.deepEqual(await s.listLockoutStates(0), []);
    assert.equal(await s.deleteAllLockoutStates(), 0);
  });

  t('ping answers while open; a closed store rejects with store.unavailable', async (open) => {
    const s = await open();
    await s.ping();
    await s.close();
    await rejectsWith(s.ping(), 'store.unavailable');
    await rejectsWith(s.getApp('x'), 'store.unavailable');
    await rejectsWith(s.getCertificate('01'), 'store.unavailable');
    await rejectsWith(s.markRecoveryCodeUsed('u1', 0, 'h', T0), 'store.unavailable');
  });

  const domain = asStoreHarness(makeStore);
  runCertificateStoreSuite(name, domain);
  runMfaStoreSuite(name, domain);
  runPasswordStoreSuite(name, domain);
  runAppEncryptionKeyStoreSuite(name, domain);
  runTransitStoreSuite(name, domain);
}
