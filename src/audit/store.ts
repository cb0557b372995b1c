/** What the audit trail needs from durable storage: an append-only, hash-chained table. */
import type { AuditHeadKey, RecordedHead } from './head-key.js';

export interface AuditEventInput {
  /** Epoch ms. */
  time: number;
  /** e.g. `token.issued`, `token.revoked`, `app.created`, `gateway.denied`, `gateway.allowed`. */
  type: string;
  /** Who acted: `admin`, `client:<id>`, `anonymous`, `system`. */
  actor: string;
  clientId?: string | null;
  route?: string | null;
  /** Stable reason code (an ErrorCode for denials). */
  reason?: string | null;
  /** Extra non-secret facts. */
  data?: Record<string, unknown> | null;
}

export interface AuditRow extends AuditEventInput {
  seq: number;
  /** hex SHA-256 of the previous row's hash and this row's canonical content. */
  hash: string;
  prevHash: string;
}

export interface AuditStore {
  /**
   * Appends events in order, computing each row's `prevHash`/`hash` from the current
   * chain head inside one transaction (serialised across nodes). `chainHash(prevHash, row)`
   * is supplied by the audit module so every adapter hashes the same way. Rejects with
   * `store.unavailable` carrying `details.retryable: true` when the store as a whole cannot
   * take the write now (its lock not granted in time, a timeout, no connection): then no
   * event is at fault.
   */
  appendAudit(events: AuditEventInput[], chainHash: (prevHash: string, seq: number, e: AuditEventInput) => string): Promise<void>;
  /** Rows with seq > afterSeq in seq order, at most `limit`. */
  listAudit(afterSeq: number, limit: number): Promise<AuditRow[]>;
  /** The newest `limit` rows, oldest first. */
  tailAudit(limit: number): Promise<AuditRow[]>;
  /**
   * The head recorded with the newest append (its seq, hash and MAC), kept apart from the rows
   * so that rows removed from the end of the chain are detected; seq 0 and the genesis hash
   * for an empty trail (recorded when the store is created); null only when it was removed.
   */
  auditHead(): Promise<RecordedHead | null>;
  /**
   * Authenticates every head recorded from now on with `key` (its MAC, see head-key.ts), on
   * every connection and thread of this store that appends; set once, when the envelope that
   * opens the key is open. Until then heads are recorded without a MAC.
   */
  useAuditHeadKey(key: AuditHeadKey): void;
  /**
   * The kinds of object the store holds whose every creation is audited (`apps`, `users`, …),
   * empty when it holds none: an empty trail beside any of them was deleted, not new.
   */
  auditedObjects(): Promise<string[]>;
  /**
   * How many rows lie before the chain's first row (their seq zero, negative, or null where
   * the database lets a key be null): none that Portcullis wrote, and no walk from row 1
   * reaches them, though a listing of the newest rows shows them.
   */
  auditRowsBeforeChain(): Promise<number>;
}
