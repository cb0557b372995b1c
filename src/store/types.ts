/** The durable store every adapter implements: the union of the domain stores. */
import type { AppStore, TokenRevocationStore } from '../tokens/store.js';
import type { KeyStore, SettingsStore } from '../crypto/store.js';
import type { AuditStore } from '../audit/store.js';

export interface DurableStore extends AppStore, TokenRevocationStore, KeyStore, SettingsStore, AuditStore {
  readonly kind: 'sqlite' | 'postgres';
  /** Round-trip check for /readyz. */
  ping(): Promise<void>;
  close(): Promise<void>;
}
