/**
 * The durable sign-in limit rows (`lockout_state`, kept by a node on `ephemeral: memory`)
 * hold user ids, client addresses and keyed digests of typed names, and are kept only while
 * their window, delay or lock lasts. A node on Redis never reads them: the rows an earlier
 * period on memory left are deleted when it starts, in force or not, instead of lingering
 * for ever. Every node, Redis or memory, deletes the rows that are over periodically.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { appendFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { startPortcullis, type Portcullis } from '../../src/app.js';
import { silentLogger } from '../../src/core/logger.js';
import type { LockoutRecord } from '../../src/identity/store.js';
import { CONFIG_FILE, initPortcullis } from '../../src/init.js';
import { tempDir, testConfig } from '../support/portcullis.js';
import { createTempPostgresDatabase, randomRedisPrefix, redisUrl, serviceTest } from '../support/services.js';

const HOUR = 3_600_000;
const redis = (): string => `ephemeral: ${redisUrl()}\nephemeralPrefix: "${randomRedisPrefix()}"\n`;

function start(dir: string, purgeIntervalMs?: number): Promise<Portcullis> {
  return startPortcullis({ configFile: join(dir, CONFIG_FILE), ephemeralPorts: true, logger: silentLogger, env: {}, ...(purgeIntervalMs !== undefined ? { purgeIntervalMs } : {}) });
}

/** A lock in force, a count in its window (a typed name's digest), and a row whose window, delay and lock are all over. */
function rows(now: number): { inForce: LockoutRecord[]; over: LockoutRecord } {
  return {
    inForce: [
      { counter: 'auth:account', subject: 'usr_victim', failures: 10, windowEndsAt: now + HOUR, delayedUntil: 0, lockedUntil: now + HOUR },
      { counter: 'auth:account', subject: 'email:hmac-sha256:c29tZS1kaWdlc3Q', failures: 2, windowEndsAt: now + HOUR, delayedUntil: now + 1_000, lockedUntil: 0 },
    ],
    over: { counter: 'auth:ip', subject: '192.0.2.7', failures: 50, windowEndsAt: now - 2_000, delayedUntil: now - 3_000, lockedUntil: now - 1_000 },
  };
}

async function put(node: Portcullis, records: LockoutRecord[]): Promise<void> {
  for (const r of records) await node.services.store.putLockoutState(r, Date.now());
}

async function subjects(node: Portcullis): Promise<string[]> {
  return (await node.services.store.listLockoutStates(0)).map((r) => r.subject).sort();
}

/** A node on memory keeps rows; restarted on Redis, it deletes all of them at start. */
async function memoryThenRedis(store: string): Promise<void> {
  const dir = tempDir();
  try {
    await initPortcullis(dir, { config: testConfig(store) });
    const memory = await start(dir);
    const { inForce, over } = rows(Date.now());
    try {
      await put(memory, [...inForce, over]);
      assert.equal((await subjects(memory)).length, 3);
    } finally {
      await memory.close();
    }
    appendFileSync(join(dir, CONFIG_FILE), redis());
    const onRedis = await start(dir);
    try {
      assert.deepEqual(await subjects(onRedis), []);
    } finally {
      await onRedis.close();
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** The periodic purge deletes the rows that are over, on a node of either kind, and keeps those in force. */
async function periodicPurge(config: string): Promise<void> {
  const dir = tempDir();
  try {
    await initPortcullis(dir, { config: testConfig(config) });
    const node = await start(dir, 50);
    try {
      const { inForce, over } = rows(Date.now());
      await put(node, [...inForce, over]);
      const deadline = Date.now() + 5_000;
      while ((await subjects(node)).includes(over.subject) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 25));
      assert.deepEqual(await subjects(node), inForce.map((r) => r.subject).sort());
    } finally {
      await node.close();
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

await serviceTest('redis', 'a node restarted on Redis deletes every lockout_state row an ephemeral: memory period left, in force or not (SQLite)', async () => {
  await memoryThenRedis('');
});

await serviceTest(['postgres', 'redis'], 'a node restarted on Redis deletes every lockout_state row an ephemeral: memory period left, in force or not (PostgreSQL)', async () => {
  const db = await createTempPostgresDatabase();
  try {
    await memoryThenRedis(`store: ${db.url}\n`);
  } finally {
    await db.drop();
  }
});

await serviceTest('redis', 'a node on Redis purges the lockout_state rows that are over periodically, and keeps those in force (SQLite)', async () => {
  await periodicPurge(redis());
});

test('a node on ephemeral: memory purges the lockout_state rows that are over periodically, and keeps those in force (SQLite)', async () => {
  await periodicPurge('');
});

await serviceTest(['postgres', 'redis'], 'a node on Redis purges the lockout_state rows that are over periodically (PostgreSQL)', async () => {
  const db = await createTempPostgresDatabase();
  try {
    await periodicPurge(`store: ${db.url}\n${redis()}`);
  } finally {
    await db.drop();
  }
});
