/**
 * Master-key rotation, online: with a node serving, `portcullis keys rotate-master` (a
 * separate process on the same SQLite file) rewraps every data key, verifies every sealed
 * value and swaps the key file. The running node keeps working; after a restart with the
 * new key everything decrypts (signing and encryption keys, app HMAC and AES keys, transit
 * versions); the old master key opens nothing in the store. Refusals: a wrong master key
 * changes nothing (crypto.decrypt-failed); a leftover master.key.old stops a second run.
 * Every run is in the audit trail (its start, then its completion, roll-back or failure,
 * naming the two master keys by id, never by value), stored before it answers.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { startTestNode, tempDir, testConfig, type TestNode } from '../support/portcullis.js';
import { runCli } from '../cli/run.js';
import { Envelope } from '../../src/crypto/envelope.js';
import { rotateMasterKey } from '../../src/crypto/rotate-master.js';
import { openDurableStore } from '../../src/store/index.js';
import { PortcullisError } from '../../src/core/errors.js';
import { FrozenClock } from '../../src/core/clock.js';
import { Transit } from '../../src/crypto/transit/index.js';
import { masterKeyId } from '../../src/crypto/master-key.js';
import { AuditTrail, verifyAuditChain } from '../../src/audit/trail.js';
import type { AuditRow } from '../../src/audit/store.js';
import { silentLogger } from '../../src/core/logger.js';
import type { DurableStore } from '../../src/store/index.js';
import { localFetch as fetch } from '../transit/local-fetch.js';

const config = testConfig('encryption: { keyTypes: [P-256, X25519] }');
let dir: string;
let node: TestNode;
let oldMaster: Buffer;
const facts: { clientId: string; hmacKeyid: string; hmacSecret: string; encKid: string; encK: string; ct: string; sig: string; jwksKids: string[] } = {} as never;

before(async () => {
  dir = tempDir('portcullis-rotate-');
  node = await startTestNode({ dir, config, keepDir: true });
  const s = node.services;
  const { app } = await s.apps.create({ name: 'rot', audiences: ['api'], scopes: [] }, 'test');
  facts.clientId = app.clientId;
  const hmac = await s.appSigningKeys.add(app.clientId, { type: 'hmac' }, 'test');
  facts.hmacKeyid = hmac.key.keyid;
  facts.hmacSecret = hmac.secret!;
  const enc = await s.appEncryptionKeys.add(app.clientId, { type: 'symmetric' }, 'test');
  facts.encKid = enc.key.kid;
  facts.encK = enc.secret!.k as string;
  await s.transit.createKey('pii', 'aes256-gcm');
  await s.transit.rotate('pii');
  facts.ct = await s.transit.encrypt('pii', 'ssn 078-05-1120', { context: 'c1' });
  await s.transit.createKey('docs', 'ecdsa-p256');
  facts.sig = await s.transit.sign('docs', 'contract');
  facts.jwksKids = (await (await fetch(`${node.urls.identity}/jwks`)).json()).keys.map((k: { kid: string }) => k.kid).sort();
  oldMaster = Buffer.from(readFileSync(join(dir, 'master.key'), 'utf8').trim(), 'base64');
});
after(async () => {
  await node.stop().catch(() => undefined);
});

const keyIn = (file: string): Buffer => Buffer.from(readFileSync(file, 'utf8').trim(), 'base64');
/** The rotation's audit rows, oldest first: type, actor, reason and data. */
const rotationRows = async (store: DurableStore): Promise<AuditRow[]> => (await store.listAudit(0, 100_000)).filter((r) => r.type.startsWith('keys.master-'));
const summary = (rows: AuditRow[]) => rows.map((r) => [r.type, r.actor, r.reason ?? null, r.data?.['from'], r.data?.['to'], r.data?.['resumed']]);
/** What a run of rotateMasterKey is audited through: the real trail over the store, so a row read back was stored. */
const audited = (store: DurableStore) => ({ audit: new AuditTrail(store, silentLogger), actor: 'test' });

test('rotate-master while the node serves: rewraps, verifies, swaps; the node keeps working; a restart with the new key decrypts everything; the old key opens nothing', async () => {
  const r = await runCli(['keys', 'rotate-master', '--dir', dir, '--json']);
  assert.equal(r.code, 0, r.stderr);
  const out = JSON.parse(r.stdout);
  assert.equal(out.data_keys.length, 1);
  assert.ok(out.verified >= 7, `verified ${out.verified}`); // 2 signing-ring keys at least, 2 enc keys, hmac, aes key, 3 transit versions
  assert.ok(out.sealed_values >= out.verified);
  const newMaster = Buffer.from(readFileSync(join(dir, 'master.key'), 'utf8').trim(), 'base64');
  assert.equal(newMaster.length, 32);
  assert.ok(!newMaster.equals(oldMaster));
  assert.equal(statSync(join(dir, 'master.key')).mode & 0o077, 0);
  assert.equal(existsSync(join(dir, 'master.key.old')), false);
  assert.equal(existsSync(join(dir, 'master.key.new')), false);

  // the serving node is unaffected and still seals new secrets
  const s = node.services;
  assert.equal(new TextDecoder().decode(await s.transit.decrypt('pii', facts.ct, { context: 'c1' })), 'ssn 078-05-1120');
  const late = await s.appEncryptionKeys.add(facts.clientId, { type: 'symmetric', alg: 'A256KW' }, 'test');
  const lateCt = await s.transit.encrypt('pii', 'written after rotation');

  await node.stop();
  node = await startTestNode({ dir, config, keepDir: true });
  const t = node.services;
  assert.equal(new TextDecoder().decode(await t.transit.decrypt('pii', facts.ct, { context: 'c1' })), 'ssn 078-05-1120');
  assert.equal(new TextDecoder().decode(await t.transit.decrypt('pii', lateCt)), 'written after rotation');
  assert.equal(await t.transit.verify('docs', 'contract', facts.sig), true);
  assert.equal(t.appEncryptionKeys.symmetric(facts.clientId, facts.encKid)!.key.export().toString('base64url'), facts.encK);
  assert.equal(t.appEncryptionKeys.symmetric(facts.clientId, late.key.kid)!.key.export().toString('base64url'), late.secret!.k);
  assert.equal(t.appSigningKeys.lookup(facts.hmacKeyid)!.clientId, facts.clientId);
  const kids = (await (await fetch(`${node.urls.identity}/jwks`)).json()).keys.map((k: { kid: string }) => k.kid).sort();
  assert.deepEqual(kids, facts.jwksKids);

  // the old master key unwraps nothing the store holds
  await assert.rejects(Envelope.open(t.store, oldMaster), (e: unknown) => e instanceof PortcullisError && e.code === 'crypto.decrypt-failed');
  const deks = await t.store.listSettings('envelope.dek.');
  assert.equal(deks.length, 1);
});

test('rotate-master is audited: its start and its completion are stored before it answers, with the old and new master key ids, the actor and the counts of data keys; never key material; the audit key survives it and the chain keeps verifying', async () => {
  const d = tempDir('portcullis-rotate-audit-');
  const n = await startTestNode({ dir: d, config, keepDir: true });
  let stopped = false;
  try {
    const oldKey = keyIn(join(d, 'master.key'));
    const r = await runCli(['keys', 'rotate-master', '--dir', d, '--json']);
    assert.equal(r.code, 0, r.stderr);
    const out = JSON.parse(r.stdout);
    const newKey = keyIn(join(d, 'master.key'));
    const [from, to] = [masterKeyId(oldKey), masterKeyId(newKey)];
    assert.notEqual(from, to);
    assert.deepEqual([out.old_master_key_id, out.new_master_key_id], [from, to], 'the command names the keys as the trail does');
    const rows = await rotationRows(n.services.store);
    assert.deepEqual(summary(rows), [
      ['keys.master-rotation-started', 'cli', null, from, to, false],
      ['keys.master-rotated', 'cli', null, from, to, false],
    ]);
    const { rewrapped, alreadyRewrapped, successors, sealedValues, verified, oldKeyKept } = rows[1]!.data as Record<string, unknown>;
    assert.deepEqual({ rewrapped, alreadyRewrapped, successors, sealedValues, verified, oldKeyKept }, { rewrapped: 1, alreadyRewrapped: 0, successors: 0, sealedValues: out.sealed_values, verified: out.verified, oldKeyKept: false });
    const text = JSON.stringify(rows);
    for (const key of [oldKey, newKey]) for (const enc of ['base64', 'base64url', 'hex'] as const) assert.ok(!text.includes(key.toString(enc)), `no ${enc} key material in the trail`);
    assert.equal((await verifyAuditChain(n.services.store, n.services.auditHeadKey)).ok, true);
    // the audit key is sealed under a data key, which the rotation rewrapped: the node and a restart with the new master key keep the same key
    const head = (await n.services.store.auditHead())!;
    assert.equal(head.mac, n.services.auditHeadKey.mac(head.seq, head.hash), 'the CLI recorded an authenticated head');
    await n.services.apps.create({ name: 'after-rotation', audiences: ['api'], scopes: [] }, 'test');
    await n.services.audit.flush();
    assert.equal((await verifyAuditChain(n.services.store, n.services.auditHeadKey)).ok, true);
    await n.stop();
    stopped = true;
    const restarted = await startTestNode({ dir: d, config, keepDir: false });
    try {
      const s = restarted.services;
      assert.equal(s.auditHeadKey.mac(1, 'x'), n.services.auditHeadKey.mac(1, 'x'), 'the same audit key after the rotation');
      await s.apps.create({ name: 'after-restart', audiences: ['api'], scopes: [] }, 'test');
      await s.audit.flush();
      const r = await verifyAuditChain(s.store, s.auditHeadKey);
      assert.equal(r.ok, true, r.reason);
    } finally {
      await restarted.stop();
    }
  } finally {
    if (!stopped) await n.stop();
  }
});

test('attack: with the audit trail unavailable, rotate-master changes nothing; when only its completion cannot be stored, it does not report success (audit.unavailable)', async () => {
  const d = tempDir('portcullis-rotate-audit-down-');
  const n = await startTestNode({ dir: d, config, keepDir: false });
  const store = await openDurableStore(`sqlite:${join(d, 'portcullis.db')}`);
  try {
    const file = join(d, 'master.key');
    const current = readFileSync(file, 'utf8');
    const deks = await store.listSettings('envelope.dek.');
    let refuse = (_types: string[]) => true;
    const unreachable = new Proxy(store, {
      get(target, prop, receiver) {
        if (prop !== 'appendAudit') return Reflect.get(target, prop, receiver);
        return async (events: Array<{ type: string }>, chain: Parameters<DurableStore['appendAudit']>[1]) => {
          if (refuse(events.map((e) => e.type))) throw new PortcullisError('store.unavailable', 'database is locked', { details: { retryable: true } });
          return target.appendAudit(events as never, chain);
        };
      },
    }) as typeof store;
    const audit = new AuditTrail(unreachable, silentLogger);
    await assert.rejects(rotateMasterKey(store, file, { audit, actor: 'test' }), (e: unknown) => e instanceof PortcullisError && e.code === 'audit.unavailable');
    assert.equal(readFileSync(file, 'utf8'), current, 'the master key is unchanged');
    assert.deepEqual(await store.listSettings('envelope.dek.'), deks, 'no data key was touched');
    assert.equal(existsSync(join(d, 'master.key.new')), false);
    assert.equal(existsSync(join(d, 'master.key.old')), false);

    // the trail is back for the start, and fails for the completion: the rotation is made, and said not to be recorded
    refuse = (types) => types.includes('keys.master-rotated');
    const fresh = new AuditTrail(unreachable, silentLogger);
    await assert.rejects(rotateMasterKey(store, file, { audit: fresh, actor: 'test' }), (e: unknown) => {
      assert.ok(e instanceof PortcullisError && e.code === 'audit.unavailable', String(e));
      assert.match(e.message, /rotated/);
      return true;
    });
    assert.notEqual(readFileSync(file, 'utf8'), current, 'the rotation itself was made');
    assert.deepEqual(summary(await rotationRows(store)).map((r) => r[0]), ['keys.master-rotation-started'], 'its start is stored');
  } finally {
    await store.close();
    await n.stop();
  }
});

test('attack: rotating with a master key file that does not belong to the store is refused (crypto.decrypt-failed) and changes nothing', async () => {
  const d = tempDir('portcullis-rotate-wrong-');
  const n = await startTestNode({ dir: d, config, keepDir: false });
  const store = await openDurableStore(`sqlite:${join(d, 'portcullis.db')}`);
  try {
    const before = await store.listSettings('envelope.dek.');
    writeFileSync(join(d, 'master.key'), randomBytes(32).toString('base64') + '\n', { mode: 0o600 });
    await assert.rejects(rotateMasterKey(store, join(d, 'master.key'), audited(store)), (e: unknown) => e instanceof PortcullisError && e.code === 'crypto.decrypt-failed');
    assert.deepEqual(await store.listSettings('envelope.dek.'), before);
    const rows = await rotationRows(store);
    assert.deepEqual(summary(rows).map((r) => r.slice(0, 3)), [['keys.master-rotation-started', 'test', null], ['keys.master-rotation-failed', 'test', 'crypto.decrypt-failed']]);
    assert.equal(rows[1]!.data?.['rewrapped'], 0, 'the refused run changed no data key');
  } finally {
    await store.close();
    await n.stop();
  }
});

test('an interrupted rotation resumes with the key it had written; a leftover master.key.old stops a new rotation (crypto.master-key)', async () => {
  const d = tempDir('portcullis-rotate-resume-');
  const n = await startTestNode({ dir: d, config, keepDir: false });
  const store = await openDurableStore(`sqlite:${join(d, 'portcullis.db')}`);
  try {
    const pending = randomBytes(32);
    writeFileSync(join(d, 'master.key.new'), pending.toString('base64') + '\n', { mode: 0o600 });
    const current = keyIn(join(d, 'master.key'));
    const r = await rotateMasterKey(store, join(d, 'master.key'), { keepOld: true, ...audited(store) });
    assert.equal(r.resumed, true);
    assert.ok(Buffer.from(readFileSync(join(d, 'master.key'), 'utf8').trim(), 'base64').equals(pending));
    assert.equal(r.oldKeyFile, join(d, 'master.key.old'));
    await Envelope.open(store, pending);
    const rows = await rotationRows(store);
    assert.deepEqual(summary(rows), [
      ['keys.master-rotation-started', 'test', null, masterKeyId(current), masterKeyId(pending), true],
      ['keys.master-rotated', 'test', null, masterKeyId(current), masterKeyId(pending), true],
    ]);
    assert.equal(rows[1]!.data?.['oldKeyKept'], true);
    await assert.rejects(rotateMasterKey(store, join(d, 'master.key'), audited(store)), (e: unknown) => e instanceof PortcullisError && e.code === 'crypto.master-key');
  } finally {
    await store.close();
    await n.stop();
  }
});

test('a rotation rolled back at the verification step leaves no master.key.old behind, so the next rotation runs', async () => {
  const d = tempDir('portcullis-rotate-rollback-');
  const n = await startTestNode({ dir: d, config, keepDir: false });
  const store = await openDurableStore(`sqlite:${join(d, 'portcullis.db')}`);
  try {
    const current = readFileSync(join(d, 'master.key'), 'utf8');
    // a store whose first signing key reads back damaged: step 4 fails and rolls back
    const damaged = new Proxy(store, {
      get(target, prop, receiver) {
        if (prop !== 'listKeys') return Reflect.get(target, prop, receiver);
        return async () => (await target.listKeys()).map((k, i) => (i === 0 ? { ...k, privateJwk: k.privateJwk.slice(0, -4) + 'AAAA' } : k));
      },
    }) as typeof store;
    await assert.rejects(rotateMasterKey(damaged, join(d, 'master.key'), audited(store)), (e: unknown) => e instanceof PortcullisError && e.code === 'crypto.decrypt-failed');
    assert.equal(readFileSync(join(d, 'master.key'), 'utf8'), current, 'the master key is unchanged');
    assert.equal(existsSync(join(d, 'master.key.new')), false);
    assert.equal(existsSync(join(d, 'master.key.old')), false, 'no leftover that would stop the next run');
    const rows = await rotationRows(store);
    assert.deepEqual(summary(rows).map((r) => r.slice(0, 3)), [['keys.master-rotation-started', 'test', null], ['keys.master-rotation-rolled-back', 'test', 'crypto.decrypt-failed']]);
    assert.equal(rows[1]!.data?.['from'], masterKeyId(Buffer.from(current.trim(), 'base64')));
    assert.equal(rows[1]!.data?.['restored'], 1, 'the data key is back under the current key');
    const r = await rotateMasterKey(store, join(d, 'master.key'), audited(store));
    assert.equal(r.resumed, false);
  } finally {
    await store.close();
    await n.stop();
  }
});

test('a resumed rotation rolled back at the verification step puts the data keys the interrupted run had rewrapped back under the current key (no secret is lost)', async () => {
  const d = tempDir('portcullis-rotate-resume-rollback-');
  const n = await startTestNode({ dir: d, config, keepDir: false });
  const store = await openDurableStore(`sqlite:${join(d, 'portcullis.db')}`);
  try {
    const file = join(d, 'master.key');
    const current = readFileSync(file, 'utf8');
    const currentKey = Buffer.from(current.trim(), 'base64');
    await n.services.transit.createKey('pii', 'aes256-gcm');
    const ct = await n.services.transit.encrypt('pii', 'kept');
    // run 1 is interrupted after rewrapping the data key: its read-back fails (store gone away)
    const interrupted = new Proxy(store, {
      get(target, prop, receiver) {
        if (prop !== 'getSetting') return Reflect.get(target, prop, receiver);
        return async (name: string) => {
          if (name.startsWith('envelope.dek.')) throw new Error('connection lost');
          return target.getSetting(name);
        };
      },
    }) as typeof store;
    await assert.rejects(rotateMasterKey(interrupted, file, audited(store)), /connection lost/);
    assert.equal(existsSync(join(d, 'master.key.new')), true, 'the interrupted run left its new key');
    // run 2 resumes, and a sealed value fails verification: it rolls back
    const damaged = new Proxy(store, {
      get(target, prop, receiver) {
        if (prop !== 'listKeys') return Reflect.get(target, prop, receiver);
        return async () => (await target.listKeys()).map((k, i) => (i === 0 ? { ...k, privateJwk: k.privateJwk.slice(0, -4) + 'AAAA' } : k));
      },
    }) as typeof store;
    await assert.rejects(rotateMasterKey(damaged, file, audited(store)), (e: unknown) => e instanceof PortcullisError && e.code === 'crypto.decrypt-failed');
    assert.equal(readFileSync(file, 'utf8'), current, 'the master key is unchanged');
    const rows = await rotationRows(store);
    assert.deepEqual(summary(rows).map((r) => [...r.slice(0, 3), r[5]]), [
      ['keys.master-rotation-started', 'test', null, false],
      ['keys.master-rotation-failed', 'test', 'internal', false],
      ['keys.master-rotation-started', 'test', null, true],
      ['keys.master-rotation-rolled-back', 'test', 'crypto.decrypt-failed', true],
    ]);
    assert.equal(rows[1]!.data?.['rewrapped'], 1, 'the interrupted run had rewrapped the data key');
    assert.equal(rows[3]!.data?.['restored'], 1);
    // every data key opens with the master key that remains, so every secret is still readable
    const envelope = await Envelope.open(store, currentKey);
    const t = new Transit(store, envelope, new FrozenClock(Date.now()));
    assert.equal(new TextDecoder().decode(await t.decrypt('pii', ct)), 'kept');
    assert.equal((await rotateMasterKey(store, file, audited(store))).verified > 0, true, 'and the next rotation runs');
  } finally {
    await store.close();
    await n.stop();
  }
});
