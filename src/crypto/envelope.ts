/**
 * Envelope encryption of secrets at rest (AES-256-GCM).
 *
 * A data key (DEK) encrypts secrets; the master key wraps the DEK, and only the
 * wrapped DEK is stored (setting `envelope.dek.<id>`). Ciphertext format:
 * `pc1.<dekId>.<iv>.<ciphertext+tag>` (base64url), with the caller's context string
 * as additional authenticated data so a ciphertext cannot be moved to another row.
 *
 * Every seal draws a random 96-bit IV, so a DEK seals at most 2^32 values (NIST SP
 * 800-38D §8.3), counted in the store like every AES-GCM key (gcm-usage.ts). At the
 * limit the envelope moves to a successor DEK, the same for every node: the first node
 * to propose one for DEK `<id>` wins the setting `envelope.successor.<id>`. The master
 * key is not kept in memory after `open` (an online `keys rotate-master` would otherwise
 * leave a running node wrapping new DEKs under the old one), so a successor is wrapped
 * under a key derived from its predecessor DEK for that successor alone (HKDF-SHA-256, the
 * successor's id in `info`; `envelope.dek.<id>` = `<parentId>.h1.<iv>.<ct>`): the spent DEK
 * itself does no AES-GCM encryption past its limit, and every proposal (a losing one too)
 * is the one use of its own key. Any node that holds the predecessor unwraps the successor
 * when it first meets it; a successor stored before this rule (`<parentId>.<iv>.<ct>`,
 * wrapped under the predecessor itself) still opens. The switch is audited
 * (`keys.data-key-rotated`, the two data key ids) once in the cluster, by the node whose
 * proposal won, in the transaction that records the switch: a crash leaves both or
 * neither, and a switch whose audit event cannot be written is not made (the seal that
 * needed it fails closed).
 */
import { createCipheriv, createDecipheriv, hkdfSync, randomBytes } from 'node:crypto';
import { chainHash } from '../audit/trail.js';
import { systemClock, type Clock } from '../core/clock.js';
import { PortcullisError } from '../core/errors.js';
import { randomId } from '../core/ids.js';
import { GcmMeter, MemoryKeyUsageStore, type GcmKeyUsage } from './gcm-usage.js';
import type { AuditedSettingsStore, SealedValueStore, SettingsStore } from './store.js';

const PREFIX = 'pc1';
const CURRENT = 'envelope.current';
export const DEK_PREFIX = 'envelope.dek.';
const dekSetting = (id: string) => `${DEK_PREFIX}${id}`;
const successorSetting = (id: string) => `envelope.successor.${id}`;
const DEK_ID = /^[A-Za-z0-9_-]{1,32}$/;
/** Successor chains longer than this are refused (each link is one exhausted data key). */
const MAX_CHAIN = 1024;

/** What the envelope needs from the store: settings, and every wrapped data key at open. */
export type EnvelopeStore = SettingsStore & Pick<SealedValueStore, 'listSettings'>;

function seal(key: Buffer, plain: Buffer, aad: string): { iv: Buffer; ct: Buffer } {
  const iv = randomBytes(12);
  const c = createCipheriv('aes-256-gcm', key, iv);
  c.setAAD(Buffer.from(aad, 'utf8'));
  const ct = Buffer.concat([c.update(plain), c.final(), c.getAuthTag()]);
  return { iv, ct };
}

function open(key: Buffer, iv: Buffer, ct: Buffer, aad: string): Buffer {
  if (iv.length !== 12 || ct.length < 16) throw new PortcullisError('crypto.decrypt-failed', 'ciphertext is malformed');
  const d = createDecipheriv('aes-256-gcm', key, iv);
  d.setAAD(Buffer.from(aad, 'utf8'));
  d.setAuthTag(ct.subarray(ct.length - 16));
  try {
    return Buffer.concat([d.update(ct.subarray(0, ct.length - 16)), d.final()]);
  } catch (cause) {
    throw new PortcullisError('crypto.decrypt-failed', 'secret failed to decrypt (wrong master key or tampered data)', { cause });
  }
}

/** The tag of a successor wrapped under a key derived from its predecessor (`successorWrapKey`). */
const DERIVED = 'h1';

export interface WrappedDek {
  /** The predecessor DEK's id, for a successor; absent for a DEK under the master key. */
  parent?: string;
  /** Wrapped under `successorWrapKey(predecessor, id)`, not under the predecessor itself (a successor stored before that rule). */
  derived?: true;
  iv: Buffer;
  ct: Buffer;
}

/**
 * A wrapped data key: `<iv>.<ct>` under the master key, `<parentId>.h1.<iv>.<ct>` under a key
 * derived from its predecessor DEK, or `<parentId>.<iv>.<ct>` under the predecessor itself (stored before).
 */
export function parseWrappedDek(wrapped: string): WrappedDek | undefined {
  const parts = wrapped.split('.');
  if (parts.length === 2 && parts[0] && parts[1]) return { iv: Buffer.from(parts[0], 'base64url'), ct: Buffer.from(parts[1], 'base64url') };
  if (parts.length === 3 && DEK_ID.test(parts[0]!) && parts[1] && parts[2]) return { parent: parts[0]!, iv: Buffer.from(parts[1], 'base64url'), ct: Buffer.from(parts[2], 'base64url') };
  if (parts.length === 4 && DEK_ID.test(parts[0]!) && parts[1] === DERIVED && parts[2] && parts[3]) return { parent: parts[0]!, derived: true, iv: Buffer.from(parts[2], 'base64url'), ct: Buffer.from(parts[3], 'base64url') };
  return undefined;
}

/**
 * The key that wraps successor `id` of a data key: HKDF-SHA-256 of the predecessor, for this
 * successor id only. The predecessor has sealed its limit of values when a successor is made,
 * so the wrap must not be one more AES-GCM encryption under it (NIST SP 800-38D §8.3 counts
 * every invocation); each derived key encrypts one thing.
 */
function successorWrapKey(predecessor: Buffer, id: string): Buffer {
  return Buffer.from(hkdfSync('sha256', predecessor, Buffer.alloc(0), `portcullis envelope successor ${id}`, 32));
}

/** Unwraps data key `id` with `key` (the master key, or its predecessor DEK for a chained one). */
export function unwrapDek(key: Buffer, id: string, w: WrappedDek): Buffer {
  if (!w.derived) return open(key, w.iv, w.ct, dekSetting(id));
  const wrapKey = successorWrapKey(key, id);
  try {
    return open(wrapKey, w.iv, w.ct, dekSetting(id));
  } finally {
    wrapKey.fill(0);
  }
}

interface DataKey {
  id: string;
  key: Buffer;
  usage: GcmKeyUsage;
}

export class Envelope {
  private current: DataKey;
  private rotating: Promise<void> | undefined;

  private constructor(
    private readonly store: EnvelopeStore,
    private readonly deks: Map<string, Buffer>,
    currentId: string,
    private readonly meter: GcmMeter,
    private readonly audit: AuditedSettingsStore | undefined,
    private readonly clock: Clock,
  ) {
    this.current = { id: currentId, key: deks.get(currentId)!, usage: meter.counter(dekSetting(currentId)) };
  }

  /**
   * Loads (or, on first use, creates) the data keys from the settings store, unwrapping
   * them with the master key. Race-safe across nodes: the first node's data key wins.
   * `usage` counts seals per data key (default: in this process only); `audit` is where the
   * switches to a successor data key this node makes are recorded, each in the transaction
   * that makes it (the durable store; without it a switch is not audited). `alsoUnder`: a
   * second master key a data key may be wrapped under (an interrupted `keys rotate-master`
   * leaves some under the new key), tried when the first does not open it.
   */
  static async open(store: EnvelopeStore, masterKey: Buffer, opts: { usage?: GcmMeter; audit?: AuditedSettingsStore; clock?: Clock; alsoUnder?: Buffer } = {}): Promise<Envelope> {
    let currentId = await store.getSetting(CURRENT);
    if (!currentId) {
      const id = randomId(6);
      const dek = randomBytes(32);
      const w = seal(masterKey, dek, dekSetting(id));
      await store.setSettingIfAbsent(dekSetting(id), `${w.iv.toString('base64url')}.${w.ct.toString('base64url')}`);
      currentId = await store.setSettingIfAbsent(CURRENT, id);
    }
    const deks = new Map<string, Buffer>();
    for (const { name, value } of await store.listSettings(DEK_PREFIX)) {
      const w = parseWrappedDek(value);
      if (!w) throw new PortcullisError('crypto.decrypt-failed', 'wrapped data key is malformed');
      if (w.parent !== undefined) continue;
      const id = name.slice(DEK_PREFIX.length);
      try {
        deks.set(id, unwrapDek(masterKey, id, w));
      } catch (e) {
        if (opts.alsoUnder === undefined) throw e;
        deks.set(id, unwrapDek(opts.alsoUnder, id, w));
      }
    }
    if (!deks.has(currentId) && parseWrappedDek((await store.getSetting(dekSetting(currentId))) ?? '')?.parent === undefined) {
      throw new PortcullisError('crypto.decrypt-failed', 'the current data key is missing from the store');
    }
    const envelope = new Envelope(store, deks, currentId, opts.usage ?? new GcmMeter(new MemoryKeyUsageStore()), opts.audit, opts.clock ?? systemClock);
    await envelope.follow();
    return envelope;
  }

  /** Moves `current` along `envelope.successor.<id>` to the newest data key. */
  private async follow(): Promise<void> {
    let id = this.current.id;
    for (let hops = 0; ; hops++) {
      if (hops > MAX_CHAIN) throw new PortcullisError('crypto.decrypt-failed', 'the data key successor chain is too long');
      const next = await this.store.getSetting(successorSetting(id));
      if (next === undefined) break;
      id = next;
    }
    if (id !== this.current.id || !this.current.key) this.current = { id, key: await this.dataKey(id), usage: this.meter.counter(dekSetting(id)) };
  }

  /** Data key `id`: in memory, or a chained one read from the store and unwrapped with its predecessor. */
  private async dataKey(id: string, depth = 0): Promise<Buffer> {
    const known = this.deks.get(id);
    if (known) return known;
    const unknown = () => new PortcullisError('crypto.decrypt-failed', 'ciphertext names an unknown data key');
    if (!DEK_ID.test(id) || depth > MAX_CHAIN) throw unknown();
    const stored = await this.store.getSetting(dekSetting(id));
    const w = stored === undefined ? undefined : parseWrappedDek(stored);
    // a key wrapped under the master key after this node opened (a restart loads it)
    if (!w || w.parent === undefined) throw unknown();
    const key = unwrapDek(await this.dataKey(w.parent, depth + 1), id, w);
    this.deks.set(id, key);
    return key;
  }

  /** Encrypts `plain`, bound to `context` (e.g. `key:<kid>`). */
  async encrypt(plain: Buffer | string, context: string): Promise<string> {
    let dek = this.current;
    if (!dek.usage.take()) dek = await this.reserve();
    const { iv, ct } = seal(dek.key, Buffer.isBuffer(plain) ? plain : Buffer.from(plain, 'utf8'), context);
    return `${PREFIX}.${dek.id}.${iv.toString('base64url')}.${ct.toString('base64url')}`;
  }

  /** One seal of the current data key, moving to its successor when it has reached its limit. */
  private async reserve(): Promise<DataKey> {
    for (let attempt = 0; attempt < 5; attempt++) {
      const dek = this.current;
      if (await this.meter.acquire(dek.usage)) return dek;
      // NIST SP 800-38D §8.3: this data key has sealed its 2^32 (or the configured fewer) values
      await (this.rotating ??= this.rotate(dek).finally(() => (this.rotating = undefined)));
    }
    throw new PortcullisError('unavailable', 'the data key that seals secrets could not be replaced; retry');
  }

  private async rotate(from: DataKey): Promise<void> {
    if (this.current !== from) return;
    if ((await this.store.getSetting(successorSetting(from.id))) === undefined) {
      const id = randomId(6);
      const dek = randomBytes(32);
      // not under from.key: it has sealed its limit (successorWrapKey)
      const wrapKey = successorWrapKey(from.key, id);
      const w = seal(wrapKey, dek, dekSetting(id));
      wrapKey.fill(0);
      await this.store.setSettingIfAbsent(dekSetting(id), `${from.id}.${DERIVED}.${w.iv.toString('base64url')}.${w.ct.toString('base64url')}`);
      // the first proposal wins on every node; a losing one stays behind, wrapped and unused.
      // The winner's audit event is stored with its claim, so once in the cluster; ids only, never key material
      const event = { time: this.clock.now(), type: 'keys.data-key-rotated', actor: 'system', reason: 'gcm-limit', data: { from: from.id, to: id, limit: this.meter.limit } };
      let claimed: string;
      try {
        claimed = this.audit ? await this.audit.setSettingIfAbsentAudited(successorSetting(from.id), id, event, chainHash) : await this.store.setSettingIfAbsent(successorSetting(from.id), id);
      } catch (e) {
        dek.fill(0);
        throw e;
      }
      if (claimed === id) {
        this.deks.set(id, dek);
        await this.store.putSetting(CURRENT, id);
      } else dek.fill(0);
    }
    await this.follow();
  }

  /** Decrypts a value sealed by any node, with any of the data keys. */
  async decrypt(sealed: string, context: string): Promise<Buffer> {
    const parts = sealed.split('.');
    if (parts.length !== 4 || parts[0] !== PREFIX) throw new PortcullisError('crypto.decrypt-failed', 'ciphertext is malformed');
    const dek = await this.dataKey(parts[1]!);
    return open(dek, Buffer.from(parts[2]!, 'base64url'), Buffer.from(parts[3]!, 'base64url'), context);
  }

  async decryptString(sealed: string, context: string): Promise<string> {
    return (await this.decrypt(sealed, context)).toString('utf8');
  }
}
