/**
 * The in-memory revocation facts every gateway checks in O(1) per request:
 * revoked token ids (kept until their exp), per-app "revoked before" watermarks and
 * disabled apps. Filled from the store at start, updated by revocation events
 * (pub/sub) and re-filled by a periodic reconcile, so a lost event only delays.
 *
 * A reconcile's snapshot may be older than an event applied while it was being read;
 * it must not undo that event. Revoked ids and watermarks only ever grow, so adding the
 * snapshot to them is safe. An app's status goes both ways, so every status change and
 * every snapshot read is numbered in the order it happened (`readStarts`), each app
 * remembers the number its status came from, and a snapshot sets only the apps whose
 * status comes from something older than its read.
 */
import type { ErrorCode } from '../core/errors.js';

export interface RevocationSnapshot {
  tokens: Array<{ jti: string; expiresAt: number }>;
  apps: Array<{ clientId: string; tokensRevokedBefore: number; disabled: boolean }>;
  /** Per-user watermarks (users whose sessions were all ended, or who were disabled). */
  users?: Array<{ userId: string; tokensRevokedBefore: number }>;
}

export type RevocationEvent =
  | { type: 'token.revoked'; jti: string; expiresAt: number }
  | { type: 'app.tokens-revoked'; clientId: string; before: number }
  | { type: 'app.status'; clientId: string; disabled: boolean }
  | { type: 'user.tokens-revoked'; userId: string; before: number };

export class RevocationSet {
  private readonly tokens = new Map<string, number>();
  private readonly watermarks = new Map<string, number>();
  private readonly disabled = new Set<string>();
  private readonly userWatermarks = new Map<string, number>();
  private readonly listeners: Array<(e: RevocationEvent) => void> = [];
  /** For each app, the number of the change or snapshot read its status comes from. */
  private readonly statusFrom = new Map<string, number>();
  private sequence = 0;

  /**
   * Numbers a snapshot read: call it just before reading the store, and hand the number
   * to `reconcile` with what was read.
   */
  readStarts(): number {
    return ++this.sequence;
  }

  /** Called on every change that can revoke something, so caches can purge. */
  onRevoke(listener: (e: RevocationEvent) => void): void {
    this.listeners.push(listener);
  }

  /** Applies a change (an event): it is newer than every snapshot read begun before. */
  apply(e: RevocationEvent): void {
    this.change(e, ++this.sequence);
  }

  /** Applies a change that comes from the event or snapshot read numbered `from`. */
  private change(e: RevocationEvent, from: number): void {
    switch (e.type) {
      case 'token.revoked':
        this.tokens.set(e.jti, e.expiresAt);
        break;
      case 'app.tokens-revoked':
        if ((this.watermarks.get(e.clientId) ?? 0) < e.before) this.watermarks.set(e.clientId, e.before);
        break;
      case 'app.status':
        if (e.disabled) this.disabled.add(e.clientId);
        else this.disabled.delete(e.clientId);
        this.statusFrom.set(e.clientId, from);
        break;
      case 'user.tokens-revoked':
        if ((this.userWatermarks.get(e.userId) ?? 0) < e.before) this.userWatermarks.set(e.userId, e.before);
        break;
    }
    for (const l of this.listeners) l(e);
  }

  /**
   * Installs a snapshot from the store (reconcile) whose read `readStarts` numbered
   * `read`; emits events for what is new. A status change applied, or a snapshot read
   * begun, after `read` began is newer and is never undone.
   *
   * @example
   * const read = revocations.readStarts();
   * revocations.reconcile(await readSnapshot(), read);
   */
  reconcile(s: RevocationSnapshot, read: number): void {
    for (const t of s.tokens) if (!this.tokens.has(t.jti)) this.apply({ type: 'token.revoked', jti: t.jti, expiresAt: t.expiresAt });
    for (const a of s.apps) {
      if (a.tokensRevokedBefore > (this.watermarks.get(a.clientId) ?? 0)) this.apply({ type: 'app.tokens-revoked', clientId: a.clientId, before: a.tokensRevokedBefore });
      this.statusRead(a.clientId, a.disabled, read);
    }
    for (const u of s.users ?? []) {
      if (u.tokensRevokedBefore > (this.userWatermarks.get(u.userId) ?? 0)) this.apply({ type: 'user.tokens-revoked', userId: u.userId, before: u.tokensRevokedBefore });
    }
  }

  /**
   * Sets an app's status as the store holds it, read by the read `readStarts` numbered
   * `read`. A status change applied, or a read begun, after `read` began is newer and is
   * kept. An `app.status` event only says that the status changed: two changes made on two
   * nodes can arrive in either order, so each node reads the status itself.
   *
   * @example
   * const read = revocations.readStarts();
   * revocations.statusRead(clientId, (await store.getApp(clientId))?.status !== 'active', read);
   */
  statusRead(clientId: string, disabled: boolean, read: number): void {
    if ((this.statusFrom.get(clientId) ?? 0) > read) return;
    if (disabled === this.disabled.has(clientId)) this.statusFrom.set(clientId, read);
    else this.change({ type: 'app.status', clientId, disabled }, read);
  }

  /**
   * Why a token of this issuer's own is revoked, or undefined when it is not.
   * `iatMs` is the token's issued-at in epoch ms. `sub`, when given and not the client
   * id itself (a user's token), is checked against the user's watermark too.
   */
  check(jti: string, clientId: string, iatMs: number, sub?: string): ErrorCode | undefined {
    if (this.disabled.has(clientId)) return 'token.app-disabled';
    if (this.tokens.has(jti)) return 'token.revoked';
    const before = this.watermarks.get(clientId);
    if (before !== undefined && iatMs < before) return 'token.revoked';
    if (sub !== undefined && sub !== clientId) {
      const userBefore = this.userWatermarks.get(sub);
      if (userBefore !== undefined && iatMs < userBefore) return 'token.revoked';
    }
    return undefined;
  }

  /** Drops token ids whose tokens expired before `before` (now − the gateways' leeway: refused as expired anyway). */
  purge(before: number): void {
    for (const [jti, exp] of this.tokens) if (exp < before) this.tokens.delete(jti);
  }

  get size(): { tokens: number; apps: number } {
    return { tokens: this.tokens.size, apps: this.watermarks.size + this.disabled.size };
  }
}
