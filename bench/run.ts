/**
 * Gateway benchmark (`npm run bench`). Every server runs in its own process and the load
 * comes from another (autocannon, keep-alive). Scenarios (bench/scenarios/*.ts) are
 * interleaved round by round, so drift on this shared machine hits all of them alike,
 * and each is reported as a ratio to the bare-proxy baseline of the same round.
 *
 * Environment: BENCH_DURATION (s per run, default 3), BENCH_ROUNDS (default 3),
 * BENCH_CONNECTIONS (default 50), BENCH_ONLY (substrings of scenario names, `|`-separated),
 * BENCH_CPU_PROF (a directory: V8 CPU profiles of the scenario servers go there),
 * BENCH_WARM (s of unmeasured load before each measured window, on the same connections,
 * so connection and TLS set-up are not measured; default 1).
 * Writes bench/results/latest.md and latest.json. Then, unless BENCH_ONLY is set, runs
 * bench/message-policies-report.ts (message-policies.md: the limits of issues 4 and 5),
 * bench/transit-lib.ts (transit-lib.md/json; not with BENCH_TRANSIT_LIB=0), bench/pki.ts
 * (pki.md/json; not with BENCH_PKI=0) and bench/signin.ts (signin.md/json; not with
 * BENCH_SIGNIN=0), each in a process of its own.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { generateKeyPairSync } from 'node:crypto';
import { mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { SignJWT } from 'jose';
import type { BenchContext, Load, Scenario, Started } from './types.js';

const here = fileURLToPath(new URL('.', import.meta.url));
const root = join(here, '..');
const DURATION = Number(process.env['BENCH_DURATION'] ?? 3);
const ROUNDS = Number(process.env['BENCH_ROUNDS'] ?? 3);
const CONNECTIONS = Number(process.env['BENCH_CONNECTIONS'] ?? 50);
const ONLY = process.env['BENCH_ONLY'];
/** Seconds of unmeasured load right before each measured run (a server idle for minutes between its rounds runs colder). */
const WARM = Number(process.env['BENCH_WARM'] ?? 1);
/** Concurrent clients of the new-connections measurement (each opens a connection per request). */
const HANDSHAKE_CONNECTIONS = 8;
const ISSUER = 'https://bench.portcullis.test';
const KID = 'bench-1';

interface Sample {
  /** CPU time (user+system) the scenario's own server processes spent per request, in µs. */
  cpuUsPerReq?: number;
  total: number;
  rps: number;
  p50: number;
  p99: number;
  mean: number;
  errors: number;
  timeouts: number;
  non2xx: number;
  ok: number;
}

const children: ChildProcess[] = [];

function spawnTs(file: string, args: string[], env: Record<string, string>, nodeArgs: string[] = []): ChildProcess {
  const child = spawn(process.execPath, [...nodeArgs, '--import', 'tsx', file, ...args], { cwd: root, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'inherit'] });
  children.push(child);
  return child;
}

function firstLine(child: ChildProcess, prefix: string): Promise<string> {
  return new Promise((resolve, reject) => {
    let buf = '';
    const onData = (c: Buffer) => {
      buf += c.toString();
      const line = buf.split('\n').find((l) => l.startsWith(prefix));
      if (line !== undefined) {
        child.stdout!.off('data', onData);
        resolve(line.slice(prefix.length).trim());
      }
    };
    child.stdout!.on('data', onData);
    child.once('exit', (code) => reject(new Error(`child exited (${code}) before "${prefix}"`)));
  });
}

function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    child.once('exit', () => resolve());
    child.kill('SIGTERM');
  });
}

async function spawnServer(name: string, env: Record<string, string>) {
  // BENCH_CPU_PROF=DIR: a V8 CPU profile of every scenario server (not the load generator) in DIR
  const prof = process.env['BENCH_CPU_PROF'];
  const child = spawnTs(join(here, 'servers', `${name}.ts`), [], env, prof ? ['--cpu-prof', `--cpu-prof-dir=${prof}`] : []);
  const port = await firstLine(child, 'LISTENING ');
  return { url: `http://127.0.0.1:${port}`, child, stop: () => stopChild(child) };
}

/**
 * Runs the load generator once. With `window`, it warms up for `window.warmup` seconds and
 * then measures `duration` seconds on the same connections, reading the CPU of
 * `window.pids` at the window's edges (bench/load.ts).
 */
async function runLoad(load: Load, duration: number, tmp: string, amount?: number, window?: { warmup: number; pids: number[]; newConnections?: number }): Promise<Sample> {
  let tokensFile: string | undefined;
  if (load.tokens !== undefined) {
    tokensFile = join(tmp, `tokens-${load.tokens.length}-${Math.random().toString(36).slice(2)}.json`);
    writeFileSync(tokensFile, JSON.stringify(load.tokens));
  }
  const job = { url: load.url, path: load.path, method: load.method, headers: load.headers, body: load.body, tokensFile, tls: load.tls, connections: window?.newConnections ?? CONNECTIONS, duration, amount, warmup: window?.warmup, cpuPids: window?.pids, newConnections: window?.newConnections !== undefined };
  const child = spawnTs(join(here, 'load.ts'), [JSON.stringify(job)], {});
  let out = '';
  child.stdout!.on('data', (c: Buffer) => (out += c.toString()));
  const code = await new Promise<number | null>((r) => child.once('exit', r));
  if (code !== 0) throw new Error(`load generator failed (${code})`);
  return JSON.parse(out.trim().split('\n').pop()!) as Sample;
}

const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
};

async function main(): Promise<void> {
  const tmp = mkdtempSync(join(tmpdir(), 'portcullis-bench-'));
  const { publicKey, privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const publicKeyPemFile = join(tmp, 'public.pem');
  writeFileSync(publicKeyPemFile, publicKey.export({ type: 'spki', format: 'pem' }) as string);
  const now = Math.floor(Date.now() / 1000);

  const upstream = await spawnServer('upstream', {});
  const ctx: BenchContext = {
    upstreamUrl: upstream.url,
    issuer: ISSUER,
    publicKeyPemFile,
    kid: KID,
    spawnServer,
    mint: async (n, aud, scope) => {
      const out: string[] = [];
      for (let i = 0; i < n; i++) {
        out.push(
          await new SignJWT({ iss: ISSUER, sub: `user-${i}`, client_id: `app-${i % 10}`, aud, scope, jti: `bench-${i}-${Math.random().toString(36).slice(2)}`, iat: now - 5, exp: now + 3600 })
            .setProtectedHeader({ alg: 'ES256', kid: KID, typ: 'at+jwt' })
            .sign(privateKey),
        );
      }
      return out;
    },
  };

  const files = readdirSync(join(here, 'scenarios')).filter((f) => f.endsWith('.ts')).sort();
  let scenarios: Scenario[] = [];
  for (const f of files) scenarios.push(((await import(pathToFileURL(join(here, 'scenarios', f)).href)) as { default: Scenario }).default);
  if (ONLY !== undefined) {
    const wanted = ONLY.split('|');
    scenarios = scenarios.filter((s) => s.baseline === true || wanted.some((w) => s.name.includes(w)));
  }
  const baseline = scenarios.find((s) => s.baseline === true);
  if (baseline === undefined) throw new Error('no baseline scenario');

  const started = new Map<Scenario, Started>();
  const pids = new Map<Scenario, number[]>();
  for (const s of scenarios) {
    const own: number[] = [];
    const spawnOwn: BenchContext['spawnServer'] = async (name, env) => {
      const r = await spawnServer(name, env);
      if (r.child.pid !== undefined) own.push(r.child.pid);
      return r;
    };
    started.set(s, await s.start({ ...ctx, spawnServer: spawnOwn }));
    const st = started.get(s)!;
    // a shared server's pids as the scenario names them; the upstream-alone scenario measures the upstream itself
    pids.set(s, st.pids !== undefined ? st.pids : own.length > 0 ? own : new URL(st.load.url).port === new URL(upstream.url).port && upstream.child.pid !== undefined ? [upstream.child.pid] : []);
  }

  console.error(`warming up ${scenarios.length} scenarios…`);
  for (const s of scenarios) {
    const load = started.get(s)!.load;
    await runLoad(load, 2, tmp);
    // every rotating token seen once before measuring: the table reports the steady state
    if (load.tokens !== undefined) await runLoad(load, 60, tmp, load.tokens.length + CONNECTIONS * 2);
  }

  const samples = new Map<Scenario, Sample[]>(scenarios.map((s) => [s, []]));
  // A scenario with compareTo and the one it names are measured A B B A in each round: once in
  // the round's order, then again in reverse at its end, so a drift of the host within the round
  // weighs on both alike. Only the pair's ratio uses the second windows.
  const pairs = scenarios.flatMap((s) => {
    const o = s.compareTo === undefined ? undefined : scenarios.find((x) => x.name === s.compareTo);
    return o === undefined ? [] : [{ s, o, again: [] as Array<{ s: Sample; o: Sample }> }];
  });
  const measure = async (s: Scenario, round: number, note = ''): Promise<Sample> => {
    // warm-up and measured window on the same connections: handshakes happen in the warm-up
    const r = await runLoad(started.get(s)!.load, DURATION, tmp, undefined, { warmup: WARM, pids: pids.get(s)! });
    console.error(`round ${round}/${ROUNDS} ${s.name}${note}: ${Math.round(r.rps)} req/s, p50 ${r.p50} ms, p99 ${r.p99} ms, ${r.cpuUsPerReq?.toFixed(0) ?? '–'} µs CPU/req, non-2xx ${r.non2xx}, errors ${r.errors}`);
    return r;
  };
  for (let round = 1; round <= ROUNDS; round++) {
    for (const s of scenarios) samples.get(s)!.push(await measure(s, round));
    for (const p of pairs) {
      const s2 = await measure(p.s, round, ' (again, for the pair)');
      const o2 = await measure(p.o, round, ' (again, for the pair)');
      p.again.push({ s: s2, o: o2 });
    }
  }

  // New connections, one request each (the handshake cost the windows above leave out), for the HTTPS scenarios.
  const tlsScenarios = scenarios.filter((s) => started.get(s)!.load.tls !== undefined);
  const handshakes = new Map<Scenario, Sample[]>(tlsScenarios.map((s) => [s, []]));
  for (let round = 1; round <= ROUNDS && tlsScenarios.length > 0; round++) {
    for (const s of tlsScenarios) {
      const r = await runLoad(started.get(s)!.load, DURATION, tmp, undefined, { warmup: 0.5, pids: pids.get(s)!, newConnections: HANDSHAKE_CONNECTIONS });
      handshakes.get(s)!.push(r);
      console.error(`round ${round}/${ROUNDS} ${s.name}, new connections: ${Math.round(r.rps)}/s, ${((r.cpuUsPerReq ?? 0) / 1000).toFixed(2)} ms server CPU each, non-2xx ${r.non2xx}, errors ${r.errors}`);
    }
  }

  for (const st of started.values()) await st.stop();
  await upstream.stop();

  const base = samples.get(baseline)!;
  const rows = scenarios.map((s) => {
    const xs = samples.get(s)!;
    const ratios = xs.map((x, i) => x.rps / base[i]!.rps);
    const p99Delta = xs.map((x, i) => x.p99 - base[i]!.p99);
    const other = s.compareTo === undefined ? undefined : scenarios.find((o) => o.name === s.compareTo);
    const ys = other === undefined ? undefined : samples.get(other)!;
    const again = pairs.find((p) => p.s === s)?.again;
    // per round, A B B A: both windows of each side
    const against =
      other === undefined || ys === undefined || again === undefined
        ? undefined
        : {
            name: other.name,
            ratio: Number(median(xs.map((x, i) => (x.rps + again[i]!.s.rps) / (ys[i]!.rps + again[i]!.o.rps))).toFixed(3)),
            p99DeltaMs: Number(median(xs.map((x, i) => (x.p99 - ys[i]!.p99 + again[i]!.s.p99 - again[i]!.o.p99) / 2)).toFixed(2)),
            rounds: xs.map((x, i) => ({ first: { rps: x.rps, against: ys[i]!.rps }, again: { rps: again[i]!.s.rps, against: again[i]!.o.rps } })),
          };
    return {
      name: s.name,
      description: s.description,
      baseline: s.baseline === true,
      rps: Math.round(median(xs.map((x) => x.rps))),
      p50: Number(median(xs.map((x) => x.p50)).toFixed(3)),
      p99: Number(median(xs.map((x) => x.p99)).toFixed(3)),
      ratio: Number(median(ratios).toFixed(3)),
      p99DeltaMs: Number(median(p99Delta).toFixed(2)),
      ...(against !== undefined ? { against } : {}),
      cpuUsPerReq: xs.every((x) => x.cpuUsPerReq !== undefined) ? Math.round(median(xs.map((x) => x.cpuUsPerReq!))) : undefined,
      non2xx: xs.reduce((a, x) => a + x.non2xx, 0),
      errors: xs.reduce((a, x) => a + x.errors + x.timeouts, 0),
      rounds: xs,
    };
  });

  const when = new Date().toISOString();
  const header = `# Gateway benchmark\n\n${when} · Node ${process.version} · ${cpus().length} cores (${cpus()[0]?.model ?? '?'}) · ${CONNECTIONS} keep-alive connections · ${ROUNDS} interleaved rounds × ${DURATION} s, each measured after ${WARM} s of unmeasured load on the same connections · medians; ratio and Δp99 against the bare proxy of the same round.\nShared machine: absolute numbers drift, read the ratios. "server CPU µs/req" is the user+system time of the scenario's own server process(es) per request (from /proc), the least noisy figure here; it excludes the shared upstream.\n\n`;
  const table = [
    '| scenario | req/s | p50 ms | p99 ms | × bare proxy | Δp99 ms | server CPU µs/req | non-2xx | errors |',
    '|---|---:|---:|---:|---:|---:|---:|---:|---:|',
    ...rows.map(
      (r) =>
        `| ${r.name}${r.baseline ? ' (baseline)' : ''} | ${r.rps} | ${r.p50} | ${r.p99} | ${r.ratio.toFixed(2)} | ${r.p99DeltaMs} | ${r.cpuUsPerReq ?? '–'} | ${r.non2xx} | ${r.errors} |`,
    ),
  ].join('\n');
  // Pairs a scenario names with compareTo (e.g. mTLS against TLS): ratio of the same round.
  const pairLines = rows.flatMap((r) => (r.against === undefined ? [] : [`| ${r.name} | ${r.against.name} | ${r.against.ratio.toFixed(2)} | ${r.against.p99DeltaMs} |`]));
  const pairTable = pairLines.length ? `\nPairs, measured A B B A in each round (the ratio of each round is both windows of one side over both of the other's; the table above has the first windows):\n\n| scenario | against | × | Δp99 ms |\n|---|---|---:|---:|\n${pairLines.join('\n')}\n` : '';
  // Connection set-up: HTTPS scenarios with one request per new connection.
  const handshakeRows = tlsScenarios.map((s) => {
    const xs = handshakes.get(s)!;
    const other = s.compareTo === undefined ? undefined : tlsScenarios.find((o) => o.name === s.compareTo);
    const ys = other === undefined ? undefined : handshakes.get(other)!;
    return {
      name: s.name,
      perSecond: Math.round(median(xs.map((x) => x.rps))),
      cpuMsPerConnection: xs.every((x) => x.cpuUsPerReq !== undefined) ? Number((median(xs.map((x) => x.cpuUsPerReq!)) / 1000).toFixed(2)) : undefined,
      p99: Number(median(xs.map((x) => x.p99)).toFixed(1)),
      ...(other !== undefined && ys !== undefined ? { against: { name: other.name, ratio: Number(median(xs.map((x, i) => x.rps / ys[i]!.rps)).toFixed(3)) } } : {}),
      failed: xs.reduce((a, x) => a + x.non2xx + x.errors, 0),
      rounds: xs,
    };
  });
  const handshakeTable = handshakeRows.length
    ? `\nNew connections, one request each (${HANDSHAKE_CONNECTIONS} clients at a time, ${ROUNDS} round${ROUNDS === 1 ? '' : 's'} × ${DURATION} s): the connection set-up the tables above leave out.\n\n| scenario | new connections/s | server CPU ms per connection | p99 ms | × | non-2xx + errors |\n|---|---:|---:|---:|---:|---:|\n${handshakeRows
        .map((r) => `| ${r.name} | ${r.perSecond} | ${r.cpuMsPerConnection ?? '–'} | ${r.p99} | ${r.against !== undefined ? `${r.against.ratio.toFixed(2)} against ${r.against.name}` : ''} | ${r.failed} |`)
        .join('\n')}\n`
    : '';
  const md = `${header}${table}\n${pairTable}${handshakeTable}`;
  console.log(md);
  mkdirSync(join(here, 'results'), { recursive: true });
  writeFileSync(join(here, 'results', 'latest.md'), md);
  writeFileSync(join(here, 'results', 'latest.json'), JSON.stringify({ when, node: process.version, connections: CONNECTIONS, rounds: ROUNDS, durationSeconds: DURATION, rows, newConnections: handshakeRows }, null, 2) + '\n');
  rmSync(tmp, { recursive: true, force: true });
  // Issues 4 and 5: the message scenarios' ratios and limits (message-policies.md), from latest.json and this run's raw rates.
  if (ONLY === undefined) process.stdout.write(await runScript('message-policies-report.ts'));
  // Issue 5: transit as a library call against raw AES-256-GCM (bench/transit-lib.ts).
  if (process.env['BENCH_TRANSIT_LIB'] !== '0' && ONLY === undefined) await runTransitLibBench();
  // Issue 6: certificates issued and OCSP responses per second (bench/pki.ts, in a process of its own).
  if (process.env['BENCH_PKI'] !== '0' && ONLY === undefined) await runPkiBench();
  // Issue 3: sign-ins per second against raw Argon2id, gateway p99 in a sign-in storm (bench/signin.ts).
  if (process.env['BENCH_SIGNIN'] !== '0' && ONLY === undefined) await (await import('./signin.js')).runSigninBench();
}

interface PkiResult {
  issue_per_s_one_thread: number;
  issue_cpu_us_per_cert: number;
  issue_per_s_workers: number;
  workers: number;
  ocsp_cached_per_s: number;
  ocsp_cached_cpu_us: number;
  targets: { issue_per_s: number; ocsp_cached_per_s: number };
}

/** Runs a bench script in its own process; resolves with its stdout, throws when it fails. */
async function runScript(file: string): Promise<string> {
  const child = spawnTs(join(here, file), [], {});
  let out = '';
  child.stdout!.on('data', (c: Buffer) => (out += c.toString()));
  const code = await new Promise<number | null>((r) => child.once('exit', r));
  if (code !== 0) throw new Error(`bench/${file} failed (${code})`);
  return out;
}

/** Runs a standalone bench script; its stdout's JSON (the whole output, or its last line). */
async function runStandalone<T>(file: string): Promise<T> {
  const text = (await runScript(file)).trim();
  return JSON.parse(text.startsWith('{\n') ? text : text.split('\n').pop()!) as T;
}

interface TransitLibResult {
  size: number;
  rounds: Array<{ transit: number; raw: number; ratio: number }>;
  medianRatio: number;
  target: number;
  pass: boolean;
}

/** Runs bench/transit-lib.ts (issue 5: transit as a library call against raw AES-256-GCM) and writes results/transit-lib.md and .json. */
async function runTransitLibBench(): Promise<void> {
  console.error('transit as a library call (bench/transit-lib.ts)…');
  const r = await runStandalone<TransitLibResult>('transit-lib.ts');
  const when = new Date().toISOString();
  const fmt = (n: number): string => Math.round(n).toLocaleString('en-US');
  const md = `# Transit as a library call

${when} · Node ${process.version} · ${cpus().length} cores (${cpus()[0]?.model ?? '?'}) · \`bench/transit-lib.ts\`: encrypt + decrypt of ${r.size} B with context, through \`Transit\` (named key, versioned ciphertext) against raw AES-256-GCM on node:crypto (a KeyObject imported once, a random IV per message), same process, alternating ${r.rounds.length} rounds.

| round | transit ops/s | raw AES-256-GCM ops/s | × raw |
|---:|---:|---:|---:|
${r.rounds.map((x, i) => `| ${i + 1} | ${fmt(x.transit)} | ${fmt(x.raw)} | ${x.ratio.toFixed(3)} |`).join('\n')}

Median: **${r.medianRatio.toFixed(3)}×** raw (target ≥ ${r.target}×: ${r.pass ? 'met' : '**missed**'}).
`;
  console.log(md);
  writeFileSync(join(here, 'results', 'transit-lib.md'), md);
  writeFileSync(join(here, 'results', 'transit-lib.json'), JSON.stringify({ when, node: process.version, ...r }, null, 2) + '\n');
}

/** Runs bench/pki.ts and writes bench/results/pki.md and pki.json. */
async function runPkiBench(): Promise<void> {
  console.error('certificate authority: issuance and OCSP (bench/pki.ts)…');
  const r = await runStandalone<PkiResult>('pki.ts');
  const when = new Date().toISOString();
  const met = (ok: boolean): string => (ok ? 'yes' : '**no**');
  const md = `# Certificate authority benchmark

${when} · Node ${process.version} · ${cpus().length} cores (${cpus()[0]?.model ?? '?'}) · \`bench/pki.ts\`: client certificates (a P-256 key generated for each, as the admin API does) issued by an issuing CA on an in-memory store, 8 in flight per thread; OCSP responses for one request (no nonce) from the responder's cache.

| figure | value | target | met |
|---|---:|---:|---|
| leaf certificates issued per second, one thread | ${r.issue_per_s_one_thread} | | |
| CPU per certificate, one thread | ${r.issue_cpu_us_per_cert} µs | | |
| leaf certificates issued per second, ${r.workers} worker threads | ${r.issue_per_s_workers} | ≥ ${r.targets.issue_per_s} | ${met(r.issue_per_s_workers >= r.targets.issue_per_s)} |
| OCSP responses per second from cache | ${r.ocsp_cached_per_s} | ≥ ${r.targets.ocsp_cached_per_s} | ${met(r.ocsp_cached_per_s >= r.targets.ocsp_cached_per_s)} |
| CPU per cached OCSP response | ${r.ocsp_cached_cpu_us} µs | | |
`;
  console.log(md);
  writeFileSync(join(here, 'results', 'pki.md'), md);
  writeFileSync(join(here, 'results', 'pki.json'), JSON.stringify({ when, node: process.version, ...r }, null, 2) + '\n');
}

main().then(
  () => process.exit(0),
  async (e: unknown) => {
    console.error(e);
    await Promise.all(children.map(stopChild));
    process.exit(1);
  },
);
