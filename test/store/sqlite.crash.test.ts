/**
 * Durability: a writer killed with SIGKILL mid-stream loses no write it had
 * acknowledged (WAL + synchronous=FULL; the ack is printed only after the commit resolved).
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { openDurableStore } from '../../src/store/index.js';

test('sqlite crash: every write acknowledged before kill -9 is in the file after reopening', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'portcullis-crash-'));
  const file = join(dir, 'crash.db');
  try {
    const child = spawn(process.execPath, ['--import', 'tsx', join(import.meta.dirname, 'fixtures/sqlite-writer.ts'), 'crash', file], {
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    const acked: string[] = [];
    let buffered = '';
    const exited = new Promise<NodeJS.Signals | null>((resolve) => child.on('exit', (_code, signal) => resolve(signal)));
    await new Promise<void>((resolve, reject) => {
      child.on('exit', () => reject(new Error(`writer exited before it was killed, after ${acked.length} writes`)));
      child.stdout.on('data', (chunk: Buffer) => {
        buffered += chunk.toString();
        const lines = buffered.split('\n');
        buffered = lines.pop()!;
        acked.push(...lines);
        // Kill mid-stream, while writes are still in flight.
        if (acked.length >= 200 && child.signalCode === null) {
          child.kill('SIGKILL');
          resolve();
        }
      });
    });
    assert.equal(await exited, 'SIGKILL');
    acked.push(...buffered.split('\n').filter((l) => /^w\d+$/.test(l)));

    const s = await openDurableStore(`sqlite:${file}`);
    try {
      const stored = new Set((await s.listApps()).map((a) => a.clientId));
      const missing = acked.filter((id) => !stored.has(id));
      assert.deepEqual(missing, [], `acknowledged writes lost: ${missing.slice(0, 5).join(', ')}`);
      assert.ok(stored.size >= acked.length);
      // The store is usable after the crash: the WAL was recovered, not corrupted.
      await s.createApp({ ...(await s.getApp('w0'))!, clientId: 'after-crash' });
    } finally {
      await s.close();
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
