/** The durable store every adapter implements: the union of the domain stores. */
import type { AppStore, TokenRevocationStore } from '../tokens/store.js';
import type { KeyStore, SettingsStore } from '../crypto/store.js';
import type { AuditStore } from '../audit/store.js';
import type { IdentityStore, LockoutStore } from '../identity/store.js';
import type { CertificateStore } from '../pki/store.js';
import type { MfaStore } from '../mfa/store.js';
import type { PasswordStore } from '../identity/passwords/store.js';
import type { AppSigningKeyStore } from '../tokens/app-keys-store.js';
import type { WebhookUrlStore } from '../webhooks/store.js';
import type { AuditedSettingsStore, KeyUsageStore, SealedValueStore } from '../crypto/store.js';
import type { TransitStore } from '../crypto/transit/store.js';
import type { PortcullisError } from '../core/errors.js';
import type { AppEncryptionKeyStore } from '../tokens/app-encryption-keys-store.js';

export interface DurableStore
  extends AppStore,
    TokenRevocationStore,
    KeyStore,
    SettingsStore,
    AuditedSettingsStore,
    AuditStore,
    CertificateStore,
    MfaStore,
    PasswordStore,
    AppSigningKeyStore,
    WebhookUrlStore,
    AppEncryptionKeyStore,
    TransitStore,
    SealedValueStore,
    KeyUsageStore,
    IdentityStore,
    LockoutStore {
  readonly kind: 'sqlite' | 'postgres';
  /**
   * Round-trip check for /readyz: fails `store.not-writable` while a storage fault (disk
   * full, read-only, I/O error) has not been cleared by a probe write, `store.unavailable`
   * when the store does not answer. Never writes.
   */
  ping(): Promise<void>;
  /**
   * While the store is taken for down (PostgreSQL refuses or does not answer this node),
   * why, as `ping` would fail (`store.unavailable`, `details.reason`; its message may be
   * shown): for a caller that met a failure of its own and must name the cause. Undefined
   * otherwise (and always on SQLite).
   */
  downReason(): PortcullisError | undefined;
  /** Calls `fn` when the store stops taking writes (`store.not-writable`) and when it takes them again (undefined). */
  onWriteFault(fn: (fault: PortcullisError | undefined) => void): void;
  close(): Promise<void>;
}
