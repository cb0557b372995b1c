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

export type WebhookTag = typeof WEBHOOK_TAG | typeof OTP_TAG;

/** What a tag's messages are, for error messages. */
export const TAG_PURPOSE: Readonly<Record<WebhookTag, string>> = { [WEBHOOK_TAG]: 'an event webhook', [OTP_TAG]: 'a one-time-code message' };
