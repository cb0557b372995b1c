/**
 * What encryption as a service (transit) needs from durable storage: named keys, each
 * with numbered versions whose material is sealed with the envelope (envelope.ts) under
 * the context `transit:<name>:v<version>`, so a database dump shows no key in clear and a
 * sealed version cannot be moved to another key or version.
 */
import type { PageRequest } from '../../core/page.js';

export type TransitKeyType = 'aes256-gcm' | 'ed25519' | 'ecdsa-p256';

export interface TransitKeyVersion {
  /** 1, 2, 3, … without gaps. */
  version: number;
  createdAt: number;
  /** Envelope ciphertext of the version's secret material (never stored in clear). */
  sealed: string;
  /** Public key of a signing key version (SPKI DER, base64); absent for aes256-gcm. */
  publicKey?: string;
}

export interface TransitKeyRecord {
  name: string;
  type: TransitKeyType;
  createdAt: number;
  /** Values made with an older version are refused (Vault's min_decryption_version). */
  minDecryptionVersion: number;
  /** Encryption and signing may not ask for an older version; 0 means no floor beyond minDecryptionVersion (Vault's min_encryption_version). New values use the latest version unless one is asked for. */
  minEncryptionVersion: number;
  /**
   * aes256-gcm: when the latest version reaches the AES-GCM invocation limit (crypto/gcm-usage.ts),
   * a new version is added and encryption goes on with it; when false, encryption is refused
   * (`transit.key-exhausted`) until someone rotates. Decryption is never affected.
   */
  autoRotate: boolean;
  /** Ascending by version. */
  versions: TransitKeyVersion[];
}

export type TransitKeyConfigPatch = Partial<Pick<TransitKeyRecord, 'minDecryptionVersion' | 'minEncryptionVersion' | 'autoRotate'>>;

export interface TransitStore {
  /** Stores a new key with its first version; throws PortcullisError('conflict') when the name exists. */
  createTransitKey(key: TransitKeyRecord): Promise<void>;
  getTransitKey(name: string): Promise<TransitKeyRecord | undefined>;
  /** Key names, sorted; one page of them when `page` is given (cursor: the last name of the previous page). */
  listTransitKeys(page?: PageRequest<string>): Promise<string[]>;
  /**
   * Appends `v` only if the key's latest version is `v.version - 1` (compare-and-set, so
   * two nodes rotating at once cannot both write the same version). Returns false when it
   * lost the race; throws PortcullisError('transit.key-not-found') when there is no such key.
   */
  addTransitKeyVersion(name: string, v: TransitKeyVersion): Promise<boolean>;
  /** Throws PortcullisError('transit.key-not-found') when there is no such key. */
  updateTransitKeyConfig(name: string, patch: TransitKeyConfigPatch): Promise<void>;
}
