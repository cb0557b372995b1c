/** What app signing keys (RFC 9421 keys registered per app) need from durable storage. */
import type { JWK } from 'jose';
import type { PageRequest } from '../core/page.js';
import type { SignatureAlgorithm } from '../signatures/types.js';

export interface AppSigningKeyRecord {
  /** The RFC 9421 `keyid`; unique across the deployment. */
  keyid: string;
  clientId: string;
  /** `hmac`: a generated shared secret; `public`: a registered public key. */
  type: 'hmac' | 'public';
  alg: SignatureAlgorithm;
  /** HMAC secret sealed by the Envelope (context `app-signing-key:<keyid>`); null for public keys. */
  sealedSecret: string | null;
  /** The public key as a JWK; null for HMAC keys. */
  publicJwk: JWK | null;
  status: 'active' | 'revoked';
  createdAt: number;
  revokedAt: number | null;
}

export interface AppSigningKeyStore {
  /** Throws PortcullisError('conflict') when the keyid exists (for any app). */
  insertAppSigningKey(key: AppSigningKeyRecord): Promise<void>;
  getAppSigningKey(keyid: string): Promise<AppSigningKeyRecord | undefined>;
  /** Every key (of one app when `clientId` is given), oldest first (createdAt, then keyid); one page of them when `page` is given (cursor id: the keyid). */
  listAppSigningKeys(clientId?: string, page?: PageRequest): Promise<AppSigningKeyRecord[]>;
  /**
   * Marks an active key revoked, in one conditional update; returns the record after it and
   * whether this call changed it (`revoked`: false when the key was revoked already, by an
   * earlier or a concurrent call), or undefined when there is no such key. Idempotent: a
   * revoked key keeps its first revokedAt.
   */
  revokeAppSigningKey(keyid: string, at: number): Promise<{ key: AppSigningKeyRecord; revoked: boolean } | undefined>;
}
