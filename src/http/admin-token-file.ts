/**
 * The admin token in force on a node: `adminTokenFile`, re-read when it changes (its
 * inode, size, modification or change time: a rename over it, a Kubernetes Secret's
 * symlink swap, an edit in place), as `tls.mode: files` re-reads its certificate. Replacing
 * the file revokes the old token within one check interval, without a restart, and is
 * audited (`admin.token-replaced`, actor `system`, data: the configured file, never the
 * token). A changed file that no longer holds a usable token (removed, readable by group
 * or others, no bearer token) fails closed: no token is accepted until it holds one again
 * (`admin.token-refused`, `reason` the error code), since the old one is what the operator
 * meant to revoke.
 */
import { hash } from 'node:crypto';
import { statSync } from 'node:fs';
import type { AuditSink } from '../audit/sink.js';
import type { Clock } from '../core/clock.js';
import { PortcullisError } from '../core/errors.js';
import type { Logger } from '../core/logger.js';
import { adminTokenChecker, readAdminToken } from './admin-auth.js';

/** How often the file is looked at unless a node says otherwise. */
export const ADMIN_TOKEN_CHECK_MS = 5_000;

export interface AdminTokenFileOptions {
  /** Resolved path of the file. */
  path: string;
  /** The path as configured (`./admin.token`), for events and logs. */
  shown: string;
  audit: AuditSink;
  clock: Clock;
  logger: Logger;
  /** Default ADMIN_TOKEN_CHECK_MS. */
  checkIntervalMs?: number;
}

function stamp(path: string): string {
  try {
    const st = statSync(path);
    return `${st.ino}:${st.size}:${st.mtimeMs}:${st.ctimeMs}:${st.mode}`;
  } catch {
    return 'unreadable';
  }
}

export class AdminTokenFile {
  readonly checkIntervalMs: number;
  private stamp: string;
  /** SHA-256 of the token in force, to tell a new token from the same one written again; null when none is. */
  private digest: string | null;
  private checker: ((authorization: string | undefined) => boolean) | null;

  /** Reads the file; throws as `readAdminToken` does (a node does not start without a token). */
  constructor(private readonly o: AdminTokenFileOptions) {
    this.checkIntervalMs = o.checkIntervalMs ?? ADMIN_TOKEN_CHECK_MS;
    this.stamp = stamp(o.path);
    const token = readAdminToken(o.path);
    this.digest = hash('sha256', token, 'hex');
    this.checker = adminTokenChecker(token);
  }

  /** True when `authorization` carries the token in force (constant time); always false while none is. */
  accepts(authorization: string | undefined): boolean {
    return this.checker !== null && this.checker(authorization);
  }

  /** Re-reads the file when it changed; true when another token (or none) is now in force. */
  check(): boolean {
    const now = stamp(this.o.path);
    if (now === this.stamp) return false;
    this.stamp = now;
    let token: string;
    try {
      token = readAdminToken(this.o.path);
    } catch (e) {
      const code = e instanceof PortcullisError ? e.code : 'config.invalid';
      if (this.checker === null) return false;
      this.checker = null;
      this.digest = null;
      this.o.logger.error({ err: e, file: this.o.shown }, 'the admin token file changed and holds no usable token: no admin token is accepted until it does');
      this.o.audit.record({ time: this.o.clock.now(), type: 'admin.token-refused', actor: 'system', reason: code, data: { file: this.o.shown } });
      return true;
    }
    const digest = hash('sha256', token, 'hex');
    if (digest === this.digest) return false;
    this.digest = digest;
    this.checker = adminTokenChecker(token);
    this.o.logger.warn({ file: this.o.shown }, 'the admin token file holds a new token: the previous one is no longer accepted');
    this.o.audit.record({ time: this.o.clock.now(), type: 'admin.token-replaced', actor: 'system', data: { file: this.o.shown } });
    return true;
  }
}
