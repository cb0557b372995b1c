/**
 * The Portcullis events a webhook can subscribe to, and which audit records raise
 * them. The audit trail is the one place every security-relevant change is
 * recorded, so webhooks follow it rather than each service calling them.
 */
import type { AuditEventInput } from '../audit/store.js';

/** Audit record type → webhook event type. */
export const FROM_AUDIT: Readonly<Record<string, string>> = Object.freeze({
  'token.revoked': 'token.revoked',
  'app.tokens-revoked': 'app.tokens-revoked',
  'app.disabled': 'app.disabled',
  'app.signing-key-revoked': 'app.signing-key-revoked',
  'keys.rotated': 'key.rotated',
  'user.disabled': 'user.disabled',
  // Ending every session of a user moves the user's watermark: every token of the user is revoked.
  'user.sessions-ended': 'user.tokens-revoked',
  'user.locked': 'user.locked',
  // How the account is protected changed: a deployment tells the user, who may not have made
  // the change (NIST SP 800-63B §6.1.2, OWASP: notify of a factor bound or removed).
  'user.factor-added': 'user.factor-added',
  'user.factor-removed': 'user.factor-removed',
  // Recorded once the new set is stored (user.recovery-codes-generated is recorded before, audit first).
  'user.recovery-codes-replaced': 'user.recovery-codes-generated',
  // A recovery code signed someone in: the user learns of it (and of the codes left) even when it was not them.
  'user.recovery-code-used': 'user.recovery-code-used',
  'user.password-set': 'user.password-set',
  'user.mfa-reset': 'user.mfa-reset',
  'certificate.revoked': 'certificate.revoked',
});

export const WEBHOOK_EVENT_TYPES: readonly string[] = Object.freeze([...new Set(Object.values(FROM_AUDIT))].sort());

/** The body of a webhook request (JSON). */
export interface WebhookEvent {
  /** Unique per event; the same on every attempt and every subscription (receivers deduplicate on it). */
  id: string;
  type: string;
  /** RFC 3339. */
  time: string;
  client_id: string | null;
  actor: string;
  data: Record<string, unknown>;
}

/** The webhook event type an audit record raises, or undefined (most records raise none). */
export function webhookTypeOf(e: AuditEventInput): string | undefined {
  return Object.prototype.hasOwnProperty.call(FROM_AUDIT, e.type) ? FROM_AUDIT[e.type] : undefined;
}

export function toWebhookEvent(id: string, type: string, e: AuditEventInput): WebhookEvent {
  return { id, type, time: new Date(e.time).toISOString(), client_id: e.clientId ?? null, actor: e.actor, data: e.data ?? {} };
}
