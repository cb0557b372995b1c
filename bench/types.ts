/**
 * A benchmark scenario: what server(s) to start and what load to send. Scenarios live
 * in bench/scenarios/*.ts (each default-exports one), run in file-name order, and are
 * interleaved round by round with the others by bench/run.ts.
 */
import type { ChildProcess } from 'node:child_process';

export interface Load {
  /** Base URL of the server under load. */
  url: string;
  path?: string;
  method?: string;
  headers?: Record<string, string>;
  body?: string;
  /** Bearer tokens to rotate through, one per request (Authorization set from them). */
  tokens?: string[];
  /** HTTPS: the CA (PEM) and, for mutual TLS, the client certificate chain and key (PEM). */
  tls?: { ca: string; cert?: string; key?: string };
}

export interface Started {
  load: Load;
  stop(): Promise<void>;
  /** The server processes whose CPU is this scenario's, when it did not spawn them itself (a server shared with another scenario). */
  pids?: number[];
}

export interface BenchContext {
  /** URL of the shared upstream (a node:http hello world in its own process). */
  upstreamUrl: string;
  /** The identity the bench mints tokens as. */
  issuer: string;
  /** PEM of the public key tokens are signed with, and its kid/alg. */
  publicKeyPemFile: string;
  kid: string;
  /** Mints `n` distinct access tokens for `aud`, valid for the whole run. */
  mint(n: number, aud: string, scope: string): Promise<string[]>;
  /** Starts `bench/servers/<name>.ts` in its own process; resolves with its URL once it listens. */
  spawnServer(name: string, env: Record<string, string>): Promise<{ url: string; child: ChildProcess; stop(): Promise<void> }>;
}

export interface Scenario {
  name: string;
  description: string;
  /** The scenario the others' req/s ratio is computed against (exactly one). */
  baseline?: boolean;
  /** Also report this scenario's req/s against the named scenario of the same round (e.g. mTLS against TLS). */
  compareTo?: string;
  start(ctx: BenchContext): Promise<Started>;
}
