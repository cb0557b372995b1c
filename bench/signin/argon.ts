/**
 * The baseline, in its own process: raw `@node-rs/argon2` verify of the bench password
 * against an Argon2id hash with the node's parameters (m=19456, t=2, p=1), CONCURRENCY
 * in flight on the libuv thread pool. Reads `run <ms>` lines on stdin and answers each
 * with one JSON line, counted as the sign-in driver counts.
 */
import { createInterface } from 'node:readline';
import { Algorithm, hash, verify } from '@node-rs/argon2';
import { OWASP_ARGON2ID } from '../../src/identity/passwords/argon2id.js';
import { PASSWORD } from './fixture.js';

const concurrency = Number(process.env['CONCURRENCY'] ?? 16);
const stored = await hash(PASSWORD, { algorithm: Algorithm.Argon2id, ...OWASP_ARGON2ID });

async function run(ms: number) {
  let ok = 0;
  let failed = 0;
  const t0 = performance.now();
  const end = t0 + ms;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (performance.now() < end) {
        if (await verify(stored, PASSWORD)) ok++;
        else failed++;
      }
    }),
  );
  const seconds = (performance.now() - t0) / 1000;
  return { ok, failed, seconds, perSecond: ok / seconds };
}

const lines = createInterface({ input: process.stdin });
process.stdout.write('READY\n');
for await (const line of lines) {
  const m = /^run (\d+)$/.exec(line.trim());
  if (!m) continue;
  process.stdout.write(`RESULT ${JSON.stringify(await run(Number(m[1])))}\n`);
}
