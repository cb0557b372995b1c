/** What the key ring and envelope encryption need from durable storage. */

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
