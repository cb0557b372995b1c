/**
 * Webhook URLs sealed at rest. Many receivers put their credential in the URL itself
 * (a chat service's incoming-webhook path, a `?token=` query), so the URL is a secret:
 * the store keeps it sealed by the envelope (bound to the subscription's id), and only
 * the admin API that lists subscriptions and the delivery worker see it in clear. The
 * audit trail names a subscription's origin only (service.ts).
 *
 * Rows written before URLs were sealed are read as they are, and `sealStoredUrls`
 * rewrites them sealed (run once at start).
 */
import type { Envelope } from '../crypto/envelope.js';
import type { AttemptResult, DeliveryRecord, WebhookRecord, WebhookStore, WebhookUrlStore } from './store.js';

const SEALED = 'pc1.';
const context = (id: string): string => `webhook-url:${id}`;

/**
 * `store` as WebhookService and DeliveryWorker use it, with every subscription URL sealed
 * on its way in and opened on its way out.
 *
 * @example
 * const webhooks = new WebhookService(sealedWebhookStore(store, envelope), audit, clock, logger);
 */
export function sealedWebhookStore(store: WebhookStore, envelope: Pick<Envelope, 'encrypt' | 'decryptString'>): WebhookStore {
  const open = async (w: WebhookRecord): Promise<WebhookRecord> => (w.url.startsWith(SEALED) ? { ...w, url: await envelope.decryptString(w.url, context(w.id)) } : w);
  return {
    insertWebhook: async (w) => store.insertWebhook({ ...w, url: await envelope.encrypt(w.url, context(w.id)) }),
    getWebhook: async (id) => {
      const w = await store.getWebhook(id);
      return w && open(w);
    },
    listWebhooks: async (page) => Promise.all((await store.listWebhooks(page)).map(open)),
    // queueing needs no URL: one row that does not open must not hold back every subscriber's events
    listWebhookEvents: () => store.listWebhookEvents(),
    deleteWebhook: (id) => store.deleteWebhook(id),
    recordAbandoned: (id, limit, at, reason) => store.recordAbandoned(id, limit, at, reason),
    recordDelivered: (id) => store.recordDelivered(id),
    enableWebhook: (id) => store.enableWebhook(id),
    insertDeliveries: (d: DeliveryRecord[]) => store.insertDeliveries(d),
    claimDueDeliveries: (now, limit, owner, leaseMs, cap) => store.claimDueDeliveries(now, limit, owner, leaseMs, cap),
    recordAttempt: (id, owner, leaseUntil, result: AttemptResult) => store.recordAttempt(id, owner, leaseUntil, result),
    getDelivery: (id) => store.getDelivery(id),
    listDeliveries: (webhookId, limit, older) => store.listDeliveries(webhookId, limit, older),
    purgeDeliveries: (before) => store.purgeDeliveries(before),
  };
}

/**
 * Seals the URLs of subscriptions stored before URLs were sealed; returns how many.
 * Safe on several nodes at once: each writes the same URL, sealed.
 */
export async function sealStoredUrls(store: WebhookUrlStore, envelope: Pick<Envelope, 'encrypt'>): Promise<number> {
  let sealed = 0;
  for (const w of await store.listWebhooks()) {
    if (w.url.startsWith(SEALED)) continue;
    await store.setWebhookUrl(w.id, await envelope.encrypt(w.url, context(w.id)));
    sealed++;
  }
  return sealed;
}
