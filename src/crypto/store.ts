/** What the key ring and envelope encryption need from durable storage. */
import type { AuditEventInput } from '../audit/store.js';

export type KeyUse = 'sig' | 'enc';

/**
 * A key in the key ring. Lifecycle for signing keys:
 * `next` (published, not signing) → `active` (signing) → `retired` (published until
 * `expiresAt`, when every token it signed has expired) → removed from the JWKS.
 */
export interface StoredKey {
  kid: string;
  use: KeyUse;
  alg: string;
  /** Public JWK as JSON text. */
  publicJwk: string;
  /** Private JWK, encrypted at rest (envelope ciphertext). */
  privateJwk: string;
  status: 'next' | 'active' | 'retired';
  createdAt: number;
  /** When it starts (or started) signing. */
  activatesAt: number;
  /** When it stops (or stopped) signing; null while open-ended. */
  retiresAt: number | null;
  /** When it leaves the JWKS (retiresAt + max token lifetime); null while active. */
  expiresAt: number | null;
}

export type KeyPatch = Partial<Pick<StoredKey, 'status' | 'activatesAt' | 'retiresAt' | 'expiresAt' | 'privateJwk'>>;

export interface KeyStore {
  insertKey(key: StoredKey): Promise<void>;
  listKeys(): Promise<StoredKey[]>;
  updateKey(kid: string, patch: KeyPatch): Promise<void>;
  deleteKey(kid: string): Promise<void>;
}

/** Small named values (wrapped data keys, admin credential verifier, schema facts). */
export interface SettingsStore {
  getSetting(name: string): Promise<string | undefined>;
  /** Sets only when absent; returns the value now stored (race-safe across nodes). */
  setSettingIfAbsent(name: string, value: string): Promise<string>;
  putSetting(name: string, value: string): Promise<void>;
}

/**
 * A setting whose claim is a security change (the switch to a successor data key): the
 * setting and its audit event are written in one transaction, so a crash leaves both or
 * neither, never a change without its record.
 */
export interface AuditedSettingsStore {
  /**
   * As `setSettingIfAbsent`; when `value` is the one this call stored, `event` is appended to
   * the audit trail (hashed with `chainHash`, as AuditStore.appendAudit does) in the same
   * transaction. A caller whose value lost appends nothing. Rejects when either write fails,
   * and then neither is stored.
   */
  setSettingIfAbsentAudited(name: string, value: string, event: AuditEventInput, chainHash: (prevHash: string, seq: number, e: AuditEventInput) => string): Promise<string>;
}

/** A sealed (envelope) value found in the store, for master-key rotation and its checks. */
export interface SealedValueRef {
  table: string;
  column: string;
  /** The data key id the value names (`pc1.<dekId>.…`). */
  dekId: string;
}

/** What `keys rotate-master` needs beyond SettingsStore: the settings under a prefix, and where sealed values sit. */
export interface SealedValueStore {
  /** Every setting whose name starts with `prefix`, by name. */
  listSettings(prefix: string): Promise<Array<{ name: string; value: string }>>;
  /** Every envelope ciphertext (`pc1.<dekId>.…`) in any text column of any table, by the data key it names. */
  scanSealedValues(): Promise<SealedValueRef[]>;
}

/**
 * Durable invocation counts of AES-GCM keys (gcm-usage.ts), reserved in blocks. Keys are
 * named by the caller (`transit:<name>:v<n>`, `envelope.dek.<id>`, `app-encryption-key:<kid>`).
 */
export interface KeyUsageStore {
  /**
   * Atomically adds `block` to the count of `keyId` (a new key starts at 0) unless the
   * count has reached `limit`; returns the count before the addition, or undefined when
   * it had reached `limit` (nothing is added then). Race-safe across nodes: concurrent
   * callers get disjoint ranges [returned, returned + block).
   */
  reserveKeyUsage(keyId: string, block: number, limit: number): Promise<number | undefined>;
  /** The counts of `keyIds` that have one (a key never reserved is absent). */
  readKeyUsage(keyIds: readonly string[]): Promise<Map<string, number>>;
}
