/** What per-app encryption keys (JWE keys registered or generated per app) need from durable storage. */
import type { JWK } from 'jose';
import type { PageRequest } from '../core/page.js';

export type AppEncryptionAlg = 'dir' | 'A256KW' | 'ECDH-ES+A256KW' | 'ECDH-ES' | 'RSA-OAEP-256';

export interface AppEncryptionKeyRecord {
  /** The JWE `kid`; unique across the deployment. */
  kid: string;
  clientId: string;
  /** `symmetric`: a generated AES-256 key (dir/A256KW); `public`: the app's registered public key (responses are encrypted to it). */
  type: 'symmetric' | 'public';
  alg: AppEncryptionAlg;
  /** The 32-byte key sealed by the Envelope (context `app-encryption-key:<kid>`); null for public keys. */
  sealedKey: string | null;
  /** The public key as a JWK (no private members); null for symmetric keys. */
  publicJwk: JWK | null;
  status: 'active' | 'revoked';
  createdAt: number;
  revokedAt: number | null;
}

export interface AppEncryptionKeyStore {
  /** Throws PortcullisError('conflict') when the kid exists (for any app). */
  insertAppEncryptionKey(key: AppEncryptionKeyRecord): Promise<void>;
  getAppEncryptionKey(kid: string): Promise<AppEncryptionKeyRecord | undefined>;
  /** Every key (of one app when `clientId` is given), oldest first (createdAt, then kid); one page of them when `page` is given (cursor id: the kid). */
  listAppEncryptionKeys(clientId?: string, page?: PageRequest): Promise<AppEncryptionKeyRecord[]>;
  /**
   * Marks an active key revoked, in one conditional update; returns the record after it and
   * whether this call changed it (`revoked`: false when the key was revoked already, by an
   * earlier or a concurrent call), or undefined when there is no such key. Idempotent: a
   * revoked key keeps its first revokedAt.
   */
  revokeAppEncryptionKey(kid: string, at: number): Promise<{ key: AppEncryptionKeyRecord; revoked: boolean } | undefined>;
}
