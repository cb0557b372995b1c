/**
 * The load generator, run in its own process by bench/run.ts: autocannon with
 * keep-alive connections. Reads one JSON job from argv[2], prints one JSON result line.
 *
 * With `warmup` (seconds), one autocannon run sends load for warm-up + `duration` on the
 * same connections, and only the window after the warm-up is measured: the responses
 * that arrive in it, their latencies, and the CPU the servers in `cpuPids` spent in it
 * (read from /proc at the window's two edges). So connection setup (TCP, and the TLS or
 * mutual-TLS handshake) happens during the warm-up, and the figures are of connections
 * in reuse.
 *
 * Latency percentiles are taken from every 2xx response's own time (autocannon measures
 * it with hrtime), not from autocannon's histogram, which keeps whole milliseconds: a
 * 1 ms target needs finer steps than that.
 */
import { readFileSync } from 'node:fs';
import http from 'node:http';
import https from 'node:https';
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
  /** Seconds measured (after `warmup`). */
  duration: number;
  /** Seconds of load on the same connections before the measured window (default 0). */
  warmup?: number;
  /** Processes whose CPU time (user+system) is read at the measured window's edges. */
  cpuPids?: number[];
  /** When set, send this many requests instead of running for `duration` (no window: everything counts). */
  amount?: number;
  /**
   * Every request on a new connection (closed after its response), `connections` at a
   * time: measures connection set-up (for HTTPS the full handshake, with the client
   * certificate when `tls.cert` is given) instead of requests on reused connections.
   */
  newConnections?: boolean;
}

/** utime+stime of the processes in ms, from /proc (Linux); undefined elsewhere or when one is gone. */
function cpuMsOf(pids: readonly number[]): number | undefined {
  if (pids.length === 0) return undefined;
  let sum = 0;
  for (const pid of pids) {
    try {
      const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
      const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      // fields 14 and 15 of stat(5), counted from after the command name (field 3 is index 0)
      sum += ((Number(f[11]) + Number(f[12])) * 1000) / 100;
    } catch {
      return undefined;
    }
  }
  return sum;
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

/** The value below which a fraction `q` of the sorted samples fall (nearest rank). */
const pct = (sorted: number[], q: number): number => (sorted.length === 0 ? 0 : sorted[Math.min(sorted.length - 1, Math.ceil(q * sorted.length) - 1)]!);

const warmup = job.amount === undefined ? (job.warmup ?? 0) : 0;
const pids = job.cpuPids ?? [];
/** Counted only while true: from the end of the warm-up to the end of the window. */
let measuring = warmup === 0;
let windowStart = measuring ? performance.now() : 0;
let windowEnd = 0;
let cpuStart = measuring ? cpuMsOf(pids) : undefined;
let cpuEnd: number | undefined;
const latencies: number[] = [];
let total = 0;
let ok = 0;
let non2xx = 0;
let errors = 0;

function openWindow(): void {
  cpuStart = cpuMsOf(pids);
  windowStart = performance.now();
  measuring = true;
}

function closeWindow(): void {
  if (!measuring) return;
  measuring = false;
  windowEnd = performance.now();
  cpuEnd = cpuMsOf(pids);
}

/** Prints the result line: what the window counted (or, with `amount`, the whole run's `seconds` and `rps`). */
function report(whole?: { seconds: number; rps: number }): void {
  closeWindow();
  latencies.sort((a, b) => a - b);
  const seconds = whole?.seconds ?? (windowEnd - windowStart) / 1000;
  const cpu = cpuStart !== undefined && cpuEnd !== undefined && total > 0 ? ((cpuEnd - cpuStart) * 1000) / total : undefined;
  process.stdout.write(
    JSON.stringify({
      rps: whole?.rps ?? total / seconds,
      total,
      p50: Number(pct(latencies, 0.5).toFixed(3)),
      p99: Number(pct(latencies, 0.99).toFixed(3)),
      mean: latencies.length === 0 ? 0 : Number((latencies.reduce((a, b) => a + b, 0) / latencies.length).toFixed(3)),
      errors,
      timeouts: 0,
      non2xx,
      ok,
      duration: seconds,
      ...(cpu !== undefined ? { cpuUsPerReq: cpu } : {}),
    }) + '\n',
  );
}

if (job.newConnections === true) {
  await newConnectionsLoad();
  process.exit(0);
}

/** One request per connection, `job.connections` loops at once, for warm-up + duration; measured like the autocannon path. */
async function newConnectionsLoad(): Promise<void> {
  const url = new URL(job.path ?? '/', job.url);
  const client = url.protocol === 'https:' ? https : http;
  const body = job.body === undefined ? undefined : Buffer.from(job.body);
  const headers: Record<string, string> = { ...(job.headers ?? {}), connection: 'close', ...(body !== undefined ? { 'content-length': String(body.length) } : {}) };
  const one = (): Promise<number> =>
    new Promise((resolve, reject) => {
      const t0 = performance.now();
      const req = client.request(url, { method: job.method ?? 'GET', headers, agent: false, ...(job.tls ?? {}) }, (res) => {
        res.resume();
        res.on('end', () => {
          const ms = performance.now() - t0;
          if (measuring) {
            total++;
            if (res.statusCode! >= 200 && res.statusCode! < 300) {
              ok++;
              latencies.push(ms);
            } else non2xx++;
          }
          resolve(ms);
        });
      });
      req.on('error', reject);
      req.end(body);
    });
  const stopAt = performance.now() + (warmup + job.duration) * 1000;
  if (warmup > 0) setTimeout(openWindow, warmup * 1000);
  setTimeout(closeWindow, (warmup + job.duration) * 1000);
  await Promise.all(
    Array.from({ length: job.connections }, async () => {
      while (performance.now() < stopAt) {
        try {
          await one();
        } catch {
          if (measuring) errors++;
        }
      }
    }),
  );
  report();
}

// The run goes on a little past the window, so the window's last moments are under full load.
const runFor = job.amount === undefined ? warmup + job.duration + (warmup > 0 ? 0.25 : 0) : undefined;
const instance = autocannon(
  {
    url: job.url,
    ...(job.tls !== undefined ? { tlsOptions: job.tls } : {}),
    connections: job.connections,
    ...(runFor !== undefined ? { duration: runFor } : {}),
    ...(job.amount !== undefined ? { amount: job.amount } : {}),
    requests: [request],
  },
  (err, r) => {
    if (err) {
      process.stderr.write(String(err) + '\n');
      process.exit(1);
    }
    report(job.amount !== undefined ? { seconds: r.duration, rps: r.requests.average } : undefined);
  },
);
if (warmup > 0) {
  setTimeout(openWindow, warmup * 1000);
  setTimeout(closeWindow, (warmup + job.duration) * 1000);
}
instance.on('response', (_client: unknown, statusCode: number, _bytes: number, responseTime: number) => {
  if (!measuring) return;
  total++;
  if (statusCode >= 200 && statusCode < 300) {
    ok++;
    latencies.push(responseTime);
  } else non2xx++;
});
// request errors and timeouts (autocannon emits one per failed request)
instance.on('reqError', () => {
  if (measuring) errors++;
});
