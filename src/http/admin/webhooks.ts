/** Admin routes for webhooks: subscribe, list, show, enable (after it was disabled), remove, and the delivery log of one subscription. */
import type { Services } from '../../app.js';
import type { DeliveryRecord, WebhookRecord } from '../../webhooks/store.js';
import { createdPage, PageQuery } from './page.js';
import { defineRoute, type AdminRoute } from './route.js';
import { CreateWebhookRequest, WebhookDeliveryList, WebhookList, WebhookRemoved, WebhookResponse } from './signing-schemas.js';

const ACTOR = 'admin';
const iso = (t: number | null) => (t === null ? null : new Date(t).toISOString());

export function viewWebhook(w: WebhookRecord) {
  return {
    id: w.id,
    url: w.url,
    events: w.events,
    description: w.description,
    created_at: iso(w.createdAt)!,
    status: w.disabledAt === null ? ('active' as const) : ('disabled' as const),
    disabled_at: iso(w.disabledAt),
    disabled_reason: w.disabledReason,
    consecutive_abandoned: w.consecutiveAbandoned,
  };
}

export function viewDelivery(d: DeliveryRecord) {
  return {
    id: d.id,
    event_id: d.eventId,
    event_type: d.eventType,
    status: d.status,
    attempts: d.attempts,
    next_attempt_at: d.status === 'pending' ? iso(d.nextAttemptAt) : null,
    last_status: d.lastStatus,
    last_error: d.lastError,
    created_at: iso(d.createdAt)!,
    delivered_at: iso(d.deliveredAt),
  };
}

export function webhookRoutes(s: Services): AdminRoute[] {
  return [
    defineRoute({
      method: 'POST',
      path: '/v1/webhooks',
      operationId: 'createWebhook',
      summary: 'Subscribe a URL to Portcullis events (signed with RFC 9421 by a key in the JWKS).',
      tag: 'webhooks',
      auth: true,
      body: CreateWebhookRequest,
      responses: { 201: { description: 'Subscribed.', schema: WebhookResponse } },
      errors: [400],
      async handler({ body }) {
        const w = await s.webhooks.subscribe({ url: body.url, events: body.events, ...(body.description ? { description: body.description } : {}) }, ACTOR);
        await s.audit.flush();
        return { status: 201, body: { webhook: viewWebhook(w) } };
      },
    }),
    defineRoute({
      method: 'GET',
      path: '/v1/webhooks',
      operationId: 'listWebhooks',
      summary: 'List webhook subscriptions, a page at a time.',
      tag: 'webhooks',
      auth: true,
      query: PageQuery,
      responses: { 200: { description: 'A page of subscriptions, oldest first.', schema: WebhookList } },
      errors: [400],
      async handler({ query }) {
        const { rows, next_after } = await createdPage(query, (p) => s.webhooks.list(p), (w) => [w.createdAt, w.id]);
        return { body: { webhooks: rows.map(viewWebhook), next_after } };
      },
    }),
    defineRoute({
      method: 'GET',
      path: '/v1/webhooks/:id',
      operationId: 'getWebhook',
      summary: 'One webhook subscription, with whether it is disabled and why.',
      tag: 'webhooks',
      auth: true,
      responses: { 200: { description: 'The subscription.', schema: WebhookResponse } },
      errors: [404],
      async handler({ params }) {
        return { body: { webhook: viewWebhook(await s.webhooks.get(params.id!)) } };
      },
    }),
    defineRoute({
      method: 'POST',
      path: '/v1/webhooks/:id/enable',
      operationId: 'enableWebhook',
      summary: 'Enable a subscription disabled after abandoned deliveries (its count back to 0); events from now on are queued for it. An active one is left as it is.',
      tag: 'webhooks',
      auth: true,
      responses: { 200: { description: 'The subscription, active.', schema: WebhookResponse } },
      errors: [404],
      async handler({ params }) {
        const w = await s.webhooks.enable(params.id!, ACTOR);
        await s.audit.flush();
        return { body: { webhook: viewWebhook(w) } };
      },
    }),
    defineRoute({
      method: 'DELETE',
      path: '/v1/webhooks/:id',
      operationId: 'removeWebhook',
      summary: 'Remove a subscription; its pending deliveries are dropped.',
      tag: 'webhooks',
      auth: true,
      responses: { 200: { description: 'Removed.', schema: WebhookRemoved } },
      errors: [404],
      async handler({ params }) {
        await s.webhooks.remove(params.id!, ACTOR);
        await s.audit.flush();
        return { body: { removed: true, id: params.id! } };
      },
    }),
    defineRoute({
      method: 'GET',
      path: '/v1/webhooks/:id/deliveries',
      operationId: 'listWebhookDeliveries',
      summary: 'The delivery log of a subscription, a page at a time: status, attempts, last HTTP status and error, next attempt.',
      tag: 'webhooks',
      auth: true,
      query: PageQuery,
      responses: { 200: { description: 'A page of deliveries, newest first (`after` pages to older ones).', schema: WebhookDeliveryList } },
      errors: [400, 404],
      async handler({ params, query }) {
        const { rows, next_after } = await createdPage(query, (p) => s.webhooks.deliveries(params.id!, p), (d) => [d.createdAt, d.id]);
        return { body: { deliveries: rows.map(viewDelivery), next_after } };
      },
    }),
  ];
}
