/**
 * The audit key: authenticates the head of the audit hash chain (`audit_head`). The
 * chain hash (trail.ts) has no key, so anyone who can write to the database could rewrite
 * events, recompute every later hash and the recorded head, and verify passed. Every
 * append now also stores `mac = HMAC-SHA-256(key, "portcullis-audit-head\n" ‖ seq ‖ "\n" ‖ hash)`,
 * and verify requires it: a rewritten chain needs a new MAC, which only a holder of the key
 * can make.
 *
 * The key is 32 random bytes made once per deployment and kept in the setting
 * `audit.head-key`, sealed by the envelope (a data key wrapped by the master key), like
 * every other secret at rest: a database dump shows it only sealed, and `keys
 * rotate-master` rewraps the data key under it without touching it (the key, and so every
 * MAC already written, stays the same).
 *
 * Sealed with the key is the head the trail had when the key was made, if that head had
 * no MAC (a trail recorded before migration 0015, or a new store's empty trail): that head,
 * and only it, is accepted without a MAC (`legacy`), and the next append gives its
 * successor a MAC. Someone with the database alone can change neither the key nor that
 * legacy head.
 */
import { createHmac, createSecretKey, hkdfSync, randomBytes, timingSafeEqual, type KeyObject } from 'node:crypto';
import { PortcullisError } from '../core/errors.js';
import type { Logger } from '../core/logger.js';

/** The setting that holds the sealed audit key. */
export const HEAD_KEY_SETTING = 'audit.head-key';
/** The context (additional authenticated data) it is sealed under. */
export const HEAD_KEY_CONTEXT = 'audit-head-key';

const KEY_BYTES = 32;
/**
 * The sealed value's plaintext: a version byte (1: no legacy head, 2: with one), the key,
 * then for version 2 the legacy head's seq (8 bytes, big-endian) and hash (32 bytes).
 */
const SEALED_BYTES = 1 + KEY_BYTES + 8 + 32;
const HASH = /^[0-9a-f]{64}$/;
const MAC_LABEL = 'portcullis-audit-head\n';

/** A recorded head of the chain as the store reads it. */
export interface RecordedHead {
  seq: number;
  hash: string;
  /** Hex HMAC under the audit key; null when none was written. */
  mac: string | null;
}

/** What a thread needs to rebuild the key (structured-clone safe: a KeyObject never prints its bytes). */
export interface AuditHeadKeyMaterial {
  key: KeyObject;
  legacy: { seq: number; hash: string } | null;
}

/** What the audit key is sealed and opened with (the envelope). */
export interface HeadKeySealer {
  encrypt(plain: Buffer, context: string): Promise<string>;
  decrypt(sealed: string, context: string): Promise<Buffer>;
}

/** What making or loading the audit key needs from the store. */
export interface HeadKeyStore {
  getSetting(name: string): Promise<string | undefined>;
  setSettingIfAbsent(name: string, value: string): Promise<string>;
  auditHead(): Promise<RecordedHead | null>;
}

export class AuditHeadKey {
  private readonly key: KeyObject;
  /** The head accepted without a MAC: the trail's head when the key was made, if it had none. */
  readonly legacy: { seq: number; hash: string } | null;

  constructor(material: AuditHeadKeyMaterial) {
    if (material.key.type !== 'secret' || material.key.symmetricKeySize !== KEY_BYTES) throw new PortcullisError('internal', 'the audit key must be 32 bytes');
    this.key = material.key;
    this.legacy = material.legacy === null ? null : { seq: material.legacy.seq, hash: material.legacy.hash };
  }

  /** For the SQLite audit writer thread (posted, never logged). */
  get material(): AuditHeadKeyMaterial {
    return { key: this.key, legacy: this.legacy };
  }

  /**
   * The MAC of a head.
   *
   * @example
   * key.mac(42, 'a3f1…'); // hex HMAC-SHA-256 of "portcullis-audit-head\n42\na3f1…"
   */
  mac(seq: number, hash: string): string {
    return createHmac('sha256', this.key).update(`${MAC_LABEL}${seq}\n${hash}`).digest('hex');
  }

  /** Whether `head` was recorded by a holder of this key (its MAC verifies, compared in constant time), or is the legacy head. */
  authenticates(head: RecordedHead): boolean {
    if (head.mac === null) return this.legacy !== null && head.seq === this.legacy.seq && head.hash === this.legacy.hash;
    const want = Buffer.from(this.mac(head.seq, head.hash), 'hex');
    const got = Buffer.from(head.mac, 'hex');
    return got.length === want.length && timingSafeEqual(got, want);
  }

  /**
   * A key for another purpose, derived from this one with HKDF-SHA-256 (`purpose` is its
   * info): as hard to come by as the audit key (the master key opens it), and unrelated to
   * it and to the keys of other purposes.
   *
   * @example const anchorKey = headKey.derive('audit-anchor');
   */
  derive(purpose: string): KeyObject {
    const bytes = Buffer.from(hkdfSync('sha256', this.key, Buffer.alloc(0), `portcullis ${purpose}`, KEY_BYTES));
    try {
      return createSecretKey(bytes);
    } finally {
      bytes.fill(0);
    }
  }

  /** A random key for a store of its own (tests, a store without an envelope). */
  static generate(legacy: { seq: number; hash: string } | null = null): AuditHeadKey {
    const bytes = randomBytes(KEY_BYTES);
    try {
      return new AuditHeadKey({ key: createSecretKey(bytes), legacy });
    } finally {
      bytes.fill(0);
    }
  }
}

/**
 * The deployment's audit key: opened from `audit.head-key`, or, on first use, made and
 * sealed there (race-safe across nodes: the first node's key wins, every node opens it).
 * A new key takes the trail's current head as its legacy head when that head has no MAC.
 *
 * @example
 * const headKey = await openAuditHeadKey(store, envelope);
 * store.useAuditHeadKey(headKey);
 */
export async function openAuditHeadKey(store: HeadKeyStore, sealer: HeadKeySealer, logger?: Logger): Promise<AuditHeadKey> {
  let sealed = await store.getSetting(HEAD_KEY_SETTING);
  if (sealed === undefined) {
    let head: RecordedHead | null = null;
    try {
      head = await store.auditHead();
    } catch (e) {
      // a head edited so that it does not read back is no legacy head: verify reports it
      if (!(e instanceof PortcullisError) || e.code !== 'audit.chain-broken') throw e;
    }
    const legacy = head !== null && head.mac === null && HASH.test(head.hash) ? { seq: head.seq, hash: head.hash } : null;
    const plain = Buffer.alloc(legacy === null ? 1 + KEY_BYTES : SEALED_BYTES);
    plain[0] = legacy === null ? 1 : 2;
    randomBytes(KEY_BYTES).copy(plain, 1);
    if (legacy !== null) {
      plain.writeBigUInt64BE(BigInt(legacy.seq), 1 + KEY_BYTES);
      plain.write(legacy.hash, 1 + KEY_BYTES + 8, 'hex');
    }
    try {
      const mine = await sealer.encrypt(plain, HEAD_KEY_CONTEXT);
      sealed = await store.setSettingIfAbsent(HEAD_KEY_SETTING, mine);
      // the operator learns (outside the database) from which row on the chain's head is authenticated
      if (sealed === mine) logger?.info({ legacyHead: legacy?.seq ?? null }, 'made the audit key that authenticates the head of the audit chain');
    } finally {
      plain.fill(0);
    }
  }
  const plain = await sealer.decrypt(sealed, HEAD_KEY_CONTEXT);
  try {
    const withLegacy = plain[0] === 2 && plain.length === SEALED_BYTES;
    if (!withLegacy && !(plain[0] === 1 && plain.length === 1 + KEY_BYTES)) throw new PortcullisError('crypto.decrypt-failed', `the audit key (${HEAD_KEY_SETTING}) is malformed`);
    const legacy = withLegacy ? { seq: Number(plain.readBigUInt64BE(1 + KEY_BYTES)), hash: plain.toString('hex', 1 + KEY_BYTES + 8) } : null;
    return new AuditHeadKey({ key: createSecretKey(plain.subarray(1, 1 + KEY_BYTES)), legacy });
  } finally {
    plain.fill(0);
  }
}
