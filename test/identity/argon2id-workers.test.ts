/** Argon2id on bounded, low-priority worker threads: same hashes as the library, a cap on waiting work, threads below the event loop. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, readdirSync } from 'node:fs';
import { Algorithm, hash, verify } from '@node-rs/argon2';
import { Argon2idHasher, OWASP_ARGON2ID } from '../../src/identity/passwords/argon2id.js';
import { Argon2idPool } from '../../src/identity/passwords/argon2id-workers.js';
import { PasswordHashers } from '../../src/identity/passwords/hasher.js';

const rejectsWith = (p: Promise<unknown>, code: string) => assert.rejects(p, (e: { code?: string }) => e.code === code);
const PARAMS = { algorithm: Algorithm.Argon2id, ...OWASP_ARGON2ID };

test('the pool verifies hashes made by the library on the thread pool, and the library verifies the pool’s', async (t) => {
  const pool = new Argon2idPool({ threads: 2 });
  t.after(() => pool.close());
  const fromLibrary = await hash('plum tractor velvet orbit', PARAMS);
  assert.equal(await pool.verify(fromLibrary, 'plum tractor velvet orbit'), true);
  assert.equal(await pool.verify(fromLibrary, 'plum tractor velvet orbi'), false);
  const fromPool = await pool.hash('plum tractor velvet orbit', PARAMS);
  assert.match(fromPool, /^\$argon2id\$v=19\$m=19456,t=2,p=1\$/);
  assert.equal(await verify(fromPool, 'plum tractor velvet orbit'), true);
  await assert.rejects(pool.verify('$argon2id$v=19$m=19456,t=2,p=1$bm90IGEgaGFzaA$AAAA', 'x'));
});

test('admission control: beyond the running and queued hashes, a hash is refused with unavailable (not counted as a wrong password)', async (t) => {
  const pool = new Argon2idPool({ threads: 1, maxQueued: 1 });
  t.after(() => pool.close());
  const stored = await hash('plum tractor velvet orbit', PARAMS);
  const running = pool.verify(stored, 'plum tractor velvet orbit');
  const queued = pool.verify(stored, 'wrong');
  assert.deepEqual(pool.load, { queued: 1, running: 1 });
  const hasher = new Argon2idHasher({}, pool);
  await rejectsWith(hasher.verify(stored, 'plum tractor velvet orbit'), 'unavailable');
  await rejectsWith(new PasswordHashers(hasher).verify(stored, 'plum tractor velvet orbit'), 'unavailable');
  assert.equal(await running, true);
  assert.equal(await queued, false);
  assert.equal(await hasher.verify(stored, 'plum tractor velvet orbit'), true);
});

test('close: hashes still waiting fail with unavailable, later ones too', async () => {
  const pool = new Argon2idPool({ threads: 1 });
  const stored = await hash('plum tractor velvet orbit', PARAMS);
  const running = pool.verify(stored, 'plum tractor velvet orbit').catch(() => 'stopped');
  const waiting = rejectsWith(pool.verify(stored, 'plum tractor velvet orbit'), 'unavailable');
  await pool.close();
  await waiting;
  await rejectsWith(pool.verify(stored, 'x'), 'unavailable');
  assert.ok([true, 'stopped'].includes(await running));
});

test('the hashing threads run at nice 19 (Linux) while the event loop’s thread keeps its priority', { skip: process.platform !== 'linux' && 'per-thread nice values are a Linux feature' }, async (t) => {
  const nice = () =>
    readdirSync('/proc/self/task').map((tid) => {
      const stat = readFileSync(`/proc/self/task/${tid}/stat`, 'utf8');
      return { tid: Number(tid), nice: Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[16]) };
    });
  const before = new Set(nice().map((x) => x.tid));
  const pool = new Argon2idPool({ threads: 2 });
  t.after(() => pool.close());
  const stored = await hash('plum tractor velvet orbit', PARAMS);
  await Promise.all([pool.verify(stored, 'a'), pool.verify(stored, 'b')]);
  const added = nice().filter((x) => !before.has(x.tid) && x.nice === 19);
  // Each worker has a few threads of its own (V8 platform); at least the two running the hashes are niced.
  assert.ok(added.length >= 2, `threads at nice 19: ${added.length}`);
  assert.equal(nice().find((x) => x.tid === process.pid)!.nice, 0);
});
