/**
 * The load generator, run in its own process by bench/run.ts: autocannon with
 * keep-alive connections. Reads one JSON job from argv[2], prints one JSON result line.
 * Latency percentiles are taken from every 2xx response's own time (autocannon measures
 * it with hrtime), not from autocannon's histogram, which keeps whole milliseconds: a
 * 1 ms target needs finer steps than that.
 */
import { readFileSync } from 'node:fs';
import autocannon, { type Request } from 'autocannon';

interface Job {
  url: string;
  path?: string;
  method?: string;
  headers?: Record<string, string>;
  body?: string;
  tokensFile?: string;
  tls?: { ca: string; cert?: string; key?: string };
  connections: number;
  duration: number;
  /** When set, send this many requests instead of running for `duration`. */
  amount?: number;
}

const job = JSON.parse(process.argv[2]!) as Job;
const tokens = job.tokensFile === undefined ? undefined : (JSON.parse(readFileSync(job.tokensFile, 'utf8')) as string[]);
let next = 0;
const request: Request = { method: job.method ?? 'GET', path: job.path ?? '/', headers: job.headers ?? {} };
if (job.body !== undefined) request.body = job.body;
if (tokens !== undefined) {
  request.setupRequest = (req) => {
    const t = tokens[next++ % tokens.length]!;
    return { ...req, headers: { ...req.headers, authorization: `Bearer ${t}` } };
  };
}
const latencies: number[] = [];
/** The value below which a fraction `q` of the sorted samples fall (nearest rank). */
const pct = (sorted: number[], q: number): number => (sorted.length === 0 ? 0 : sorted[Math.min(sorted.length - 1, Math.ceil(q * sorted.length) - 1)]!);
const instance = autocannon({ url: job.url, ...(job.tls !== undefined ? { tlsOptions: job.tls } : {}), connections: job.connections, duration: job.duration, ...(job.amount !== undefined ? { amount: job.amount } : {}), requests: [request] }, (err, r) => {
  if (err) {
    process.stderr.write(String(err) + '\n');
    process.exit(1);
  }
  latencies.sort((a, b) => a - b);
  process.stdout.write(
    JSON.stringify({
      rps: r.requests.average,
      total: r.requests.total,
      p50: Number(pct(latencies, 0.5).toFixed(3)),
      p99: Number(pct(latencies, 0.99).toFixed(3)),
      mean: r.latency.mean,
      errors: r.errors,
      timeouts: r.timeouts,
      non2xx: r.non2xx,
      ok: r['2xx'],
      duration: r.duration,
    }) + '\n',
  );
});
instance.on('response', (_client: unknown, statusCode: number, _bytes: number, responseTime: number) => {
  if (statusCode >= 200 && statusCode < 300) latencies.push(responseTime);
});
