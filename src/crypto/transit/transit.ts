/**
 * Encryption as a service for data at rest, after Vault's transit engine: named keys with
 * versions; encrypt, decrypt, rewrap, rotate, data keys, sign/verify and HMAC. Values carry
 * the key version (`pc:v3:…`), so rotation never breaks old data, and `minDecryptionVersion`
 * retires old versions. Apps never hold a long-lived key.
 *
 * Keys are unsealed once per version into KeyObjects and cached; an operation on a cached
 * key does no store access, no key import and no JSON. Encryptions under each aes256-gcm
 * version are counted against the AES-GCM invocation limit (NIST SP 800-38D §8.3,
 * gcm-usage.ts) from blocks reserved in the store: an integer increment per encryption,
 * a store write per block. At the limit the key rotates by itself (`autoRotate`) or
 * refuses new encryptions (`transit.key-exhausted`); decryption goes on. Other nodes' rotations and
 * configuration changes arrive through `invalidate(name)` (wired to events) and, as a
 * backstop, after `cacheTtlMs`; a value naming a version newer than the cached key makes
 * the key be read again unless a read that began after the operation did has already
 * answered, so a version made a moment ago on another node is used, not called malformed.
 * Such reads of one key run one at a time, and callers that arrive together share one.
 */
import { createHmac, randomBytes, sign as cryptoSign, timingSafeEqual, verify as cryptoVerify } from 'node:crypto';
import { randomGcmIv } from '../iv.js';
import type { AuditSink } from '../../audit/sink.js';
import type { Clock } from '../../core/clock.js';
import { PortcullisError, type ErrorCode } from '../../core/errors.js';
import type { PageRequest } from '../../core/page.js';
import type { Envelope } from '../envelope.js';
import { GcmMeter, MemoryKeyUsageStore } from '../gcm-usage.js';
import { GCM_IV_BYTES, gcmOpen, gcmSeal } from './aes-gcm.js';
import { formatValue, parseValue, prefix } from './format.js';
import { loadVersion, newVersion, sealContext, type LoadedVersion } from './key-material.js';
import type { TransitKeyConfigPatch, TransitKeyRecord, TransitKeyType, TransitStore } from './store.js';

export type Bytes = Uint8Array | string;
export type HmacAlgorithm = 'sha2-256' | 'sha2-512';

export interface TransitOptions {
  /** A cached key is re-read from the store after this long (default 30 s), in case an invalidation event was lost. */
  cacheTtlMs?: number;
  /**
   * Counts encryptions per aes256-gcm version against the AES-GCM invocation limit. Without
   * one, counts live in this process only (2^32 per version): pass a meter over the durable
   * store (as app.ts does) so they survive restarts and are shared by every node.
   */
  usage?: GcmMeter;
  /** Where automatic rotations and exhausted versions are audited. */
  audit?: AuditSink;
  /** Called after an automatic rotation, so other nodes drop their cached key (`transit.changed`). */
  onRotated?: (name: string) => void;
}

/** One result of a batch operation: the value, or the error of that item alone. */
export type BatchResult<T> = { ok: true; value: T } | { ok: false; code: ErrorCode; message: string };

/** The settings of a key that `configure` changes. */
export type TransitKeySettings = Pick<TransitKeyRecord, 'minDecryptionVersion' | 'minEncryptionVersion' | 'autoRotate'>;

export interface TransitKeyInfo {
  name: string;
  type: TransitKeyType;
  latestVersion: number;
  minDecryptionVersion: number;
  minEncryptionVersion: number;
  /** aes256-gcm: rotate when the latest version reaches the invocation limit (else refuse encryption). */
  autoRotate: boolean;
  /** Encryptions allowed per version (the AES-GCM invocation limit). */
  encryptionLimit: number;
  /** `encryptions` (aes256-gcm only): encryptions counted against the version's limit, reserved in blocks by every node (an upper bound). */
  versions: Array<{ version: number; createdAt: number; publicKey?: string; encryptions?: number }>;
}

interface LoadedKey {
  record: TransitKeyRecord;
  type: TransitKeyType;
  /** versions[v] is version v (index 0 unused). */
  versions: LoadedVersion[];
  latest: number;
  loadedAt: number;
  /** The number of the store read it came from (`Transit.reads` when that read began). */
  read: number;
}

/** An operation on a key, as `checkKey` names it. */
export type TransitOperation = 'encrypt' | 'decrypt' | 'rewrap' | 'generateDataKey' | 'sign' | 'verify' | 'hmac' | 'verifyHmac';

/** The key type each operation needs: aes256-gcm (true), a signing key (false), any (undefined). */
const KEY_KIND: Record<TransitOperation, boolean | undefined> = {
  encrypt: true,
  decrypt: true,
  rewrap: true,
  generateDataKey: true,
  sign: false,
  verify: false,
  hmac: undefined,
  verifyHmac: undefined,
};

export const MAX_BATCH = 1000;
const NAME = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$/;
const TYPES: readonly TransitKeyType[] = ['aes256-gcm', 'ed25519', 'ecdsa-p256'];
const encoder = new TextEncoder();
const EMPTY = new Uint8Array(0);

function bytes(v: Bytes | undefined, what: string): Uint8Array {
  if (v === undefined) return EMPTY;
  if (typeof v === 'string') return encoder.encode(v);
  if (v instanceof Uint8Array) return v;
  throw new PortcullisError('transit.invalid-input', `${what} must be bytes or a string`);
}

const invalid = (msg: string) => new PortcullisError('transit.invalid-input', msg);

export class Transit {
  private readonly cache = new Map<string, LoadedKey>();
  /**
   * Bumped by every `invalidate`: a key read from the store before one may predate the change
   * the invalidation announces (a store answer can arrive after it), so it serves the
   * operation that read it but is not cached.
   */
  private generation = 0;
  /**
   * Store reads of keys begun so far. An operation notes it when it starts: a key whose
   * `read` is above that was read after the operation began, so a version it lacks did
   * not exist when the value reached this node.
   */
  private reads = 0;
  /** The re-read of each key in flight for a value naming a newer version, and the one queued behind it. */
  private readonly rereads = new Map<string, { read: number; done: Promise<LoadedKey>; next?: Promise<LoadedKey> }>();
  private readonly ttl: number;
  private readonly usage: GcmMeter;
  /** Versions whose exhaustion was audited by this process (once each). */
  private readonly exhaustedAudited = new Set<string>();

  constructor(
    private readonly store: TransitStore,
    private readonly envelope: Envelope,
    private readonly clock: Clock,
    private readonly opts: TransitOptions = {},
  ) {
    this.ttl = opts.cacheTtlMs ?? 30_000;
    this.usage = opts.usage ?? new GcmMeter(new MemoryKeyUsageStore());
  }

  // ---- key management ------------------------------------------------------------------

  /** Creates a named key with version 1 (`autoRotate` defaults to true). */
  async createKey(name: string, type: TransitKeyType, opts: { autoRotate?: boolean } = {}): Promise<TransitKeyInfo> {
    if (typeof name !== 'string' || !NAME.test(name)) throw invalid('key names are 1-128 characters of A-Z a-z 0-9 _ . -');
    if (!TYPES.includes(type)) throw invalid(`key type must be one of ${TYPES.join(', ')}`);
    const now = this.clock.now();
    const record: TransitKeyRecord = {
      name,
      type,
      createdAt: now,
      minDecryptionVersion: 1,
      minEncryptionVersion: 0,
      autoRotate: opts.autoRotate ?? true,
      versions: [await newVersion(this.envelope, name, type, 1, now)],
    };
    if (typeof record.autoRotate !== 'boolean') throw invalid('autoRotate must be true or false');
    await this.store.createTransitKey(record);
    return this.info(await this.remember(record, this.generation, ++this.reads));
  }

  /** The key's versions, floors and, for aes256-gcm, the encryptions counted per version. */
  async readKey(name: string): Promise<TransitKeyInfo> {
    return this.info(await this.fresh(name));
  }

  /** Key names, sorted; one page of them when `page` is given. */
  listKeys(page?: PageRequest<string>): Promise<string[]> {
    return this.store.listTransitKeys(page);
  }

  /** Adds a version; new encryptions and signatures use it, older versions keep decrypting. */
  async rotate(name: string): Promise<TransitKeyInfo> {
    for (let attempt = 0; attempt < 5; attempt++) {
      const k = await this.fresh(name);
      const v = await newVersion(this.envelope, name, k.type, k.latest + 1, this.clock.now());
      if (await this.store.addTransitKeyVersion(name, v)) return this.info(await this.fresh(name));
    }
    throw new PortcullisError('conflict', `transit key ${name} is being rotated concurrently; retry`);
  }

  /**
   * Sets minDecryptionVersion (1..latest), minEncryptionVersion (0 = no floor, else
   * minDecryptionVersion..latest) and autoRotate; answers the key after the change and the
   * settings it had before. Versions are never destroyed, so a lower minDecryptionVersion
   * makes retired versions decrypt again (as Vault allows); the caller audits that.
   */
  async configure(name: string, patch: { minDecryptionVersion?: number; minEncryptionVersion?: number; autoRotate?: boolean }): Promise<TransitKeyInfo & { previous: TransitKeySettings }> {
    const k = await this.fresh(name);
    const minDec = patch.minDecryptionVersion ?? k.record.minDecryptionVersion;
    const minEnc = patch.minEncryptionVersion ?? k.record.minEncryptionVersion;
    if (!Number.isSafeInteger(minDec) || minDec < 1 || minDec > k.latest) throw invalid(`minDecryptionVersion must be between 1 and ${k.latest}`);
    if (!Number.isSafeInteger(minEnc) || minEnc < 0 || minEnc > k.latest) throw invalid(`minEncryptionVersion must be between 0 and ${k.latest}`);
    if (minEnc !== 0 && minEnc < minDec) throw invalid('minEncryptionVersion may not be below minDecryptionVersion');
    const autoRotate = patch.autoRotate ?? k.record.autoRotate;
    if (typeof autoRotate !== 'boolean') throw invalid('autoRotate must be true or false');
    // only the fields asked for: writing back the others as read would undo a concurrent change
    const write: TransitKeyConfigPatch = {};
    if (patch.minDecryptionVersion !== undefined) write.minDecryptionVersion = minDec;
    if (patch.minEncryptionVersion !== undefined) write.minEncryptionVersion = minEnc;
    if (patch.autoRotate !== undefined) write.autoRotate = autoRotate;
    const previous: TransitKeySettings = { minDecryptionVersion: k.record.minDecryptionVersion, minEncryptionVersion: k.record.minEncryptionVersion, autoRotate: k.record.autoRotate };
    await this.store.updateTransitKeyConfig(name, write);
    return { ...(await this.info(await this.fresh(name))), previous };
  }

  /** Drops cached keys (one, or all) so the next operation re-reads the store: wire to change events. */
  invalidate(name?: string): void {
    this.generation++;
    if (name === undefined) this.cache.clear();
    else this.cache.delete(name);
  }

  /** Loads `record` into KeyObjects; caches it unless an invalidation came after `generation` (when the record was read). */
  private async remember(record: TransitKeyRecord, generation: number, read: number): Promise<LoadedKey> {
    const prior = this.cache.get(record.name);
    const versions: LoadedVersion[] = [];
    for (const v of record.versions) {
      const cached = prior?.versions[v.version];
      versions[v.version] = cached && cached.createdAt === v.createdAt ? cached : await loadVersion(this.envelope, record.name, v, this.usage);
    }
    const k: LoadedKey = { record, type: record.type, versions, latest: record.versions.length, loadedAt: this.clock.now(), read };
    if (generation === this.generation) this.cache.set(record.name, k);
    return k;
  }

  private async fresh(name: string): Promise<LoadedKey> {
    if (typeof name !== 'string' || !NAME.test(name)) throw invalid('invalid key name');
    const generation = this.generation;
    const read = ++this.reads;
    const record = await this.store.getTransitKey(name);
    if (!record) {
      this.cache.delete(name);
      throw new PortcullisError('transit.key-not-found', `no transit key named ${name}`);
    }
    return this.remember(record, generation, read);
  }

  private async key(name: string): Promise<LoadedKey> {
    const k = this.cache.get(name);
    if (k !== undefined && this.clock.now() - k.loadedAt < this.ttl) return k;
    return this.fresh(name);
  }

  /**
   * The version a value names, for an operation that began when `asOf` reads had begun: a
   * version newer than `k` is looked for in a read that began after that (a rotation on
   * another node whose event has not come, or was lost), and only then is it malformed.
   */
  private async versionFor(k: LoadedKey, version: number, what: string, asOf: number): Promise<LoadedVersion> {
    if (version > k.latest && k.read <= asOf) k = await this.reread(k.record.name, asOf);
    const v = k.versions[version];
    if (!v) throw new PortcullisError('transit.malformed-ciphertext', `the ${what} names key version ${version}, which does not exist`);
    if (version < k.record.minDecryptionVersion) {
      throw new PortcullisError('transit.version-retired', `key version ${version} is below minDecryptionVersion ${k.record.minDecryptionVersion}`);
    }
    return v;
  }

  /**
   * The key as a read that began after `asOf` has it. One such read per key at a time: a
   * caller joins the read in flight when it began after the caller's operation, else the
   * one queued behind it (shared by every caller waiting), so forged versions cost at most
   * one read in flight per key, and callers arriving together (a batch, concurrent
   * requests) share one read.
   */
  private reread(name: string, asOf: number): Promise<LoadedKey> {
    const pending = this.rereads.get(name);
    if (pending !== undefined) {
      if (pending.read > asOf) return pending.done;
      return (pending.next ??= pending.done.then(
        () => this.reread(name, asOf),
        () => this.reread(name, asOf),
      ));
    }
    const entry: { read: number; done: Promise<LoadedKey>; next?: Promise<LoadedKey> } = { read: this.reads + 1, done: this.fresh(name) };
    const clear = () => {
      if (this.rereads.get(name) === entry) this.rereads.delete(name);
    };
    entry.done.then(clear, clear);
    this.rereads.set(name, entry);
    return entry.done;
  }

  private encryptionVersion(k: LoadedKey, requested: number | undefined): LoadedVersion {
    if (requested === undefined) return k.versions[k.latest]!;
    if (!Number.isSafeInteger(requested) || requested < 1 || requested > k.latest) throw invalid(`version must be between 1 and ${k.latest}`);
    const floor = Math.max(k.record.minEncryptionVersion, k.record.minDecryptionVersion);
    if (requested < floor) throw new PortcullisError('transit.version-retired', `version ${requested} is below the minimum version ${floor} for new values`);
    return k.versions[requested]!;
  }

  private static expect(k: LoadedKey, aes: boolean, op: string): void {
    if ((k.type === 'aes256-gcm') !== aes) throw new PortcullisError('transit.wrong-key-type', `${op} needs ${aes ? 'an aes256-gcm' : 'an ed25519 or ecdsa-p256'} key; ${k.record.name} is ${k.type}`);
  }

  private async info(k: LoadedKey): Promise<TransitKeyInfo> {
    const name = k.record.name;
    const aes = k.type === 'aes256-gcm';
    const used = aes ? await this.usage.usage(k.record.versions.map((v) => sealContext(name, v.version))) : undefined;
    return {
      name,
      type: k.type,
      latestVersion: k.latest,
      minDecryptionVersion: k.record.minDecryptionVersion,
      minEncryptionVersion: k.record.minEncryptionVersion,
      autoRotate: k.record.autoRotate,
      encryptionLimit: this.usage.limit,
      versions: k.record.versions.map((v) => {
        const out: TransitKeyInfo['versions'][number] = { version: v.version, createdAt: v.createdAt };
        if (v.publicKey !== undefined) out.publicKey = v.publicKey;
        if (used !== undefined) out.encryptions = used.get(sealContext(name, v.version)) ?? 0;
        return out;
      }),
    };
  }

  // ---- encryption ----------------------------------------------------------------------

  private seal(v: LoadedVersion, plaintext: Uint8Array, aad: Uint8Array): string {
    return prefix(v.version) + gcmSeal(v.aes!, randomGcmIv(), plaintext, aad, true).toString('base64');
  }

  /**
   * The version to encrypt with, one invocation of it taken: the fast path is the
   * reserved block's increment and compare; past it, the slow path reserves, rotates or refuses.
   */
  private counted(k: LoadedKey, requested: number | undefined): LoadedVersion | Promise<LoadedVersion> {
    const v = this.encryptionVersion(k, requested);
    return v.gcm!.take() ? v : this.reserve(k.record.name, requested, v);
  }

  private async reserve(name: string, requested: number | undefined, v: LoadedVersion): Promise<LoadedVersion> {
    for (let attempt = 0; attempt < 5; attempt++) {
      if (await this.usage.acquire(v.gcm!)) return v;
      // NIST SP 800-38D §8.3: the version has had its 2^32 (or the configured fewer) invocations
      if (requested !== undefined) throw this.exhausted(name, v.version, 'it was asked for by version');
      const k = await this.fresh(name);
      if (k.latest === v.version) {
        if (!k.record.autoRotate) throw this.exhausted(name, v.version, 'the key does not rotate by itself (autoRotate is off)');
        const next = await newVersion(this.envelope, name, k.type, k.latest + 1, this.clock.now());
        if (await this.store.addTransitKeyVersion(name, next)) {
          this.opts.audit?.record({ time: this.clock.now(), type: 'transit.key-rotated', actor: 'system', reason: 'transit.key-exhausted', data: { key: name, version: next.version, exhaustedVersion: v.version } });
          this.opts.onRotated?.(name);
        }
        const after = await this.fresh(name);
        v = after.versions[after.latest]!;
      } else {
        v = k.versions[k.latest]!;
      }
    }
    throw new PortcullisError('conflict', `transit key ${name} is being rotated concurrently; retry`);
  }

  private exhausted(name: string, version: number, why: string): PortcullisError {
    const id = sealContext(name, version);
    if (!this.exhaustedAudited.has(id)) {
      this.exhaustedAudited.add(id);
      this.opts.audit?.record({ time: this.clock.now(), type: 'transit.key-exhausted', actor: 'system', reason: 'transit.key-exhausted', data: { key: name, version, limit: this.usage.limit } });
    }
    return new PortcullisError('transit.key-exhausted', `version ${version} of transit key ${name} has reached its limit of ${this.usage.limit} encryptions and ${why}; rotate the key`);
  }

  private async open(k: LoadedKey, ciphertext: string, aad: Uint8Array, asOf: number): Promise<Buffer> {
    const { version, bytes: raw } = parseValue(ciphertext);
    const v = await this.versionFor(k, version, 'ciphertext', asOf);
    if (raw.length < GCM_IV_BYTES + 16) throw new PortcullisError('transit.malformed-ciphertext', 'the ciphertext is too short');
    return gcmOpen(v.aes!, raw.subarray(0, GCM_IV_BYTES), raw.subarray(GCM_IV_BYTES), aad);
  }

  /**
   * Encrypts with the latest version (or `version`); `context` is authenticated associated data.
   *
   * @example
   * const ct = await transit.encrypt('customer-pii', ssn, { context: `customer:${id}` }); // 'pc:v1:…'
   */
  async encrypt(name: string, plaintext: Bytes, opts: { context?: Bytes; version?: number } = {}): Promise<string> {
    const k = await this.key(name);
    Transit.expect(k, true, 'encrypt');
    const p = bytes(plaintext, 'plaintext');
    const aad = bytes(opts.context, 'context');
    let v = this.counted(k, opts.version);
    if (v instanceof Promise) v = await v;
    return this.seal(v, p, aad);
  }

  /** Decrypts a `pc:v<n>:` ciphertext made with the same context. */
  async decrypt(name: string, ciphertext: string, opts: { context?: Bytes } = {}): Promise<Uint8Array> {
    return this.decryptAt(name, ciphertext, opts, this.reads);
  }

  private async decryptAt(name: string, ciphertext: string, opts: { context?: Bytes }, asOf: number): Promise<Uint8Array> {
    const k = await this.key(name);
    Transit.expect(k, true, 'decrypt');
    return this.open(k, ciphertext, bytes(opts.context, 'context'), asOf);
  }

  /** Re-encrypts a ciphertext with the latest version without returning the plaintext. */
  async rewrap(name: string, ciphertext: string, opts: { context?: Bytes; version?: number } = {}): Promise<string> {
    return this.rewrapAt(name, ciphertext, opts, this.reads);
  }

  private async rewrapAt(name: string, ciphertext: string, opts: { context?: Bytes; version?: number }, asOf: number): Promise<string> {
    const k = await this.key(name);
    Transit.expect(k, true, 'rewrap');
    const aad = bytes(opts.context, 'context');
    const plain = await this.open(k, ciphertext, aad, asOf);
    try {
      return this.seal(await this.counted(await this.key(name), opts.version), plain, aad);
    } finally {
      plain.fill(0);
    }
  }

  /**
   * A fresh data key for envelope encryption of large data: its plaintext (to use now and
   * forget) and the same key encrypted under the named key (to store beside the data).
   * `plaintext: false` returns the wrapped key only.
   */
  async generateDataKey(
    name: string,
    opts: { bits?: 128 | 256 | 512; context?: Bytes; plaintext?: boolean } = {},
  ): Promise<{ ciphertext: string; keyVersion: number; plaintext?: Uint8Array }> {
    const k = await this.key(name);
    Transit.expect(k, true, 'generateDataKey');
    const bits = opts.bits ?? 256;
    if (bits !== 128 && bits !== 256 && bits !== 512) throw invalid('bits must be 128, 256 or 512');
    const v = await this.counted(k, undefined);
    const dataKey = randomBytes(bits / 8);
    const ciphertext = this.seal(v, dataKey, bytes(opts.context, 'context'));
    if (opts.plaintext === false) {
      dataKey.fill(0);
      return { ciphertext, keyVersion: v.version };
    }
    return { ciphertext, keyVersion: v.version, plaintext: dataKey };
  }

  // ---- signatures and HMAC ---------------------------------------------------------------

  /** Signs with the latest version (Ed25519, or ECDSA P-256 SHA-256 in IEEE P1363 form as JWS uses): `pc:v<n>:<base64>`. */
  async sign(name: string, input: Bytes, opts: { version?: number } = {}): Promise<string> {
    const k = await this.key(name);
    Transit.expect(k, false, 'sign');
    const v = this.encryptionVersion(k, opts.version);
    const data = bytes(input, 'input');
    const sig = k.type === 'ed25519' ? cryptoSign(null, data, v.privateKey!) : cryptoSign('sha256', data, { key: v.privateKey!, dsaEncoding: 'ieee-p1363' });
    return formatValue(v.version, sig);
  }

  /** True when `signature` is valid over `input`; false when it does not verify. Malformed or retired values throw. */
  async verify(name: string, input: Bytes, signature: string): Promise<boolean> {
    return this.verifyAt(name, input, signature, this.reads);
  }

  private async verifyAt(name: string, input: Bytes, signature: string, asOf: number): Promise<boolean> {
    const k = await this.key(name);
    Transit.expect(k, false, 'verify');
    const { version, bytes: sig } = parseValue(signature, 'signature');
    const v = await this.versionFor(k, version, 'signature', asOf);
    const data = bytes(input, 'input');
    return k.type === 'ed25519' ? cryptoVerify(null, data, v.publicKey!, sig) : cryptoVerify('sha256', data, { key: v.publicKey!, dsaEncoding: 'ieee-p1363' }, sig);
  }

  /** HMAC with the version's HMAC subkey (any key type): `pc:v<n>:<base64>`. */
  async hmac(name: string, input: Bytes, opts: { version?: number; algorithm?: HmacAlgorithm } = {}): Promise<string> {
    const k = await this.key(name);
    const v = this.encryptionVersion(k, opts.version);
    return formatValue(v.version, mac(v, opts.algorithm, bytes(input, 'input')));
  }

  /** Constant-time check of an HMAC made by `hmac`. */
  async verifyHmac(name: string, input: Bytes, value: string, opts: { algorithm?: HmacAlgorithm } = {}): Promise<boolean> {
    return this.verifyHmacAt(name, input, value, opts, this.reads);
  }

  private async verifyHmacAt(name: string, input: Bytes, value: string, opts: { algorithm?: HmacAlgorithm }, asOf: number): Promise<boolean> {
    const k = await this.key(name);
    const { version, bytes: given } = parseValue(value, 'hmac');
    const v = await this.versionFor(k, version, 'hmac', asOf);
    const expected = mac(v, opts.algorithm, bytes(input, 'input'));
    return given.length === expected.length && timingSafeEqual(given, expected);
  }

  // ---- batch input -----------------------------------------------------------------------
  //
  // Each item succeeds or fails on its own (Vault's batch_input/batch_results); an unknown
  // key, a key of the wrong type or an oversize batch fails the whole call.

  /**
   * Fails as a batch of `op` on `name` fails as a whole: an unknown key
   * (`transit.key-not-found`) or one whose type does not fit the operation
   * (`transit.wrong-key-type`). For a caller that checks input before the call (the HTTP
   * layer's base64), so a single call or a batch whose every item it refused fails the same way.
   */
  async checkKey(name: string, op: TransitOperation): Promise<void> {
    const k = await this.key(name);
    const aes = KEY_KIND[op];
    if (aes !== undefined) Transit.expect(k, aes, op);
  }

  /** Runs `fn` on each item; every item's operation counts as begun with the batch (one re-read serves them all). */
  private async batch<I, T>(name: string, op: TransitOperation, items: readonly I[], fn: (item: I, asOf: number) => Promise<T>): Promise<BatchResult<T>[]> {
    if (!Array.isArray(items) || items.length === 0 || items.length > MAX_BATCH) throw invalid(`a batch has 1 to ${MAX_BATCH} items`);
    const asOf = this.reads;
    await this.checkKey(name, op);
    const out: BatchResult<T>[] = [];
    for (const item of items) {
      try {
        out.push({ ok: true, value: await fn(item, asOf) });
      } catch (e) {
        if (!(e instanceof PortcullisError) || e.status >= 500) throw e;
        out.push({ ok: false, code: e.code, message: e.message });
      }
    }
    return out;
  }

  encryptBatch(name: string, items: ReadonlyArray<{ plaintext: Bytes; context?: Bytes; version?: number }>): Promise<BatchResult<string>[]> {
    return this.batch(name, 'encrypt', items, (i) => this.encrypt(name, i.plaintext, i));
  }

  decryptBatch(name: string, items: ReadonlyArray<{ ciphertext: string; context?: Bytes }>): Promise<BatchResult<Uint8Array>[]> {
    return this.batch(name, 'decrypt', items, (i, asOf) => this.decryptAt(name, i.ciphertext, i, asOf));
  }

  rewrapBatch(name: string, items: ReadonlyArray<{ ciphertext: string; context?: Bytes; version?: number }>): Promise<BatchResult<string>[]> {
    return this.batch(name, 'rewrap', items, (i, asOf) => this.rewrapAt(name, i.ciphertext, i, asOf));
  }

  generateDataKeyBatch(name: string, items: ReadonlyArray<{ bits?: 128 | 256 | 512; context?: Bytes; plaintext?: boolean }>) {
    return this.batch(name, 'generateDataKey', items, (i) => this.generateDataKey(name, i));
  }

  signBatch(name: string, items: ReadonlyArray<{ input: Bytes; version?: number }>): Promise<BatchResult<string>[]> {
    return this.batch(name, 'sign', items, (i) => this.sign(name, i.input, i));
  }

  verifyBatch(name: string, items: ReadonlyArray<{ input: Bytes; signature: string }>): Promise<BatchResult<boolean>[]> {
    return this.batch(name, 'verify', items, (i, asOf) => this.verifyAt(name, i.input, i.signature, asOf));
  }

  hmacBatch(name: string, items: ReadonlyArray<{ input: Bytes; version?: number; algorithm?: HmacAlgorithm }>): Promise<BatchResult<string>[]> {
    return this.batch(name, 'hmac', items, (i) => this.hmac(name, i.input, i));
  }

  verifyHmacBatch(name: string, items: ReadonlyArray<{ input: Bytes; hmac: string; algorithm?: HmacAlgorithm }>): Promise<BatchResult<boolean>[]> {
    return this.batch(name, 'verifyHmac', items, (i, asOf) => this.verifyHmacAt(name, i.input, i.hmac, i, asOf));
  }
}


function mac(v: LoadedVersion, algorithm: HmacAlgorithm | undefined, data: Uint8Array): Buffer {
  const alg = algorithm ?? 'sha2-256';
  if (alg !== 'sha2-256' && alg !== 'sha2-512') throw invalid('algorithm must be sha2-256 or sha2-512');
  return createHmac(alg === 'sha2-256' ? 'sha256' : 'sha512', v.hmac).update(data).digest();
}


