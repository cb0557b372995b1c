/**
 * At-least-once across a crash for an event no admin flush waits for: a user locked by the
 * brute-force limits is promised to `user.locked` subscribers, and the failure that engaged
 * the lock is answered (the sign-in refuses) as soon as the lock is set. The lock's audit
 * record, and the webhook delivery it raises, must be in the durable store by then: a node
 * killed (kill -9) right after that answer kept the lock (a locked account, no event)
 * while its subscribers were never told.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { openDurableStore } from '../../src/store/index.js';
import { randomRedisPrefix, redisUrl, serviceTest } from '../support/services.js';

async function lockThenCrash(ephemeral: string[]): Promise<void> {
  const child = spawn(process.execPath, ['--import', 'tsx', join(import.meta.dirname, 'fixtures/lock-then-crash.ts'), ...ephemeral], { stdio: ['ignore', 'pipe', 'inherit'] });
  const exited = new Promise<NodeJS.Signals | null>((resolve) => child.on('exit', (_code, signal) => resolve(signal)));
  let out = '';
  const lines = await new Promise<string[]>((resolve, reject) => {
    child.on('exit', () => reject(new Error(`the node exited before it was killed: ${out}`)));
    child.stdout.on('data', (chunk: Buffer) => {
      out += chunk.toString();
      if (/^locked .*\n/m.test(out) && child.signalCode === null) {
        child.kill('SIGKILL');
        resolve(out.split('\n'));
      }
    });
  });
  assert.equal(await exited, 'SIGKILL');
  const dir = lines.find((l) => l.startsWith('dir '))!.slice(4);
  const [, hookId, userId] = lines.find((l) => l.startsWith('locked '))!.split(' ');
  try {
    const store = await openDurableStore(`sqlite:${join(dir, 'portcullis.db')}`);
    try {
      const deliveries = await store.listDeliveries(hookId!, 10);
      assert.deepEqual(deliveries.map((d) => d.eventType), ['user.locked'], 'the subscriber is still owed the event');
      assert.equal((JSON.parse(deliveries[0]!.payload) as { data: { userId: string } }).data.userId, userId);
      const rows = await store.tailAudit(50);
      assert.ok(rows.some((r) => r.type === 'user.locked' && (r.data as { userId?: string }).userId === userId), 'the lock is audited');
    } finally {
      await store.close();
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

test('crash right after a lock is answered: its user.locked delivery and audit record are on disk (memory ephemeral store, counters written through to SQLite)', () => lockThenCrash(['memory']));

// with Redis the lock is set in Redis alone, so the failure is answered right after the lock's listeners ran
serviceTest('redis', 'crash right after a lock is answered: its user.locked delivery and audit record are on disk (Redis ephemeral store)', () => lockThenCrash([redisUrl(), randomRedisPrefix()]));
