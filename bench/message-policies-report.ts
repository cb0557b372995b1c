/**
 * Ratios and limits for the signature and encryption scenarios, from the last
 * `npm run bench` (bench/results/latest.json) and the crypto-only rates the servers
 * measured in the same run (bench/results/raw-rates.json). Writes
 * bench/results/message-policies.md.
 *
 *   node --import tsx bench/message-policies-report.ts [results.json]   (default bench/results/latest.json)
 *
 * Targets (issues 4 and 5): HMAC ≥ 0.8× the bare proxy; Ed25519 / P-256 ≥ 0.9× of
 * `1 / (1/proxy_rps + 1/verify_rate)`; ECDH-ES+A256KW ≥ 0.9× of the same limit with
 * the decrypt rate; dir ≥ 0.7× the bare proxy. Every ratio is a median of per-round
 * ratios, so drift between rounds on the shared machine cancels out.
 *
 * "The bare proxy" of each scenario is the bare proxy relaying that scenario's exact
 * request unchecked (same bearer token, signature fields, JWE body), measured A B B A
 * with it in each round (`compareTo`), as the gateway + token row is read against "bare
 * proxy, same request"; for the limits, proxy_rps is that proxy's two windows of the
 * round. The ratio against the plain POST 1 KiB (no token, no signature fields, the
 * plaintext body) is reported beside it.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

interface Round {
  rps: number;
}
interface Row {
  name: string;
  /** The A B B A pair, when the scenario names one with compareTo: its ratio and both windows of each side per round. */
  against?: { name: string; ratio: number; rounds: Array<{ first: { rps: number; against: number }; again: { rps: number; against: number } }> };
  baseline: boolean;
  rps: number;
  cpuUsPerReq?: number;
  non2xx: number;
  errors: number;
  rounds: Round[];
}

const here = dirname(fileURLToPath(import.meta.url));
const latest = JSON.parse(readFileSync(process.argv[2] ?? join(here, 'results', 'latest.json'), 'utf8')) as { when: string; rows: Row[] };
const raw = JSON.parse(readFileSync(join(here, 'results', 'raw-rates.json'), 'utf8')) as { when: string; rates: Record<string, Record<string, number>> };

const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
};
const row = (name: string): Row => {
  const r = latest.rows.find((x) => x.name === name);
  if (r === undefined) throw new Error(`scenario "${name}" is not in latest.json; run npm run bench first`);
  return r;
};

const bare = latest.rows.find((r) => r.baseline)!;
const bpost = row('bare proxy POST 1 KiB');
const perRound = (r: Row, f: (x: Round, i: number) => number): number => median(r.rounds.map(f));
/** proxy_rps of round i. */
const bost = (i: number): number => bpost.rounds[i]!.rps;
const tokenPost = row('gateway + token POST 1 KiB');

/** The scenario's A B B A pair with the bare proxy relaying its request. */
function pairOf(r: Row): NonNullable<Row['against']> {
  if (r.against === undefined) throw new Error(`"${r.name}" has no same-request pair in latest.json`);
  return r.against;
}

/**
 * The limit `1 / (1/proxy_rps + 1/rate)` per round, proxy_rps being both windows of the
 * scenario's same-request bare proxy in the round, and the scenario's own two windows
 * against it: medians over the rounds.
 */
function againstLimit(r: Row, rate: number): { limit: number; ratio: number } {
  const pair = pairOf(r);
  const limitOf = (w: (typeof pair.rounds)[number]): number => 1 / (2 / (w.first.against + w.again.against) + 1 / rate);
  return { limit: median(pair.rounds.map(limitOf)), ratio: median(pair.rounds.map((w) => (w.first.rps + w.again.rps) / 2 / limitOf(w))) };
}

interface Line {
  scenario: string;
  rps: number;
  vsBare: number;
  vsBarePost: number;
  /** Against the gateway with the token step only, same request shape: what the message policy itself costs. */
  vsToken: number;
  /** Against the bare proxy relaying the same request, A B B A (the target's figure for HMAC and dir). */
  vsSame?: number;
  rate?: string;
  limit?: number;
  vsLimit?: number;
  /** Against the same limit computed over the gateway + token rate instead of the bare proxy: the policy step's own efficiency. */
  vsGatewayLimit?: number;
  target: string;
  met: boolean;
  cpu?: number;
  failures: number;
}

const lines: Line[] = [];
function add(name: string, kind: 'reference' | 'proxy' | 'limit', factor: number, rateKey?: string): void {
  const r = row(name);
  const vsBare = perRound(r, (x, i) => x.rps / bare.rounds[i]!.rps);
  const vsBarePost = perRound(r, (x, i) => x.rps / bost(i));
  const vsToken = perRound(r, (x, i) => x.rps / tokenPost.rounds[i]!.rps);
  const line: Line = { scenario: name, rps: r.rps, vsBare, vsBarePost, vsToken, target: '', met: false, failures: r.non2xx + r.errors };
  if (r.cpuUsPerReq !== undefined) line.cpu = r.cpuUsPerReq;
  // like for like: the bare proxy relaying this very request, A B B A in each round
  if (kind !== 'reference') line.vsSame = pairOf(r).ratio;
  if (kind === 'reference') {
    // the gateway alone, for reading the others
  } else if (kind === 'proxy') {
    line.target = `≥ ${factor}× bare proxy, same request`;
    line.met = line.vsSame! >= factor;
  } else {
    const rate = raw.rates[name]?.[rateKey!];
    if (rate === undefined) throw new Error(`no ${rateKey} for "${name}" in raw-rates.json`);
    line.rate = `${rate}/s`;
    // proxy_rps: the bare proxy relaying this very request, both of its windows in the round (A B B A)
    const l = againstLimit(r, rate);
    line.limit = l.limit;
    line.vsLimit = l.ratio;
    line.vsGatewayLimit = perRound(r, (x, i) => x.rps / (1 / (1 / tokenPost.rounds[i]!.rps + 1 / rate)));
    line.target = `≥ ${factor}× limit`;
    line.met = line.vsLimit >= factor;
  }
  lines.push(line);
}

add('gateway + token POST 1 KiB', 'reference', 0);
add('gateway + token + HMAC sig, 1 KiB', 'proxy', 0.8);
add('gateway + token + Ed25519 sig, 1 KiB', 'limit', 0.9, 'verifyPerSecond');
add('gateway + token + P-256 sig, 1 KiB', 'limit', 0.9, 'verifyPerSecond');
add('gateway + token + JWE ECDH-ES+A256KW, 1 KiB', 'limit', 0.9, 'decryptPerSecond');
add('gateway + token + JWE dir, 1 KiB', 'proxy', 0.7);
const ecdh = raw.rates['gateway + token + JWE ECDH-ES+A256KW, 1 KiB'];

const fmt = (n: number | undefined, d = 2): string => (n === undefined ? '–' : n.toFixed(d));
const md = [
  '# Message policies benchmark (issues 4 and 5)',
  '',
  `From the bench run of ${latest.when} (raw rates measured by the scenario servers at start, ${raw.when}). Shared, loaded 2-core machine: absolute req/s drift; read the per-round ratios.`,
  `bare proxy (GET baseline) ${bare.rps} req/s; bare proxy POST 1 KiB ${bpost.rps} req/s.`,
  'limit = 1 / (1/proxy_rps + 1/raw_rate) per round, proxy_rps being the bare proxy relaying the same request (its two windows of the round); "× limit over gateway + token" puts the gateway + token rate in place of proxy_rps, so it shows what the signature/decryption step itself costs beyond its one crypto operation.',
  '',
  '"× bare proxy, same request" is the A B B A pair ratio against the bare proxy relaying the scenario\'s exact request unchecked (token, signature fields or JWE body included).',
  '',
  '| scenario | req/s | × bare proxy (GET) | × bare proxy POST 1 KiB | × bare proxy, same request | × gateway + token POST | raw crypto rate | limit req/s | × limit | × limit over gateway + token | target | met | server CPU µs/req | non-2xx + errors |',
  '|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|---|---:|---:|',
  ...lines.map(
    (l) =>
      `| ${l.scenario} | ${l.rps} | ${fmt(l.vsBare)} | ${fmt(l.vsBarePost)} | ${fmt(l.vsSame)} | ${fmt(l.vsToken)} | ${l.rate ?? '–'} | ${l.limit === undefined ? '–' : Math.round(l.limit)} | ${fmt(l.vsLimit)} | ${fmt(l.vsGatewayLimit)} | ${l.target || '(reference)'} | ${l.target ? (l.met ? 'yes' : 'no') : ''} | ${l.cpu ?? '–'} | ${l.failures} |`,
  ),
  '',
  ecdh?.['decryptPerSecond64'] !== undefined
    ? `jose ECDH-ES+A256KW decrypt: ${ecdh['decryptPerSecond']}/s one at a time (used above), ${ecdh['decryptPerSecond64']}/s with 64 in flight; against the limit computed with the concurrent rate the scenario reaches ${fmt(againstLimit(row('gateway + token + JWE ECDH-ES+A256KW, 1 KiB'), ecdh['decryptPerSecond64']).ratio)}×.`
    : '',
  '',
].join('\n');
writeFileSync(join(here, 'results', 'message-policies.md'), md);
console.log(md);
