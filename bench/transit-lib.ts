/**
 * Transit as a library call against raw AES-256-GCM (node:crypto), same process,
 * interleaved: `node --import tsx bench/transit-lib.ts`. Each round runs encrypt+decrypt
 * of a 1 KiB plaintext for BENCH_LIB_MS (default 400 ms) per side, alternating which side
 * goes first; the ratio is taken per round and the median reported (target ≥ 0.9×).
 * Raw is what an app would write itself: a KeyObject imported once, a random 96-bit IV
 * per message, iv || ciphertext || tag as base64 with a version prefix.
 */
import { createCipheriv, createDecipheriv, createSecretKey, randomBytes } from 'node:crypto';
import { systemClock } from '../src/core/clock.js';
import { Envelope } from '../src/crypto/envelope.js';
import { MemoryTransitStore, Transit } from '../src/crypto/transit/index.js';

const ROUNDS = Number(process.env['BENCH_LIB_ROUNDS'] ?? 7);
const MS = Number(process.env['BENCH_LIB_MS'] ?? 400);
const SIZE = Number(process.env['BENCH_LIB_SIZE'] ?? 1024);

const settings = new Map<string, string>();
const envelope = await Envelope.open(
  {
    getSetting: async (n) => settings.get(n),
    setSettingIfAbsent: async (n, v) => (settings.has(n) ? settings.get(n)! : (settings.set(n, v), v)),
    putSetting: async (n, v) => void settings.set(n, v),
    listSettings: async (prefix) => [...settings].filter(([n]) => n.startsWith(prefix)).map(([name, value]) => ({ name, value })),
  },
  randomBytes(32),
);
const transit = new Transit(new MemoryTransitStore(), envelope, systemClock);
await transit.createKey('bench', 'aes256-gcm');
const plaintext = randomBytes(SIZE);
const context = Buffer.from('bench-context');

const rawKey = createSecretKey(randomBytes(32));
function rawEncrypt(pt: Uint8Array, aad: Uint8Array): string {
  const iv = randomBytes(12);
  const c = createCipheriv('aes-256-gcm', rawKey, iv);
  c.setAAD(aad);
  const head = c.update(pt);
  c.final();
  return 'pc:v1:' + Buffer.concat([iv, head, c.getAuthTag()]).toString('base64');
}
function rawDecrypt(value: string, aad: Uint8Array): Buffer {
  const raw = Buffer.from(value.slice(6), 'base64');
  const d = createDecipheriv('aes-256-gcm', rawKey, raw.subarray(0, 12));
  d.setAuthTag(raw.subarray(raw.length - 16));
  d.setAAD(aad);
  const out = d.update(raw.subarray(12, raw.length - 16));
  d.final();
  return out;
}

async function timed(fn: () => Promise<unknown> | unknown): Promise<number> {
  let n = 0;
  const end = performance.now() + MS;
  while (performance.now() < end) {
    for (let i = 0; i < 64; i++) await fn();
    n += 64;
  }
  return n / (MS / 1000);
}

const transitOp = async () => {
  const ct = await transit.encrypt('bench', plaintext, { context });
  await transit.decrypt('bench', ct, { context });
};
const rawOp = () => rawDecrypt(rawEncrypt(plaintext, context), context);

// warm-up and a correctness check
for (let i = 0; i < 2000; i++) {
  await transitOp();
  rawOp();
}
if (!Buffer.from(await transit.decrypt('bench', await transit.encrypt('bench', plaintext, { context }), { context })).equals(plaintext)) throw new Error('transit round trip failed');
if (!rawOp().equals(plaintext)) throw new Error('raw round trip failed');

const rows: Array<{ transit: number; raw: number; ratio: number }> = [];
for (let r = 0; r < ROUNDS; r++) {
  let t: number;
  let raw: number;
  if (r % 2 === 0) {
    t = await timed(transitOp);
    raw = await timed(rawOp);
  } else {
    raw = await timed(rawOp);
    t = await timed(transitOp);
  }
  rows.push({ transit: t, raw, ratio: t / raw });
}
const sorted = [...rows].sort((a, b) => a.ratio - b.ratio);
const median = sorted[Math.floor(sorted.length / 2)]!;
const fmt = (n: number) => Math.round(n).toLocaleString('en-US');
for (const [i, r] of rows.entries()) process.stdout.write(`round ${i + 1}: transit ${fmt(r.transit)}/s  raw ${fmt(r.raw)}/s  ratio ${r.ratio.toFixed(3)}\n`);
process.stdout.write(`\n${SIZE} B encrypt+decrypt, median ratio transit/raw AES-256-GCM: ${median.ratio.toFixed(3)}× (target ≥ 0.9×); transit ${fmt(median.transit)}/s, raw ${fmt(median.raw)}/s\n`);
process.stdout.write(JSON.stringify({ size: SIZE, rounds: rows, medianRatio: median.ratio, target: 0.9, pass: median.ratio >= 0.9 }) + '\n');
