/**
 * Sign-in benchmark (issue 3): `node --import tsx bench/signin.ts`, and the last step of
 * `npm run bench` (skip it with BENCH_SIGNIN=0).
 *
 * In one run, round by round, interleaved so drift on this shared machine hits every
 * figure alike:
 *  (a) the raw Argon2id verify rate (m=19456, t=2, p=1, `@node-rs/argon2`, CONCURRENCY
 *      in flight on the libuv pool) in a process of its own;
 *  (b) complete sign-ins per second (password + TOTP, consent, code redeemed for tokens)
 *      driven over HTTP, CONCURRENCY in flight, against a whole embedded node; the
 *      password step dominates, so (b)/(a) is the target (≥ 0.8×);
 *  (c) the p99 of the same node's gateway (a route with require.token, one cached token,
 *      RATE requests per second at a fixed rate) alone, then while a sign-in storm runs
 *      on the node; Δp99 is the target (≤ 1 ms: hashing must not block the event loop);
 *  (d) the p99 of the same fixed-rate load sent straight to the upstream: what the load
 *      tool, the upstream and the OS add on their own (the floor under (c)).
 *
 * Environment: BENCH_DURATION (s per measurement, default 3), BENCH_ROUNDS (default 3),
 * BENCH_SIGNIN_CONCURRENCY (default 16), BENCH_SIGNIN_USERS (default 1500; each user's
 * TOTP code is accepted once per 30 s step), BENCH_GATEWAY_RATE (req/s, default 500).
 * Writes bench/results/signin.md and signin.json.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import type { SigninFixture } from './signin/fixture.js';

const here = fileURLToPath(new URL('.', import.meta.url));
const root = join(here, '..');

interface RunResult {
  ok: number;
  failed: number;
  seconds: number;
  perSecond: number;
  p50Ms?: number;
  p99Ms?: number;
  starvedMs?: number;
  errors?: string[];
}

interface GatewayResult {
  sent: number;
  ok: number;
  rps: number;
  p50: number;
  p99: number;
  p999: number;
  max: number;
  non2xx: number;
  errors: number;
}

interface Round {
  argon: RunResult & { cpuMsPerVerify?: number };
  signin: RunResult & { nodeCpuMsPerSignin?: number; mainCpuMsPerSignin?: number };
  /** The same fixed-rate load straight to the upstream: the floor of the load tool and the OS. */
  direct: GatewayResult;
  gateway: GatewayResult;
  gatewayStorm: GatewayResult;
  storm: RunResult;
  ratio: number;
  p99DeltaMs: number;
  /** The gateway plane in a process of its own (signin/gateway-node.ts), alone and during a second storm. */
  separate: GatewayResult;
  separateStorm: GatewayResult;
  separateStormSignins: RunResult;
  separateP99DeltaMs: number;
  /** The load straight to the upstream during a third storm: the floor any gateway shares with the storm on this machine. */
  directStorm: GatewayResult;
  /** A second all-in-one node with `gateway.thread`: its gateway alone and during a storm of sign-ins on its own identity plane. */
  threaded: GatewayResult;
  threadedStorm: GatewayResult;
  threadedStormSignins: RunResult;
  threadedP99DeltaMs: number;
}

const children: ChildProcess[] = [];

function spawnTs(file: string, env: Record<string, string>, stdin: 'ignore' | 'pipe' = 'ignore'): ChildProcess {
  const child = spawn(process.execPath, ['--import', 'tsx', file], { cwd: root, env: { ...process.env, ...env }, stdio: [stdin, 'pipe', 'inherit'] });
  children.push(child);
  return child;
}

/** Resolves with the rest of the next stdout line that starts with `prefix`. */
function nextLine(child: ChildProcess, prefix: string): Promise<string> {
  return new Promise((resolve, reject) => {
    let buf = '';
    const onData = (c: Buffer) => {
      buf += c.toString();
      const line = buf.split('\n').find((l) => l.startsWith(prefix));
      if (line !== undefined) {
        child.stdout!.off('data', onData);
        child.off('exit', onExit);
        resolve(line.slice(prefix.length).trim());
      }
    };
    const onExit = (code: number | null) => reject(new Error(`${String(child.spawnargs.at(-1))} exited (${code}) before "${prefix}"`));
    child.stdout!.on('data', onData);
    child.once('exit', onExit);
  });
}

function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    child.once('exit', () => resolve());
    child.kill('SIGTERM');
  });
}

/** A child that answers `run <ms>` on stdin with one `RESULT {json}` line. */
async function commanded(file: string, env: Record<string, string>) {
  const child = spawnTs(file, env, 'pipe');
  await nextLine(child, 'READY');
  return {
    child,
    run: async (ms: number): Promise<RunResult> => {
      const answer = nextLine(child, 'RESULT ');
      child.stdin!.write(`run ${Math.round(ms)}\n`);
      return JSON.parse(await answer) as RunResult;
    },
  };
}

async function gatewayLoad(fx: SigninFixture, rate: number, ms: number, url = fx.gatewayUrl): Promise<GatewayResult> {
  const child = spawnTs(join(here, 'signin', 'gateway-load.ts'), { GATEWAY_URL: url, TOKEN: fx.token, RATE: String(rate), DURATION_MS: String(ms) });
  let out = '';
  child.stdout!.on('data', (c: Buffer) => (out += c.toString()));
  const code = await new Promise<number | null>((r) => child.once('exit', r));
  if (code !== 0) throw new Error(`gateway load failed (${code})`);
  return JSON.parse(out.trim().split('\n').pop()!) as GatewayResult;
}

/** utime+stime of a process (or with `thread`, of its main thread: the event loop) in ms, from /proc (Linux); undefined elsewhere. */
function cpuMs(pid: number | undefined, thread = false): number | undefined {
  if (pid === undefined) return undefined;
  try {
    const stat = readFileSync(thread ? `/proc/${pid}/task/${pid}/stat` : `/proc/${pid}/stat`, 'utf8');
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return ((Number(f[11]) + Number(f[12])) * 1000) / 100;
  } catch {
    return undefined;
  }
}

async function withCpu<T extends RunResult>(pid: number | undefined, f: () => Promise<T>): Promise<T & { cpuMs?: number; mainCpuMs?: number }> {
  const [before, mainBefore] = [cpuMs(pid), cpuMs(pid, true)];
  const r = await f();
  const [after, mainAfter] = [cpuMs(pid), cpuMs(pid, true)];
  return {
    ...r,
    ...(before !== undefined && after !== undefined ? { cpuMs: after - before } : {}),
    ...(mainBefore !== undefined && mainAfter !== undefined ? { mainCpuMs: mainAfter - mainBefore } : {}),
  };
}

const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
};
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Runs the whole sign-in benchmark; prints the table and writes bench/results/signin.{md,json}. */
export async function runSigninBench(): Promise<void> {
  const DURATION = Number(process.env['BENCH_DURATION'] ?? 3) * 1000;
  const ROUNDS = Number(process.env['BENCH_ROUNDS'] ?? 3);
  const CONCURRENCY = Number(process.env['BENCH_SIGNIN_CONCURRENCY'] ?? 16);
  const USERS = Number(process.env['BENCH_SIGNIN_USERS'] ?? 1500);
  const RATE = Number(process.env['BENCH_GATEWAY_RATE'] ?? 500);
  const tmp = mkdtempSync(join(tmpdir(), 'portcullis-signin-bench-'));
  try {
    const upstream = spawnTs(join(here, 'servers', 'upstream.ts'), {});
    const upstreamUrl = `http://127.0.0.1:${await nextLine(upstream, 'LISTENING ')}`;
    const fixtureFile = join(tmp, 'fixture.json');
    console.error(`sign-in bench: starting a node with ${USERS} users (password + TOTP)…`);
    const node = spawnTs(join(here, 'signin', 'node.ts'), { OUT: fixtureFile, UPSTREAM_URL: upstreamUrl, USERS: String(USERS) });
    await nextLine(node, 'LISTENING ');
    const fx = JSON.parse(readFileSync(fixtureFile, 'utf8')) as SigninFixture;
    const gatewayNode = spawnTs(join(here, 'signin', 'gateway-node.ts'), { FIXTURE_JSON: JSON.stringify({ ...fx, users: [] }) });
    const separateUrl = await nextLine(gatewayNode, 'LISTENING ');
    const threadedFile = join(tmp, 'fixture-threaded.json');
    const threadedNode = spawnTs(join(here, 'signin', 'node.ts'), { OUT: threadedFile, UPSTREAM_URL: upstreamUrl, USERS: String(USERS), GATEWAY_THREAD: '1' });
    await nextLine(threadedNode, 'LISTENING ');
    const fxThreaded = JSON.parse(readFileSync(threadedFile, 'utf8')) as SigninFixture;
    const argon = await commanded(join(here, 'signin', 'argon.ts'), { CONCURRENCY: String(CONCURRENCY) });
    const driver = await commanded(join(here, 'signin', 'driver.ts'), { FIXTURE: fixtureFile, CONCURRENCY: String(CONCURRENCY) });
    const threadedDriver = await commanded(join(here, 'signin', 'driver.ts'), { FIXTURE: threadedFile, CONCURRENCY: String(CONCURRENCY) });

    console.error('sign-in bench: warming up…');
    await argon.run(1000);
    const warm = await driver.run(2000);
    if (warm.ok === 0) throw new Error(`no sign-in succeeded during warm-up: ${warm.errors?.join('; ')}`);
    await gatewayLoad(fx, RATE, 1000);
    await gatewayLoad(fx, RATE, 1000, separateUrl);
    await threadedDriver.run(2000);
    await gatewayLoad(fxThreaded, RATE, 1000);

    const rounds: Round[] = [];
    for (let round = 1; round <= ROUNDS; round++) {
      const a = await withCpu(argon.child.pid, () => argon.run(DURATION));
      const s = await withCpu(node.pid, () => driver.run(DURATION));
      const direct = await gatewayLoad(fx, RATE, DURATION, upstreamUrl);
      const g = await gatewayLoad(fx, RATE, DURATION);
      // The storm starts first and outlasts the gateway load on both sides.
      const storm = driver.run(DURATION + 1000);
      await sleep(500);
      const gs = await gatewayLoad(fx, RATE, DURATION);
      const st = await storm;
      // the same, against the gateway-only process
      const sep = await gatewayLoad(fx, RATE, DURATION, separateUrl);
      const storm2 = driver.run(DURATION + 1000);
      await sleep(500);
      const sepStorm = await gatewayLoad(fx, RATE, DURATION, separateUrl);
      const st2 = await storm2;
      const storm3 = driver.run(DURATION + 1000);
      await sleep(500);
      const directStorm = await gatewayLoad(fx, RATE, DURATION, upstreamUrl);
      await storm3;
      // the node with its gateway on a thread, under a storm on its own identity plane
      const threaded = await gatewayLoad(fxThreaded, RATE, DURATION);
      const storm4 = threadedDriver.run(DURATION + 1000);
      await sleep(500);
      const threadedStorm = await gatewayLoad(fxThreaded, RATE, DURATION);
      const st4 = await storm4;
      const r: Round = {
        argon: { ...a, ...(a.cpuMs !== undefined && a.ok > 0 ? { cpuMsPerVerify: a.cpuMs / a.ok } : {}) },
        signin: {
          ...s,
          ...(s.cpuMs !== undefined && s.ok > 0 ? { nodeCpuMsPerSignin: s.cpuMs / s.ok } : {}),
          ...(s.mainCpuMs !== undefined && s.ok > 0 ? { mainCpuMsPerSignin: s.mainCpuMs / s.ok } : {}),
        },
        direct,
        gateway: g,
        gatewayStorm: gs,
        storm: st,
        ratio: s.perSecond / a.perSecond,
        p99DeltaMs: gs.p99 - g.p99,
        separate: sep,
        separateStorm: sepStorm,
        separateStormSignins: st2,
        separateP99DeltaMs: sepStorm.p99 - sep.p99,
        directStorm,
        threaded,
        threadedStorm,
        threadedStormSignins: st4,
        threadedP99DeltaMs: threadedStorm.p99 - threaded.p99,
      };
      rounds.push(r);
      console.error(
        `round ${round}/${ROUNDS}: argon2id ${a.perSecond.toFixed(1)}/s · sign-ins ${s.perSecond.toFixed(1)}/s (${r.ratio.toFixed(2)}×, ${s.failed} failed, starved ${s.starvedMs} ms) · load straight to the upstream p99 ${direct.p99} ms · gateway p99 ${g.p99} ms alone, ${gs.p99} ms in a storm of ${st.perSecond.toFixed(1)} sign-ins/s (Δ ${r.p99DeltaMs.toFixed(2)} ms) · gateway-only process p99 ${sep.p99} ms alone, ${sepStorm.p99} ms in a storm of ${st2.perSecond.toFixed(1)}/s (Δ ${r.separateP99DeltaMs.toFixed(2)} ms) · straight to the upstream in a storm p99 ${directStorm.p99} ms · gateway thread p99 ${threaded.p99} ms alone, ${threadedStorm.p99} ms in a storm of ${st4.perSecond.toFixed(1)}/s (Δ ${r.threadedP99DeltaMs.toFixed(2)} ms)`,
      );
      for (const e of [...(s.errors ?? []), ...(st.errors ?? []), ...(st2.errors ?? []), ...(st4.errors ?? [])]) console.error(`  sign-in error: ${e}`);
    }
    await Promise.all([argon.child, driver.child, threadedDriver.child].map((c) => (c.stdin!.end(), stopChild(c))));
    await stopChild(gatewayNode);
    await stopChild(threadedNode);
    await stopChild(node);
    await stopChild(upstream);

    const m = (f: (r: Round) => number) => median(rounds.map(f));
    const cpuA = rounds.every((r) => r.argon.cpuMsPerVerify !== undefined) ? m((r) => r.argon.cpuMsPerVerify!) : undefined;
    const cpuS = rounds.every((r) => r.signin.nodeCpuMsPerSignin !== undefined) ? m((r) => r.signin.nodeCpuMsPerSignin!) : undefined;
    const cpuMain = rounds.every((r) => r.signin.mainCpuMsPerSignin !== undefined) ? m((r) => r.signin.mainCpuMsPerSignin!) : undefined;
    const summary = {
      argonPerSecond: Number(m((r) => r.argon.perSecond).toFixed(1)),
      signinsPerSecond: Number(m((r) => r.signin.perSecond).toFixed(1)),
      ratio: Number(m((r) => r.ratio).toFixed(3)),
      ratioTarget: 0.8,
      signinP50Ms: m((r) => r.signin.p50Ms ?? 0),
      signinP99Ms: m((r) => r.signin.p99Ms ?? 0),
      argonCpuMsPerVerify: cpuA === undefined ? undefined : Number(cpuA.toFixed(2)),
      nodeCpuMsPerSignin: cpuS === undefined ? undefined : Number(cpuS.toFixed(2)),
      mainThreadCpuMsPerSignin: cpuMain === undefined ? undefined : Number(cpuMain.toFixed(2)),
      directP99Ms: Number(m((r) => r.direct.p99).toFixed(3)),
      gatewayRps: Math.round(m((r) => r.gateway.rps)),
      gatewayStormRps: Math.round(m((r) => r.gatewayStorm.rps)),
      gatewayP99Ms: Number(m((r) => r.gateway.p99).toFixed(3)),
      gatewayStormP99Ms: Number(m((r) => r.gatewayStorm.p99).toFixed(3)),
      p99DeltaMs: Number(m((r) => r.p99DeltaMs).toFixed(3)),
      p99DeltaTargetMs: 1,
      separateGatewayP99Ms: Number(m((r) => r.separate.p99).toFixed(3)),
      separateGatewayStormP99Ms: Number(m((r) => r.separateStorm.p99).toFixed(3)),
      separateP99DeltaMs: Number(m((r) => r.separateP99DeltaMs).toFixed(3)),
      directStormP99Ms: Number(m((r) => r.directStorm.p99).toFixed(3)),
      separateStormSigninsPerSecond: Number(m((r) => r.separateStormSignins.perSecond).toFixed(1)),
      threadedGatewayP99Ms: Number(m((r) => r.threaded.p99).toFixed(3)),
      threadedGatewayStormP99Ms: Number(m((r) => r.threadedStorm.p99).toFixed(3)),
      threadedP99DeltaMs: Number(m((r) => r.threadedP99DeltaMs).toFixed(3)),
      threadedStormSigninsPerSecond: Number(m((r) => r.threadedStormSignins.perSecond).toFixed(1)),
      stormSigninsPerSecond: Number(m((r) => r.storm.perSecond).toFixed(1)),
      failedSignins: rounds.reduce((n, r) => n + r.signin.failed + r.storm.failed + r.separateStormSignins.failed + r.threadedStormSignins.failed, 0),
      starvedMs: rounds.reduce((n, r) => n + (r.signin.starvedMs ?? 0) + (r.storm.starvedMs ?? 0), 0),
      gatewayNon2xx: rounds.reduce((n, r) => n + [r.gateway, r.gatewayStorm, r.separate, r.separateStorm, r.threaded, r.threadedStorm].reduce((k, g) => k + g.non2xx + g.errors, 0), 0),
    };
    const verdict = (ok: boolean) => (ok ? 'met' : '**missed**');
    const when = new Date().toISOString();
    const md = `# Sign-in benchmark

${when} · Node ${process.version} · ${cpus().length} cores (${cpus()[0]?.model ?? '?'}) · load average at the end ${loadavg()[0]!.toFixed(1)} · ${ROUNDS} interleaved rounds × ${DURATION / 1000} s · ${CONCURRENCY} in flight · UV_THREADPOOL_SIZE ${process.env['UV_THREADPOOL_SIZE'] ?? '4 (default)'} · medians over the rounds.
Shared machine: absolute numbers drift between runs (±25% or more), read the ratios: each is taken within one round.

| figure | value | target |
|---|---:|---:|
| raw Argon2id verify (m=19456 t=2 p=1, own process) | ${summary.argonPerSecond}/s | |
| complete sign-ins (password + TOTP + consent + code redeemed) | ${summary.signinsPerSecond}/s | |
| sign-ins ÷ raw Argon2id | ${summary.ratio.toFixed(2)}× | ≥ 0.8× (${verdict(summary.ratio >= 0.8)}) |
| sign-in latency p50 / p99 | ${summary.signinP50Ms} / ${summary.signinP99Ms} ms | |
| CPU per raw verify / node CPU per sign-in (of it, the event loop's thread) | ${summary.argonCpuMsPerVerify ?? '–'} / ${summary.nodeCpuMsPerSignin ?? '–'} (${summary.mainThreadCpuMsPerSignin ?? '–'}) ms | |
| p99 of the same fixed-rate load straight to the upstream (the load tool's and the OS's floor) | ${summary.directP99Ms} ms | |
| gateway p99 at ${RATE} req/s offered (${summary.gatewayRps} answered/s), alone | ${summary.gatewayP99Ms} ms | |
| gateway p99 at ${RATE} req/s offered (${summary.gatewayStormRps} answered/s), during a sign-in storm (${summary.stormSigninsPerSecond} sign-ins/s) | ${summary.gatewayStormP99Ms} ms | |
| Δp99 (one event loop for every plane, \`gateway.thread: false\`) | ${summary.p99DeltaMs} ms | ≤ 1 ms (${verdict(summary.p99DeltaMs <= 1)}) |
| the same node with its gateway on a thread of its own (\`gateway.thread: true\`): p99 alone / during a storm on its identity plane (${summary.threadedStormSigninsPerSecond} sign-ins/s) | ${summary.threadedGatewayP99Ms} / ${summary.threadedGatewayStormP99Ms} ms | |
| Δp99, gateway thread | ${summary.threadedP99DeltaMs} ms | ≤ 1 ms (${verdict(summary.threadedP99DeltaMs <= 1)}) |
| the gateway plane in its own process (\`planes: [gateway]\`, same directory): p99 alone / during a storm (${summary.separateStormSigninsPerSecond} sign-ins/s) | ${summary.separateGatewayP99Ms} / ${summary.separateGatewayStormP99Ms} ms | |
| Δp99, gateway in its own process | ${summary.separateP99DeltaMs} ms | (deployment option) |
| p99 of the load straight to the upstream during a storm (no gateway at all: the floor on this machine) | ${summary.directStormP99Ms} ms | |
| failed sign-ins / gateway non-2xx or errors / time starved of TOTP steps | ${summary.failedSignins} / ${summary.gatewayNon2xx} / ${summary.starvedMs} ms | 0 / 0 / 0 |

Sign-ins are driven over HTTP from another process (a fresh cookie jar each: authorize with PKCE, password page, TOTP page, consent, code at /oauth2/token); the node is one process serving the identity and gateway planes. Node CPU per sign-in is user+system time of the node process (from /proc), including its Argon2id threads; the event loop's share is its main thread's time.

| round | Argon2id/s | sign-ins/s | ratio | direct p99 | gateway p99 alone | p99 in storm | Δp99 | storm sign-ins/s | own-process gateway p99 alone | in storm | Δp99 | direct p99 in storm | gateway thread p99 alone | in storm | Δp99 |
|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|
${rounds.map((r, i) => `| ${i + 1} | ${r.argon.perSecond.toFixed(1)} | ${r.signin.perSecond.toFixed(1)} | ${r.ratio.toFixed(2)} | ${r.direct.p99} | ${r.gateway.p99} | ${r.gatewayStorm.p99} | ${r.p99DeltaMs.toFixed(2)} | ${r.storm.perSecond.toFixed(1)} | ${r.separate.p99} | ${r.separateStorm.p99} | ${r.separateP99DeltaMs.toFixed(2)} | ${r.directStorm.p99} | ${r.threaded.p99} | ${r.threadedStorm.p99} | ${r.threadedP99DeltaMs.toFixed(2)} |`).join('\n')}
`;
    console.log(md);
    mkdirSync(join(here, 'results'), { recursive: true });
    writeFileSync(join(here, 'results', 'signin.md'), md);
    writeFileSync(join(here, 'results', 'signin.json'), JSON.stringify({ when, node: process.version, rounds: ROUNDS, durationSeconds: DURATION / 1000, concurrency: CONCURRENCY, users: USERS, gatewayRate: RATE, summary, perRound: rounds }, null, 2) + '\n');
  } finally {
    await Promise.all(children.map(stopChild));
    rmSync(tmp, { recursive: true, force: true });
  }
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  runSigninBench().then(
    () => process.exit(0),
    (e: unknown) => {
      console.error(e);
      process.exit(1);
    },
  );
}
