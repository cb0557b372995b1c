/**
 * Admin API schemas for app signing keys (RFC 9421) and webhooks. Named in
 * `schemas.ts` (requestSchemas/responseSchemas) so the OpenAPI document describes them.
 */
import { z } from 'zod';
import { SIGNATURE_ALGORITHMS } from '../../signatures/algorithms.js';
import type { SignatureAlgorithm } from '../../signatures/types.js';
import { WEBHOOK_EVENT_TYPES } from '../../webhooks/events.js';
import { nextAfter } from './page.js';

const isoTime = z.string().describe('RFC 3339 time');
const keyid = z.string().regex(/^[A-Za-z0-9._~:-]{1,100}$/, 'expected 1-100 letters, digits or . _ ~ : -').describe('The RFC 9421 keyid; generated when absent. Unique across the deployment.');
const signatureAlg = z.enum(SIGNATURE_ALGORITHMS as [SignatureAlgorithm, ...SignatureAlgorithm[]]);

export const CreateAppKeyRequest = z
  .union([
    z.strictObject({ type: z.literal('hmac').describe('Generate a 256-bit HMAC secret (hmac-sha256), returned once.'), keyid: keyid.optional() }),
    z.strictObject({
      jwk: z.looseObject({ kty: z.enum(['EC', 'OKP', 'RSA']) }).describe('A public JWK: Ed25519, EC P-256/P-384, or RSA (at least 2048 bits).'),
      alg: signatureAlg.optional().describe('For RSA keys: rsa-pss-sha512 (default) or rsa-v1_5-sha256. Other key types have one algorithm.'),
      keyid: keyid.optional(),
    }),
    z.strictObject({
      pem: z.string().max(16_384).describe('A PEM public key (-----BEGIN PUBLIC KEY-----).'),
      alg: signatureAlg.optional().describe('For RSA keys: rsa-pss-sha512 (default) or rsa-v1_5-sha256.'),
      keyid: keyid.optional(),
    }),
  ])
  .describe('Adds a signing key to an app: {type:"hmac"} generates a secret; {jwk} or {pem} registers a public key.');

export const AppKey = z.strictObject({
  keyid: z.string(),
  client_id: z.string(),
  type: z.enum(['hmac', 'public']),
  alg: signatureAlg,
  status: z.enum(['active', 'revoked']),
  public_jwk: z.record(z.string(), z.unknown()).nullable().describe('The registered public key; null for HMAC keys (their secret is never shown again).'),
  created_at: isoTime,
  revoked_at: isoTime.nullable(),
});
export const AppKeyCreated = z.strictObject({
  key: AppKey,
  secret: z.string().nullable().describe('HMAC keys: the base64url secret (32 bytes), shown once and never again. Null for public keys.'),
});
export const AppKeyResponse = z.strictObject({ key: AppKey });
export const AppKeyList = z.strictObject({ keys: z.array(AppKey), next_after: nextAfter });

export const CreateWebhookRequest = z
  .strictObject({
    url: z.string().min(1).max(2000).describe('http(s) URL the events are POSTed to, signed with RFC 9421 (tag "portcullis-webhook").'),
    events: z.array(z.string().max(100)).min(1).max(50).describe(`Event types: ${WEBHOOK_EVENT_TYPES.join(', ')}; or "*" for all.`),
    description: z.string().max(200).optional(),
  })
  .describe('Subscribes a URL to Portcullis events.');

export const Webhook = z.strictObject({
  id: z.string(),
  url: z.string(),
  events: z.array(z.string()),
  description: z.string().nullable(),
  created_at: isoTime,
  status: z.enum(['active', 'disabled']).describe('`disabled` after `webhooks.disableAfterAbandoned` abandoned deliveries in a row: no event is queued for it until it is enabled (`POST /v1/webhooks/{id}/enable`).'),
  disabled_at: isoTime.nullable().describe('When it was disabled; null while active.'),
  disabled_reason: z.string().nullable().describe('Why it was disabled; null while active.'),
  consecutive_abandoned: z.number().int().describe('Deliveries abandoned in a row since the last one delivered (or since it was enabled).'),
});
export const WebhookResponse = z.strictObject({ webhook: Webhook });
export const WebhookList = z.strictObject({ webhooks: z.array(Webhook), next_after: nextAfter });
export const WebhookRemoved = z.strictObject({ removed: z.literal(true), id: z.string() });

export const WebhookDelivery = z.strictObject({
  id: z.string(),
  event_id: z.string(),
  event_type: z.string(),
  status: z.enum(['pending', 'delivered', 'failed']),
  attempts: z.number().int(),
  next_attempt_at: isoTime.nullable().describe('When the next attempt is due; null once delivered or failed.'),
  last_status: z.number().int().nullable().describe('HTTP status of the last attempt; null when it got no answer.'),
  last_error: z.string().nullable(),
  created_at: isoTime,
  delivered_at: isoTime.nullable(),
});
export const WebhookDeliveryList = z.strictObject({ deliveries: z.array(WebhookDelivery), next_after: nextAfter });

export const signingRequestSchemas = { CreateAppKeyRequest, CreateWebhookRequest } as const;
export const signingResponseSchemas = { AppKey, AppKeyCreated, AppKeyResponse, AppKeyList, Webhook, WebhookResponse, WebhookList, WebhookRemoved, WebhookDelivery, WebhookDeliveryList } as const;
