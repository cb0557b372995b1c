/**
 * The RFC 9421 `tag` of each kind of request Portcullis POSTs to a receiver, so one
 * kind cannot be passed off as the other (RFC 9421 §7.2.7): both are signed with the
 * identity plane's key over the same components, and only the tag says what the
 * signer meant. Plain constants, shared by the signers (node) and the SDK (web).
 */

/** Event webhooks (`webhooks/worker.ts`). */
export const WEBHOOK_TAG = 'portcullis-webhook';
/** One-time codes POSTed to the SMS (or other) gateway by the OTP `webhook` sender. */
export const OTP_TAG = 'portcullis-otp';

/**
 * The header that carries an event delivery's id (`dlv_…`), the same on every retry. The
 * event signature covers it (after the components every message covers), so a receiver
 * may de-duplicate on it; the SDK requires that coverage on every event webhook, and on
 * any other message that carries the header.
 */
export const DELIVERY_HEADER = 'portcullis-delivery';

export type WebhookTag = typeof WEBHOOK_TAG | typeof OTP_TAG;

/** What a tag's messages are, for error messages. */
export const TAG_PURPOSE: Readonly<Record<WebhookTag, string>> = { [WEBHOOK_TAG]: 'an event webhook', [OTP_TAG]: 'a one-time-code message' };
