/**
 * The capped claim (the worker's interval) must not read a subscription's whole backlog on
 * every tick: with a dead receiver's 20,000 due deliveries queued, each statement the claim
 * runs is checked with SQLite's EXPLAIN QUERY PLAN. Every access to the queue must seek on
 * the webhook id (index webhook_deliveries_webhook_due, or the ordered step of the loose
 * scan over webhook ids) with the claim's order given by the index, so it stops after the
 * rows it takes; a range over all due rows (webhook_deliveries_due) or a sort of them would
 * walk the backlog.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import BetterSqlite3 from 'better-sqlite3';
import { Kysely, SqliteDialect, type CompiledQuery } from 'kysely';
import { openDurableStore } from '../../src/store/index.js';
import { claimDueDeliveries } from '../../src/store/durable/webhooks.js';
import type { Database } from '../../src/store/durable/schema.js';
import type { DeliveryRecord } from '../../src/webhooks/store.js';

const dir = mkdtempSync(join(tmpdir(), 'portcullis-claim-'));
after(() => rmSync(dir, { recursive: true, force: true }));

const T0 = 1_700_000_000_000;
const BACKLOG = 20_000;

const row = (id: string, webhookId: string, due: number): DeliveryRecord => ({
  id, webhookId, eventId: `e-${id}`, eventType: 'app.disabled', payload: '{}', status: 'pending', attempts: 0,
  nextAttemptAt: due, leaseUntil: 0, leaseOwner: null, lastStatus: null, lastError: null, createdAt: due, updatedAt: due, deliveredAt: null,
});

test('a capped claim over a backlog of 20,000 due deliveries of one subscription reads the queue only by seeks on the subscription', async () => {
  const file = join(dir, 'claim.db');
  const store = await openDurableStore(`sqlite:${file}`);
  for (const id of ['wh_dead', 'wh_ok']) await store.insertWebhook({ id, url: `https://hooks.example/${id}`, events: ['*'], description: null, createdAt: T0 });
  const backlog = Array.from({ length: BACKLOG }, (_, i) => row(`d${String(i).padStart(5, '0')}`, 'wh_dead', T0 + i));
  for (let i = 0; i < backlog.length; i += 500) await store.insertDeliveries(backlog.slice(i, i + 500));
  await store.insertDeliveries([row('ok0', 'wh_ok', T0 + BACKLOG + 1), row('ok1', 'wh_ok', T0 + BACKLOG + 2)]);
  await store.close();

  const raw = new BetterSqlite3(file);
  const queries: CompiledQuery[] = [];
  const db = new Kysely<Database>({ dialect: new SqliteDialect({ database: raw }), log: (e) => void queries.push(e.query) });
  try {
    const now = T0 + 10 * BACKLOG;
    const got = await claimDueDeliveries(db, now, 20, 'n1', 60_000, { perWebhook: 5, held: new Map([['wh_dead', 2]]) });
    assert.deepEqual(
      got.map((r) => r.id),
      ['d00000', 'd00001', 'd00002', 'ok0', 'ok1'],
      'the dead receiver gets its 3 free places of 5, earliest first; the other subscription is claimed past its backlog',
    );

    const reads = queries.filter((q) => /^\s*(select|with)\b/i.test(q.sql));
    let seeks = 0;
    for (const q of reads) {
      const plan = (raw.prepare(`explain query plan ${q.sql}`).all(...(q.parameters as unknown[])) as { detail: string }[]).map((p) => p.detail);
      const text = plan.join(' | ');
      assert.doesNotMatch(text, /TEMP B-TREE/, `no sort of the queue's rows: ${q.sql}\n${text}`);
      for (const line of plan.filter((l) => /webhook_deliveries|\bd\b/.test(l) && /^(SCAN|SEARCH)/.test(l))) {
        const seekOnSubscription = /^SEARCH .* USING (COVERING )?INDEX webhook_deliveries_webhook_due \(webhook_id=\? AND status=\? AND next_attempt_at<\?\)$/.test(line);
        const nextSubscription = /^SEARCH .* USING COVERING INDEX \w+ \(webhook_id>\?\)$/.test(line);
        const firstSubscription = /^SCAN .* USING COVERING INDEX \w+$/.test(line) && /order by webhook_id limit 1/i.test(q.sql);
        if (seekOnSubscription) seeks++;
        assert.ok(seekOnSubscription || nextSubscription || firstSubscription, `a read of the queue that walks its due rows: ${line}\n${q.sql}`);
      }
    }
    assert.equal(seeks, 2, 'one bounded read of each subscription with free places');
  } finally {
    await db.destroy();
  }
});
