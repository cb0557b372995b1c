/**
 * Shared by the message-policy scenarios (bench/scenarios/12-…18-*.ts): start
 * `bench/servers/gateway-message.ts` in a mode, load it with the request it signed or
 * encrypted for itself, and keep the crypto-only rates it measured in
 * `bench/results/raw-rates.json` for `bench/message-policies-report.ts`.
 */
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Scenario } from './types.js';

const RATES = join(dirname(fileURLToPath(import.meta.url)), 'results', 'raw-rates.json');

interface RawRates {
  /** The bench runner's pid: rates from another run are dropped. */
  run: number;
  when: string;
  rates: Record<string, Record<string, number>>;
}

function recordRaw(scenario: string, raw: Record<string, number>): void {
  let file: RawRates | undefined;
  if (existsSync(RATES)) {
    try {
      file = JSON.parse(readFileSync(RATES, 'utf8')) as RawRates;
    } catch {
      file = undefined;
    }
  }
  if (file === undefined || file.run !== process.pid) file = { run: process.pid, when: new Date().toISOString(), rates: {} };
  file.rates[scenario] = raw;
  mkdirSync(dirname(RATES), { recursive: true });
  writeFileSync(RATES, JSON.stringify(file, null, 2) + '\n');
}

export type MessageMode = 'token' | 'hmac' | 'ed25519' | 'p256' | 'jwe-ecdh' | 'jwe-dir';

export function messageScenario(name: string, description: string, mode: MessageMode, compareTo?: string): Scenario {
  return {
    name,
    description,
    ...(compareTo !== undefined ? { compareTo } : {}),
    start: async (ctx) => {
      const out = join(tmpdir(), `portcullis-bench-message-${mode}-${process.pid}-${Date.now()}.json`);
      const s = await ctx.spawnServer('gateway-message', { MODE: mode, OUT: out, UPSTREAM_URL: ctx.upstreamUrl, ISSUER: ctx.issuer, KID: ctx.kid, PUBLIC_KEY_PEM_FILE: ctx.publicKeyPemFile });
      const o = JSON.parse(readFileSync(out, 'utf8')) as { path: string; headers: Record<string, string>; body: string; raw: Record<string, number> };
      rmSync(out, { force: true });
      if (Object.keys(o.raw).length > 0) recordRaw(name, o.raw);
      // client_id app-0: the app the server's keys belong to
      const [token] = await ctx.mint(1, 'bench-api', 'bench:read');
      return { load: { url: s.url, path: o.path, method: 'POST', headers: { ...o.headers, authorization: `Bearer ${token!}` }, body: o.body }, stop: s.stop };
    },
  };
}

/**
 * The bare proxy loaded with a message scenario's exact request: the server of `mode`
 * signs or encrypts its request as in `messageScenario` and is stopped, then the bare
 * proxy relays that request (same bearer token size, same signature fields, same JWE
 * body) without checking any of it. The load tool, the proxy and the upstream carry the
 * same bytes as in the scenario, so the scenario's ratio against this one is what its
 * checks cost, as "gateway + token (1 token)" is read against "bare proxy, same request".
 */
export function bareSameRequestScenario(name: string, mode: MessageMode): Scenario {
  return {
    name,
    description: `the bare proxy relaying the "${mode}" message scenario's request unchecked`,
    start: async (ctx) => {
      const out = join(tmpdir(), `portcullis-bench-message-bare-${mode}-${process.pid}-${Date.now()}.json`);
      const signer = await ctx.spawnServer('gateway-message', { MODE: mode, OUT: out, UPSTREAM_URL: ctx.upstreamUrl, ISSUER: ctx.issuer, KID: ctx.kid, PUBLIC_KEY_PEM_FILE: ctx.publicKeyPemFile, RAW_RATES: '0' });
      const o = JSON.parse(readFileSync(out, 'utf8')) as { path: string; headers: Record<string, string>; body: string };
      rmSync(out, { force: true });
      await signer.stop();
      const s = await ctx.spawnServer('bare-proxy', { UPSTREAM_URL: ctx.upstreamUrl });
      const [token] = await ctx.mint(1, 'bench-api', 'bench:read');
      return { load: { url: s.url, path: o.path, method: 'POST', headers: { ...o.headers, authorization: `Bearer ${token!}` }, body: o.body }, stop: s.stop, pids: s.child.pid !== undefined ? [s.child.pid] : [] };
    },
  };
}
