/**
 * The load generator, run in its own process by bench/run.ts: autocannon with
 * keep-alive connections. Reads one JSON job from argv[2], prints one JSON result line.
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
autocannon({ url: job.url, ...(job.tls !== undefined ? { tlsOptions: job.tls } : {}), connections: job.connections, duration: job.duration, ...(job.amount !== undefined ? { amount: job.amount } : {}), requests: [request] }, (err, r) => {
  if (err) {
    process.stderr.write(String(err) + '\n');
    process.exit(1);
  }
  process.stdout.write(
    JSON.stringify({
      rps: r.requests.average,
      total: r.requests.total,
      p50: r.latency.p50,
      p99: r.latency.p99,
      mean: r.latency.mean,
      errors: r.errors,
      timeouts: r.timeouts,
      non2xx: r.non2xx,
      ok: r['2xx'],
      duration: r.duration,
    }) + '\n',
  );
});
