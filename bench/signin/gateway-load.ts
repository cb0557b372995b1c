/**
 * Fixed-rate load on the bench node's gateway route, in its own process: RATE requests
 * per second, spread evenly, over a small pool of keep-alive connections, the same
 * bearer token each time (a token-cache hit). Latency is taken per request from the
 * moment it is sent, in microseconds (autocannon's histogram has whole milliseconds,
 * too coarse for a 1 ms target). Prints one JSON line.
 */
import { Pool } from 'undici';

const env = (k: string): string => {
  const v = process.env[k];
  if (v === undefined) throw new Error(`${k} is required`);
  return v;
};
const url = env('GATEWAY_URL');
const token = env('TOKEN');
const rate = Number(env('RATE'));
const ms = Number(env('DURATION_MS'));
const pool = new Pool(url, { connections: 16, keepAliveTimeout: 30_000 });
const headers = { authorization: `Bearer ${token}` };

const latencies: number[] = [];
let non2xx = 0;
let errors = 0;
const pending = new Set<Promise<void>>();

async function one(): Promise<void> {
  const s = performance.now();
  try {
    const r = await pool.request({ path: '/', method: 'GET', headers });
    await r.body.dump();
    latencies.push(performance.now() - s);
    if (r.statusCode < 200 || r.statusCode > 299) non2xx++;
  } catch {
    errors++;
  }
}

// Warm the connections first.
await Promise.all(Array.from({ length: 16 }, () => one()));
latencies.length = 0;
non2xx = 0;
errors = 0;

const t0 = performance.now();
let sent = 0;
await new Promise<void>((resolve) => {
  const tick = () => {
    const now = performance.now();
    if (now - t0 >= ms) return resolve();
    const due = Math.floor(((now - t0) / 1000) * rate);
    while (sent < due) {
      sent++;
      const p = one();
      pending.add(p);
      void p.finally(() => pending.delete(p));
    }
    setTimeout(tick, 1);
  };
  tick();
});
await Promise.all(pending);
await pool.close();
latencies.sort((a, b) => a - b);
const pct = (p: number) => Number((latencies[Math.min(latencies.length - 1, Math.floor(p * latencies.length))] ?? 0).toFixed(3));
process.stdout.write(
  JSON.stringify({ sent, ok: latencies.length, rps: latencies.length / (ms / 1000), p50: pct(0.5), p99: pct(0.99), p999: pct(0.999), max: pct(1), non2xx, errors }) + '\n',
);
