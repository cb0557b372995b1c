/**
 * Real listeners for the gateway tests: an upstream that records what reaches it, a
 * gateway server built with createGateway, a key pair behind VerificationKeys and a
 * token minter (jose).
 */
import { generateKeyPairSync, randomBytes, type KeyObject } from 'node:crypto';
import { after, before } from 'node:test';
import http from 'node:http';
import net from 'node:net';
import type { AddressInfo } from 'node:net';
import { SignJWT, type JWTPayload } from 'jose';
import { Registry } from 'prom-client';
import { MemoryAuditSink } from '../../src/audit/sink.js';
import { FrozenClock } from '../../src/core/clock.js';
import { configSchema, routeSchema, type RouteConfig } from '../../src/core/config/schema.js';
import { silentLogger, type Logger } from '../../src/core/logger.js';
import type { VerificationKey, VerificationKeys } from '../../src/crypto/verification-keys.js';
import { attachGateway, createGateway, gatewayServerOptions, type Gateway, type PolicyStep } from '../../src/gateway/gateway.js';
import { signatureStep } from '../../src/gateway/signature-policy.js';
import { importParams } from '../../src/signatures/algorithms.js';
import { MemoryEphemeralStore } from '../../src/store/memory/ephemeral.js';
import { RevocationSet } from '../../src/tokens/revocation-set.js';

export const ISSUER = 'https://id.portcullis.test';
/** The frozen "now" of every test: 2027-01-15T08:00:00Z. */
export const NOW = 1_800_000_000_000;
export const NOW_S = NOW / 1000;

export interface SeenRequest {
  method: string;
  url: string;
  headers: http.IncomingHttpHeaders;
  rawHeaders: string[];
  body: string;
  complete: boolean;
}

export interface Upstream {
  url: string;
  port: number;
  seen: SeenRequest[];
  close(): Promise<void>;
}

export type UpstreamHandler = (req: http.IncomingMessage, res: http.ServerResponse, seen: SeenRequest) => void;

/** Echoes method, url, headers and body as JSON, unless a handler is given. */
export async function startUpstream(handler?: UpstreamHandler): Promise<Upstream> {
  const seen: SeenRequest[] = [];
  const server = http.createServer((req, res) => {
    const s: SeenRequest = { method: req.method!, url: req.url!, headers: req.headers, rawHeaders: req.rawHeaders, body: '', complete: false };
    seen.push(s);
    if (handler !== undefined) {
      req.on('data', (c: Buffer) => (s.body += c.toString()));
      req.on('end', () => (s.complete = true));
      handler(req, res, s);
      return;
    }
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('error', () => {});
    req.on('end', () => {
      s.body = Buffer.concat(chunks).toString();
      s.complete = true;
      const out = JSON.stringify({ method: s.method, url: s.url, headers: s.headers, body: s.body });
      res.writeHead(200, { 'content-type': 'application/json', 'x-upstream': 'yes', 'content-length': Buffer.byteLength(out) });
      res.end(out);
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as AddressInfo).port;
  return {
    url: `http://127.0.0.1:${port}`,
    port,
    seen,
    close: () =>
      new Promise<void>((r) => {
        server.closeAllConnections();
        server.close(() => r());
      }),
  };
}

/** A VerificationKeys over keys the test generates. */
export class TestKeys implements VerificationKeys {
  readonly byKid = new Map<string, VerificationKey & { privateKey: KeyObject }>();

  add(kid: string, alg: 'ES256' | 'EdDSA' | 'RS256' = 'ES256'): VerificationKey & { privateKey: KeyObject } {
    const pair =
      alg === 'ES256'
        ? generateKeyPairSync('ec', { namedCurve: 'P-256' })
        : alg === 'EdDSA'
          ? generateKeyPairSync('ed25519')
          : generateKeyPairSync('rsa', { modulusLength: 2048 });
    const k = { kid, alg, key: pair.publicKey, privateKey: pair.privateKey };
    this.byKid.set(kid, k);
    return k;
  }

  getVerificationKey(kid: string): VerificationKey | undefined {
    return this.byKid.get(kid);
  }
}

export interface MintOptions {
  kid?: string;
  alg?: string;
  typ?: string | undefined;
  header?: Record<string, unknown>;
  key?: KeyObject | Uint8Array;
}

/** A self access token for `aud: 'orders-api'`, valid at NOW, unless claims say otherwise. */
export function baseClaims(over: JWTPayload = {}): JWTPayload {
  return {
    iss: ISSUER,
    sub: 'user-1',
    client_id: 'app-1',
    aud: 'orders-api',
    scope: 'orders:read orders:write',
    jti: `jti-${Math.random().toString(36).slice(2)}`,
    iat: NOW_S - 10,
    exp: NOW_S + 600,
    ...over,
  };
}

export async function mint(keys: TestKeys, claims: JWTPayload, o: MintOptions = {}): Promise<string> {
  const kid = o.kid ?? 'k1';
  const k = keys.byKid.get(kid);
  const alg = o.alg ?? k?.alg ?? 'ES256';
  const header: Record<string, unknown> = { alg, kid, ...o.header };
  if (!('typ' in o)) header['typ'] = 'at+jwt';
  else if (o.typ !== undefined) header['typ'] = o.typ;
  return new SignJWT(claims).setProtectedHeader(header as { alg: string }).sign(o.key ?? k!.privateKey);
}

/** Route config through the schema, so defaults are the real ones. */
export function route(input: Record<string, unknown>): RouteConfig {
  return routeSchema.parse(input);
}

export interface TestGateway {
  url: string;
  port: number;
  gw: Gateway;
  server: http.Server;
  audit: MemoryAuditSink;
  clock: FrozenClock;
  revocations: RevocationSet;
  metrics: Registry;
  close(): Promise<void>;
}

export async function startGateway(
  routes: RouteConfig[],
  o: { keys?: TestKeys; gateway?: Record<string, unknown>; tokens?: Record<string, unknown>; leewayMs?: number; logger?: Logger; steps?: (r: RouteConfig) => PolicyStep[] } = {},
): Promise<TestGateway> {
  const cfg = configSchema.parse({ gateway: o.gateway ?? {}, tokens: o.tokens ?? {} });
  const audit = new MemoryAuditSink();
  const clock = new FrozenClock(NOW);
  const revocations = new RevocationSet();
  const metrics = new Registry();
  const gw = createGateway({
    routes,
    gateway: cfg.gateway,
    issuer: ISSUER,
    keys: o.keys ?? new TestKeys(),
    revocations,
    audit,
    clock,
    leewayMs: o.leewayMs ?? 30_000,
    maxTokenLifetimeMs: cfg.tokens.maxTokenLifetime,
    logger: o.logger ?? silentLogger,
    metrics,
    random: () => 0,
    ...(o.steps !== undefined ? { steps: o.steps } : {}),
  });
  const server = http.createServer(gatewayServerOptions(cfg.gateway), gw.handle);
  attachGateway(server, gw);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as AddressInfo).port;
  return {
    url: `http://127.0.0.1:${port}`,
    port,
    gw,
    server,
    audit,
    clock,
    revocations,
    metrics,
    close: async () => {
      server.closeAllConnections();
      await new Promise<void>((r) => server.close(() => r()));
      await gw.close();
    },
  };
}

/** A gateway and its echoing upstream, started before a suite's tests and closed after them (`gatewaySuite`). */
export interface GatewaySuite {
  readonly upstream: Upstream;
  readonly gw: TestGateway;
}

/**
 * Registers, in the calling `describe`, the start of an echoing upstream and of a gateway
 * with `routes(upstreamUrl)` (token key `k1`, more options as `startGateway` takes them)
 * before its tests, and their close after them.
 *
 * @example
 * const fx = gatewaySuite((up) => [route({ name: 'public', match: { pathPrefix: '/' }, upstream: up })]);
 * it('…', async () => assert.equal((await send(fx.gw.url, { path: '/' })).status, 200));
 */
export function gatewaySuite(routes: (upstreamUrl: string) => RouteConfig[], o: Omit<NonNullable<Parameters<typeof startGateway>[1]>, 'keys'> = {}): GatewaySuite {
  let upstream: Upstream | undefined;
  let gw: TestGateway | undefined;
  before(async () => {
    upstream = await startUpstream();
    const keys = new TestKeys();
    keys.add('k1');
    gw = await startGateway(routes(upstream.url), { keys, ...o });
  });
  after(async () => {
    await gw?.close();
    await upstream?.close();
  });
  return {
    get upstream() {
      return upstream!;
    },
    get gw() {
      return gw!;
    },
  };
}

export interface Reply {
  status: number;
  headers: http.IncomingHttpHeaders;
  rawHeaders: string[];
  body: string;
}

/** One request with node:http (no connection reuse), headers as given (array form keeps duplicates). */
export function send(
  url: string,
  o: { method?: string; path?: string; headers?: Record<string, string> | [string, string][]; body?: string | Buffer } = {},
): Promise<Reply> {
  const u = new URL(url);
  return new Promise((resolve, reject) => {
    const headers = Array.isArray(o.headers) ? o.headers.flat() : o.headers;
    const req = http.request(
      { host: u.hostname, port: u.port, method: o.method ?? 'GET', path: o.path ?? '/', headers, agent: false },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => resolve({ status: res.statusCode!, headers: res.headers, rawHeaders: res.rawHeaders, body: Buffer.concat(chunks).toString() }));
        res.on('error', reject);
      },
    );
    req.on('error', reject);
    req.end(o.body);
  });
}

/**
 * Writes raw bytes on a TCP socket and returns everything read until the server closes or `waitMs` passes.
 * `from` is the local address to connect from (any of 127.0.0.0/8), for tests of `gateway.trustedProxies`.
 */
export function rawRequest(port: number, text: string | Buffer, waitMs = 2000, from?: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const sock = net.connect({ port, host: '127.0.0.1', ...(from !== undefined ? { localAddress: from } : {}) });
    let out = '';
    const timer = setTimeout(() => {
      sock.destroy();
      resolve(out);
    }, waitMs);
    sock.on('data', (c) => (out += c.toString('latin1')));
    sock.on('end', () => {
      clearTimeout(timer);
      resolve(out);
    });
    sock.on('error', (e) => {
      clearTimeout(timer);
      if (out) resolve(out);
      else reject(e);
    });
    sock.write(text);
  });
}

export function bearer(token: string): Record<string, string> {
  return { authorization: `Bearer ${token}` };
}

export function problem(r: Reply): { code: string; status: number; type: string; title: string; detail?: string } {
  assertProblemType(r);
  return JSON.parse(r.body) as { code: string; status: number; type: string; title: string; detail?: string };
}

function assertProblemType(r: Reply): void {
  if (r.headers['content-type'] !== 'application/problem+json') throw new Error(`expected problem+json, got ${r.headers['content-type']} (${r.status}: ${r.body})`);
}

/** The status code of a raw HTTP/1.1 answer (`rawRequest`); 0 when there is none. */
export function statusOf(raw: string): number {
  return Number(/^HTTP\/1\.1 (\d{3})/.exec(raw)?.[1] ?? 0);
}

/** The `code` of a raw answer's problem+json body, if it has one. */
export function codeOf(raw: string): string | undefined {
  try {
    return (JSON.parse(raw.slice(raw.indexOf('\r\n\r\n') + 4)) as { code?: string }).code;
  } catch {
    return undefined;
  }
}

export interface HmacGateway {
  gw: TestGateway;
  upstream: Upstream;
  /** The nonce store of the signature step. */
  ephemeral: MemoryEphemeralStore;
  /** The signature step's clock (at NOW): set it to move `created` windows. */
  clock: FrozenClock;
  /** Signs as key `app1-key` of app `app1` (hmac-sha256). */
  signKey: CryptoKey;
  /** `127.0.0.1:<port>` of the gateway. */
  host: string;
}

/**
 * A gateway whose routes with `require.signature` run the real signature step, knowing one
 * HMAC key (`app1-key` of app `app1`), over an upstream that records what reaches it.
 *
 * @example
 * ({ gw, upstream, ephemeral, signKey, host } = await startHmacGateway((up) => [route({ name: 'orders', match: { pathPrefix: '/orders' }, upstream: up, require: { signature: {} } })]));
 */
export async function startHmacGateway(routes: (upstreamUrl: string) => RouteConfig[], o: { gateway?: Record<string, unknown> } = {}): Promise<HmacGateway> {
  const secret = randomBytes(32);
  const signKey = await crypto.subtle.importKey('raw', secret, importParams('hmac-sha256'), false, ['sign']);
  const verifyKey = await crypto.subtle.importKey('raw', secret, importParams('hmac-sha256'), true, ['verify']);
  const clock = new FrozenClock(NOW);
  const ephemeral = new MemoryEphemeralStore({ clock });
  const deps = { appSigningKeys: { lookup: (k: string) => (k === 'app1-key' ? { key: verifyKey, alg: 'hmac-sha256' as const, clientId: 'app1' } : undefined) }, ephemeral, clock } as never;
  const upstream = await startUpstream();
  const gw = await startGateway(routes(upstream.url), { steps: (r) => (r.require.signature ? [signatureStep(r, r.require.signature, deps)] : []), ...(o.gateway !== undefined ? { gateway: o.gateway } : {}) });
  return { gw, upstream, ephemeral, clock, signKey, host: `127.0.0.1:${gw.port}` };
}
