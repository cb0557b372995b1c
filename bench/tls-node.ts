/**
 * One whole Portcullis node over TLS (bench/servers/gateway-tls.ts), shared by the
 * "gateway over TLS" and "gateway over mTLS" scenarios: the issue compares the same
 * gateway over mutual TLS against plain TLS, so both load the same process (its JIT,
 * heap and threads), each on its own route, in windows of their own.
 */
import { readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import type { BenchContext } from './types.js';

export interface TlsNode {
  /** https:// URL of the gateway listener. */
  url: string;
  /** The node's root CA, and a client certificate chain and key for the mTLS route (PEM). */
  tls: { ca: string; cert: string; key: string };
  /** The node's process (its CPU is the scenarios'). */
  pid: number;
  /** Stops the node once every scenario that took it has released it. */
  release(): Promise<void>;
}

let node: Promise<Omit<TlsNode, 'release'> & { stop(): Promise<void> }> | undefined;
let users = 0;

export async function sharedTlsNode(ctx: BenchContext): Promise<TlsNode> {
  users++;
  node ??= (async () => {
    const out = join(tmpdir(), `portcullis-bench-tls-${process.pid}-${Date.now()}.json`);
    const s = await ctx.spawnServer('gateway-tls', { OUT: out, UPSTREAM_URL: ctx.upstreamUrl });
    const tls = JSON.parse(readFileSync(out, 'utf8')) as TlsNode['tls'];
    rmSync(out, { force: true });
    return { url: s.url.replace(/^http:/, 'https:'), tls, pid: s.child.pid!, stop: s.stop };
  })();
  const n = await node;
  let released = false;
  return {
    url: n.url,
    tls: n.tls,
    pid: n.pid,
    release: async () => {
      if (released) return;
      released = true;
      if (--users === 0) await n.stop();
    },
  };
}
