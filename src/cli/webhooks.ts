/** `portcullis webhooks …`: subscriptions to Portcullis events and their delivery log, through the admin API. */
import type { Command } from 'commander';
import { adminClient, withNodeOptions, type NodeOptions } from './context.js';
import { action, printJson, printLine, printList, printTable } from './output.js';

type JsonOpt = NodeOptions & { json?: boolean };

interface WebhookView {
  id: string;
  url: string;
  events: string[];
  description: string | null;
  created_at: string;
  status: 'active' | 'disabled';
  disabled_at: string | null;
  disabled_reason: string | null;
  consecutive_abandoned: number;
}

function printWebhook(w: WebhookView): void {
  printTable([
    ['id:', w.id],
    ['url:', w.url],
    ['events:', w.events.join(' ')],
    ['description:', w.description ?? '-'],
    ['status:', w.status],
    ['disabled at:', w.disabled_at ?? '-'],
    ['disabled because:', w.disabled_reason ?? '-'],
    ['abandoned in a row:', String(w.consecutive_abandoned)],
    ['created:', w.created_at],
  ]);
}

interface DeliveryView {
  id: string;
  event_type: string;
  status: string;
  attempts: number;
  last_status: number | null;
  last_error: string | null;
  next_attempt_at: string | null;
}

export function registerWebhooks(program: Command): void {
  const hooks = program.command('webhooks').description('webhook subscriptions (signed with RFC 9421) and their delivery log');
  const cmd = (name: string) => withNodeOptions(hooks.command(name)).option('--json', 'print JSON');

  cmd('add <url>')
    .description('subscribe a URL to events')
    .requiredOption('--event <type...>', 'event type to receive (repeatable), or "*" for all')
    .option('--description <text>', 'a note for operators')
    .action(
      action(async (url: string, o: JsonOpt & { event: string[]; description?: string }) => {
        const { webhook } = await adminClient(o).call<{ webhook: WebhookView }>('POST', '/v1/webhooks', { url, events: o.event, ...(o.description ? { description: o.description } : {}) });
        if (o.json) return printJson(webhook);
        printLine`${webhook.id}  ${webhook.url}  ${webhook.events.join(' ')}`;
      }),
    );

  cmd('list')
    .description('list subscriptions')
    .action(
      action(async (o: JsonOpt) => {
        const webhooks = await adminClient(o).listAll<WebhookView>('/v1/webhooks', 'webhooks');
        if (o.json) return printJson(webhooks);
        printList('no webhooks', ['ID', 'URL', 'EVENTS', 'STATUS'], webhooks.map((w) => [w.id, w.url, w.events.join(' '), w.status]));
      }),
    );

  cmd('show <id>')
    .description('show a subscription: whether it is disabled (after abandoned deliveries in a row) and why')
    .action(
      action(async (id: string, o: JsonOpt) => {
        const { webhook } = await adminClient(o).call<{ webhook: WebhookView }>('GET', `/v1/webhooks/${encodeURIComponent(id)}`);
        if (o.json) return printJson(webhook);
        printWebhook(webhook);
      }),
    );

  cmd('enable <id>')
    .description('enable a subscription disabled after abandoned deliveries; events from now on are delivered to it')
    .action(
      action(async (id: string, o: JsonOpt) => {
        const { webhook } = await adminClient(o).call<{ webhook: WebhookView }>('POST', `/v1/webhooks/${encodeURIComponent(id)}/enable`);
        if (o.json) return printJson(webhook);
        printLine`${webhook.id} enabled`;
      }),
    );

  cmd('remove <id>')
    .description('remove a subscription (its pending deliveries are dropped)')
    .action(
      action(async (id: string, o: JsonOpt) => {
        const r = await adminClient(o).call('DELETE', `/v1/webhooks/${encodeURIComponent(id)}`);
        if (o.json) return printJson(r);
        printLine`${id} removed`;
      }),
    );

  cmd('deliveries <id>')
    .description('the delivery log of a subscription, newest first')
    .option('--limit <n>', 'at most this many', '20')
    .option('--after <cursor>', 'the older ones after a page (the cursor the previous page printed)')
    .action(
      action(async (id: string, o: JsonOpt & { limit: string; after?: string }) => {
        const after = o.after !== undefined ? `&after=${encodeURIComponent(o.after)}` : '';
        const { deliveries, next_after } = await adminClient(o).call<{ deliveries: DeliveryView[]; next_after: string | null }>('GET', `/v1/webhooks/${encodeURIComponent(id)}/deliveries?limit=${encodeURIComponent(o.limit)}${after}`);
        if (o.json) return printJson(deliveries);
        printList('no deliveries', ['ID', 'EVENT', 'STATUS', 'ATTEMPTS', 'LAST', 'NEXT'], deliveries.map((d) => [d.id, d.event_type, d.status, String(d.attempts), d.last_error ?? String(d.last_status ?? '-'), d.next_attempt_at ?? '-']));
        if (next_after !== null) printLine`older: --after ${next_after}`;
      }),
    );
}
