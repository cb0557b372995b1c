/**
 * Online master-key rotation (`portcullis keys rotate-master`).
 *
 * Secrets at rest are sealed under data keys (DEKs); the master key only wraps the DEKs
 * (settings `envelope.dek.<id>`). Rotation therefore rewraps each DEK under a new master
 * key and changes no sealed secret: running nodes keep their unwrapped DEKs in memory and
 * go on serving, and new secrets they seal use the same DEKs. No new DEK is created (the
 * optional re-encryption of every secret under a fresh DEK is not done: the DEK never
 * left the process unwrapped, so rotating the master key is what limits exposure of a
 * leaked master key file).
 *
 * Steps, each safe to interrupt (a re-run resumes):
 *  1. the new key is written to `<file>.new`, the old one to `<file>.old` (each 0600, whole and fsynced);
 *  2. before any change: every sealed value in the store names a DEK this rotation knows
 *     (a scan of every text column), and every DEK unwraps under the old key;
 *  3. each DEK is rewrapped under the new key and read back (a DEK already under the new
 *     key — an interrupted run — is left as it is);
 *  4. an Envelope opened with the new key decrypts every sealed value whose context is
 *     known (key ring, app signing and encryption keys, transit versions, OIDC cookie
 *     keys, the audit key); on any failure every DEK is put back under the current key (also those an
 *     interrupted run had rewrapped) and nothing is swapped;
 *  5. `<file>.new` is renamed over `<file>` (atomic), and `<file>.old` is removed unless kept.
 *
 * Before step 1 the start of the run is stored in the audit trail (or nothing changes), and
 * its completion after step 5, before the run answers; a roll-back or a failure is recorded too.
 */
import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import { existsSync, readFileSync, renameSync, rmSync } from 'node:fs';
import { HEAD_KEY_CONTEXT, HEAD_KEY_SETTING } from '../audit/head-key.js';
import { storedOrTell, type DurableAuditSink } from '../audit/sink.js';
import { systemClock, type Clock } from '../core/clock.js';
import { PortcullisError } from '../core/errors.js';
import { createFileOnceSync, fsyncDirectoryOf } from '../core/files.js';
import type { AppSigningKeyStore } from '../tokens/app-keys-store.js';
import type { AppEncryptionKeyStore } from '../tokens/app-encryption-keys-store.js';
import { appEncryptionKeyContext } from '../tokens/app-encryption-keys.js';
import { DEK_PREFIX, Envelope, parseWrappedDek, unwrapDek } from './envelope.js';
import { MASTER_KEY_BYTES, masterKeyId, readMasterKeyFile } from './master-key.js';
import type { KeyStore, SealedValueStore, SettingsStore } from './store.js';
import { sealContext } from './transit/key-material.js';
import type { TransitStore } from './transit/store.js';

export type RotateMasterStore = SettingsStore & SealedValueStore & KeyStore & AppSigningKeyStore & AppEncryptionKeyStore & TransitStore;

export interface RotateMasterResult {
  /** Ids of the data keys rewrapped (or found already rewrapped by an interrupted run). */
  dataKeys: string[];
  /** Sealed values found in the store, all naming one of `dataKeys`. */
  sealedValues: number;
  /** Sealed values decrypted with the new master key (those whose context is known). */
  verified: number;
  /** `<file>.old` when kept, else null. */
  oldKeyFile: string | null;
  resumed: boolean;
  /** `masterKeyId` of the key replaced and of the key now in the file, as the audit trail names them. */
  oldMasterKeyId: string;
  newMasterKeyId: string;
}


function wrap(master: Buffer, id: string, dek: Buffer): string {
  const iv = randomBytes(12);
  const c = createCipheriv('aes-256-gcm', master, iv);
  c.setAAD(Buffer.from(DEK_PREFIX + id, 'utf8'));
  const ct = Buffer.concat([c.update(dek), c.final(), c.getAuthTag()]);
  return `${iv.toString('base64url')}.${ct.toString('base64url')}`;
}

function unwrap(master: Buffer, id: string, wrapped: string): Buffer | undefined {
  const [ivText, ctText] = wrapped.split('.');
  if (!ivText || !ctText) return undefined;
  const iv = Buffer.from(ivText, 'base64url');
  const ct = Buffer.from(ctText, 'base64url');
  if (iv.length !== 12 || ct.length < 16) return undefined;
  try {
    const d = createDecipheriv('aes-256-gcm', master, iv);
    d.setAAD(Buffer.from(DEK_PREFIX + id, 'utf8'));
    d.setAuthTag(ct.subarray(ct.length - 16));
    return Buffer.concat([d.update(ct.subarray(0, ct.length - 16)), d.final()]);
  } catch {
    return undefined;
  }
}

/** A key file (0600) created whole and fsynced, or not at all: a crash leaves no partial key for a resumed run to find. */
function writeKeyFile(path: string, key: Buffer): void {
  if (!createFileOnceSync(path, key.toString('base64') + '\n', 0o600)) throw new PortcullisError('crypto.master-key', `${path} appeared during the rotation; run it again`);
}

function fsyncDir(path: string): void {
  try {
    fsyncDirectoryOf(path);
  } catch {
    /* not supported on every platform; the rename itself is atomic */
  }
}

/** Decrypts every sealed value whose context is known with `envelope`; returns how many. */
export async function verifySealedValues(store: RotateMasterStore, envelope: Envelope): Promise<number> {
  let n = 0;
  const open = async (sealed: string, context: string) => {
    (await envelope.decrypt(sealed, context)).fill(0);
    n++;
  };
  for (const k of await store.listKeys()) await open(k.privateJwk, `${k.use === 'enc' ? 'encryption-key' : 'signing-key'}:${k.kid}`);
  for (const k of await store.listAppSigningKeys()) if (k.sealedSecret) await open(k.sealedSecret, `app-signing-key:${k.keyid}`);
  for (const k of await store.listAppEncryptionKeys()) if (k.sealedKey) await open(k.sealedKey, appEncryptionKeyContext(k.kid));
  for (const name of await store.listTransitKeys()) {
    const k = await store.getTransitKey(name);
    for (const v of k?.versions ?? []) await open(v.sealed, sealContext(name, v.version));
  }
  const cookieKeys = await store.getSetting('oidc.cookie-keys');
  if (cookieKeys) await open(cookieKeys, 'oidc-cookie-keys');
  const auditKey = await store.getSetting(HEAD_KEY_SETTING);
  if (auditKey) await open(auditKey, HEAD_KEY_CONTEXT);
  return n;
}

/** A data key found in the store: `underNew`, wrapped under the new key already (an interrupted run); `chained`, wrapped under its predecessor DEK. */
interface FoundDek {
  name: string;
  original: string;
  bytes: Buffer;
  underNew: boolean;
  chained: boolean;
}

/**
 * Step 2: every data key, unwrapped (under the old key, the new one, or through its chain of
 * predecessors), once every sealed value is found to name one of them; changes nothing.
 * Fills `deks` as it goes, so the caller zeroes what was unwrapped before a refusal too.
 */
async function findDataKeys(store: RotateMasterStore, oldKey: Buffer, newKey: Buffer, deks: Map<string, FoundDek>): Promise<number> {
  const chained: Array<{ name: string; id: string; value: string; parent: string }> = [];
  for (const { name, value } of await store.listSettings(DEK_PREFIX)) {
    const id = name.slice(DEK_PREFIX.length);
    const parent = parseWrappedDek(value)?.parent;
    if (parent !== undefined) {
      chained.push({ name, id, value, parent });
      continue;
    }
    let bytes = unwrap(oldKey, id, value);
    let underNew = false;
    if (!bytes) {
      bytes = unwrap(newKey, id, value);
      underNew = bytes !== undefined;
    }
    if (!bytes) throw new PortcullisError('crypto.decrypt-failed', `data key ${id} opens with neither the current nor the new master key; nothing was changed`);
    deks.set(id, { name, original: value, bytes, underNew, chained: false });
  }
  // a successor data key (envelope.ts) is wrapped under its predecessor, not the master key: it
  // is checked through its chain and left as it is
  for (let progress = true; progress && chained.length > 0; ) {
    progress = false;
    for (let i = 0; i < chained.length; i++) {
      const c = chained[i]!;
      const parent = deks.get(c.parent);
      if (!parent) continue;
      let bytes: Buffer;
      try {
        bytes = unwrapDek(parent.bytes, c.id, parseWrappedDek(c.value)!);
      } catch {
        throw new PortcullisError('crypto.decrypt-failed', `data key ${c.id} does not open with its predecessor ${c.parent}; nothing was changed`);
      }
      deks.set(c.id, { name: c.name, original: c.value, bytes, underNew: true, chained: true });
      chained.splice(i--, 1);
      progress = true;
    }
  }
  if (chained.length) throw new PortcullisError('crypto.decrypt-failed', `data keys ${chained.map((c) => c.id).join(', ')} name predecessors that are not in the store; nothing was changed`);
  if (deks.size === 0) throw new PortcullisError('crypto.decrypt-failed', 'the store holds no data key; run `portcullis start` once before rotating');
  const sealed = await store.scanSealedValues();
  const unknown = [...new Set(sealed.map((r) => r.dekId).filter((id) => !deks.has(id)))];
  if (unknown.length) throw new PortcullisError('crypto.decrypt-failed', `sealed values name data keys that are not in the store (${unknown.join(', ')}); nothing was changed`);
  return sealed.length;
}

export interface RotateMasterOptions {
  /** Keep the previous key as `<file>.old`. */
  keepOld?: boolean;
  /** Where the run is audited: its start is stored before anything changes, its completion before it returns. */
  audit: DurableAuditSink;
  /** Who runs it, for the audit trail (`cli`). */
  actor: string;
  clock?: Clock;
}

/**
 * Rotates the master key in `masterKeyFile` for the data in `store`, online. The run is in
 * the audit trail, naming both master keys by `masterKeyId` (never by value):
 * `keys.master-rotation-started`, stored before any change (else `audit.unavailable` and
 * nothing is changed), then `keys.master-rotated` with the counts, stored before this
 * returns (else `audit.unavailable`: the rotation is made but not acknowledged), or
 * `keys.master-rotation-rolled-back` / `keys.master-rotation-failed` with the error code.
 *
 * @example
 * const store = await openDurableStore(config.store, { baseDir: dir });
 * const r = await rotateMasterKey(store, resolveIn(dir, config.masterKeyFile), { audit: new AuditTrail(store, logger), actor: 'cli' });
 * // r.dataKeys: ['Xy12ab'], r.verified: 14 — then copy the new master.key to every node
 */
export async function rotateMasterKey(store: RotateMasterStore, masterKeyFile: string, opts: RotateMasterOptions): Promise<RotateMasterResult> {
  const clock = opts.clock ?? systemClock;
  const newFile = `${masterKeyFile}.new`;
  const oldFile = `${masterKeyFile}.old`;
  const oldKey = readMasterKeyFile(masterKeyFile);
  let newKey: Buffer | undefined;
  const deks = new Map<string, FoundDek>();
  try {
    const resumed = existsSync(newFile);
    if (resumed) {
      newKey = readMasterKeyFile(newFile);
    } else {
      if (existsSync(oldFile)) throw new PortcullisError('crypto.master-key', `${oldFile} exists from an earlier rotation; move it away (it is needed only for backups made before that rotation) and run again`);
      newKey = randomBytes(MASTER_KEY_BYTES);
    }
    if (newKey.equals(oldKey)) throw new PortcullisError('crypto.master-key', `${newFile} holds the current master key`);
    const ids = { from: masterKeyId(oldKey), to: masterKeyId(newKey), resumed };
    const audit = (type: string, reason: string | null, data: Record<string, unknown> = {}): void =>
      opts.audit.record({ time: clock.now(), type, actor: opts.actor, reason, data: { ...ids, ...data } });
    audit('keys.master-rotation-started', null);
    await storedOrTell(opts.audit, 'the master key rotation was not started: its audit event could not be stored; nothing was changed');

    // 1. the new key to <file>.new, the current one copied to <file>.old
    if (!resumed) writeKeyFile(newFile, newKey);
    if (!existsSync(oldFile)) writeKeyFile(oldFile, oldKey);

    const counts = { rewrapped: 0, alreadyRewrapped: 0, successors: 0 };
    let sealedValues: number;
    let verified: number;
    let ended = false;
    try {
      // 2. nothing changes unless every DEK opens and every sealed value names one of them
      sealedValues = await findDataKeys(store, oldKey, newKey, deks);
      for (const d of deks.values()) if (d.chained) counts.successors++;
      else if (d.underNew) counts.alreadyRewrapped++;

      // 3. rewrap and read back
      for (const [id, d] of deks) {
        if (d.underNew) continue;
        await store.putSetting(d.name, wrap(newKey, id, d.bytes));
        counts.rewrapped++;
        const back = await store.getSetting(d.name);
        const check = back === undefined ? undefined : unwrap(newKey, id, back);
        if (!check || !check.equals(d.bytes)) throw new PortcullisError('crypto.decrypt-failed', `data key ${id} did not read back under the new master key`);
        check.fill(0);
      }

      // 4. every sealed value with a known context opens with the new key, through the real Envelope
      try {
        verified = await verifySealedValues(store, await Envelope.open(store, newKey));
      } catch (e) {
        // every DEK goes back under the current key, also those an interrupted run had rewrapped:
        // the new key file is removed below, and a DEK left under it would be lost with its secrets
        let restored = 0;
        for (const [id, d] of deks) {
          if (d.chained) continue;
          await store.putSetting(d.name, d.underNew ? wrap(oldKey, id, d.bytes) : d.original);
          restored++;
        }
        rmSync(newFile, { force: true });
        // nothing was swapped: the copy of the current key made for this rotation goes too,
        // or the next run would take it for the leftover of a finished rotation
        if (existsSync(oldFile) && readFileSync(oldFile).equals(readFileSync(masterKeyFile))) rmSync(oldFile, { force: true });
        ended = true;
        audit('keys.master-rotation-rolled-back', 'crypto.decrypt-failed', { ...counts, restored });
        await opts.audit.flush().catch(() => undefined);
        throw new PortcullisError('crypto.decrypt-failed', 'a sealed value did not open under the new master key; the data keys were put back under the current key and nothing was swapped', { cause: e });
      }

      // 5. swap atomically
      renameSync(newFile, masterKeyFile);
      fsyncDir(masterKeyFile);
      if (!opts.keepOld) rmSync(oldFile, { force: true });
    } catch (e) {
      if (!ended) {
        // the run stopped part-way (a re-run resumes): the trail says how far it went
        audit('keys.master-rotation-failed', e instanceof PortcullisError ? e.code : 'internal', counts);
        await opts.audit.flush().catch(() => undefined);
      }
      throw e;
    }
    audit('keys.master-rotated', null, { ...counts, sealedValues, verified, oldKeyKept: opts.keepOld === true });
    await storedOrTell(
      opts.audit,
      `the master key was rotated (${ids.from} to ${ids.to}; copy the new key file to every other node) but the audit event of its completion could not be stored: check the database; do not rotate again for this`,
    );
    return { dataKeys: [...deks.keys()], sealedValues, verified, oldKeyFile: opts.keepOld ? oldFile : null, resumed, oldMasterKeyId: ids.from, newMasterKeyId: ids.to };
  } finally {
    for (const d of deks.values()) d.bytes.fill(0);
    oldKey.fill(0);
    newKey?.fill(0);
  }
}
