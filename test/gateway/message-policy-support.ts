/**
 * A whole Portcullis node with routes that require signatures and/or encryption, an
 * upstream that records what reaches it, apps with tokens and signing keys, and a
 * client that signs requests by hand (so tests can tamper after signing).
 */
import assert from 'node:assert/strict';
import { generateKeyPairSync, randomBytes, type KeyObject } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, beforeEach } from 'node:test';
import type { JWK } from 'jose';
import { importParams } from '../../src/signatures/algorithms.js';
import { contentDigest } from '../../src/signatures/content-digest.js';
import { signMessage, type SignOptions } from '../../src/signatures/sign.js';
import type { SignatureAlgorithm } from '../../src/signatures/types.js';
import { basic, postForm, startTestNode, tempDir, testConfig, type TestNode } from '../support/portcullis.js';
import { startUpstream, type Upstream } from './helpers.js';

export const AUDIENCE = 'orders-api';

export interface PolicyNode {
  node: TestNode;
  upstream: Upstream;
  gateway: string;
  stop(): Promise<void>;
}

/** `routes` is YAML for the route list, with `UPSTREAM` standing for the upstream URL. */
export async function startPolicyNode(routes: string, extra = '', opts: { env?: NodeJS.ProcessEnv } = {}): Promise<PolicyNode> {
  const upstream = await startUpstream();
  // plain HTTP listeners, unless testConfig already says so (TLS is the product default)
  const tls = testConfig().includes('tls:') ? '' : 'tls: { mode: off }\n';
  const node = await startTestNode({ config: testConfig(`${tls}${extra}\nroutes:\n${routes.replaceAll('UPSTREAM', upstream.url)}`), ...(opts.env ? { env: opts.env } : {}) });
  // A signature's `created` is whole seconds, and a nonce made before the replay store started
  // is refused (signature.nonce-unverifiable, fail closed): sign only from the next second on.
  await new Promise((r) => setTimeout(r, 1005 - (Date.now() % 1000)));
  return {
    node,
    upstream,
    gateway: node.urls.gateway!,
    stop: async () => {
      await node.stop();
      await upstream.close();
    },
  };
}

export interface TestApp {
  clientId: string;
  secret: string;
  token(): Promise<string>;
}

export async function createApp(node: TestNode, name: string): Promise<TestApp> {
  const { app, clientSecret } = await node.services.apps.create({ name, audiences: [AUDIENCE], scopes: ['orders:write'] }, 'test');
  let cached: string | undefined;
  return {
    clientId: app.clientId,
    secret: clientSecret!,
    async token() {
      if (cached) return cached;
      const r = await postForm(`${node.urls.identity}/oauth2/token`, { grant_type: 'client_credentials', scope: 'orders:write', resource: AUDIENCE }, { authorization: basic(app.clientId, clientSecret!) });
      if (r.status !== 200) throw new Error(`token: ${r.status} ${JSON.stringify(r.body)}`);
      cached = r.body.access_token as string;
      return cached;
    },
  };
}

export interface TestSigningKey {
  keyid: string;
  alg: SignatureAlgorithm;
  /** WebCrypto signing key. */
  key: CryptoKey;
  /** For the http-message-signatures package. */
  nodeKey: KeyObject | Buffer;
  /** base64url HMAC secret (hmac only). */
  secret?: string;
}

export async function addSigningKey(node: TestNode, clientId: string, alg: 'hmac-sha256' | 'ed25519' | 'ecdsa-p256-sha256'): Promise<TestSigningKey> {
  const keys = node.services.appSigningKeys;
  if (alg === 'hmac-sha256') {
    const { key, secret } = await keys.add(clientId, { type: 'hmac' }, 'test');
    const raw = Buffer.from(secret!, 'base64url');
    return { keyid: key.keyid, alg, key: await crypto.subtle.importKey('raw', raw, importParams(alg), false, ['sign']), nodeKey: raw, secret: secret! };
  }
  const pair = alg === 'ed25519' ? generateKeyPairSync('ed25519') : generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const { key } = await keys.add(clientId, { type: 'public', jwk: pair.publicKey.export({ format: 'jwk' }) as JWK }, 'test');
  const cryptoKey = await crypto.subtle.importKey('jwk', pair.privateKey.export({ format: 'jwk' }) as JsonWebKey, importParams(alg), false, ['sign']);
  return { keyid: key.keyid, alg, key: cryptoKey, nodeKey: pair.privateKey };
}

export interface SignedSend {
  method?: string;
  /** Path and query as signed. */
  path: string;
  /** The scheme and authority the signature names, when not those of the URL sent to (a proxy in front). */
  signAs?: string;
  body?: string;
  headers?: Record<string, string>;
  token?: string;
  sign?: Partial<SignOptions> & { key: CryptoKey; alg: SignatureAlgorithm; keyid: string };
  /** Changes applied after signing: what an attacker on the path does. */
  tamper?: (r: { method: string; path: string; body: string | undefined; headers: Record<string, string> }) => void;
}

export interface Answer {
  status: number;
  headers: Headers;
  text: string;
  json: any;
}

/** Signs `@method`, `@target-uri` (+ content-digest) by default with a fresh nonce, then sends. */
export async function sendSigned(base: string, s: SignedSend): Promise<Answer> {
  const method = s.method ?? (s.body !== undefined ? 'POST' : 'GET');
  const headers: Record<string, string> = { ...(s.headers ?? {}) };
  if (s.token) headers['authorization'] = `Bearer ${s.token}`;
  if (s.body !== undefined && headers['content-digest'] === undefined) headers['content-digest'] = await contentDigest(new TextEncoder().encode(s.body));
  if (s.sign) {
    const components = s.sign.components ?? (s.body !== undefined ? ['@method', '@target-uri', 'content-digest'] : ['@method', '@target-uri']);
    const signed = await signMessage(
      { method, url: (s.signAs ?? base) + s.path, headers },
      { nonce: randomBytes(12).toString('base64url'), ...s.sign, components },
    );
    headers['signature-input'] = signed.signatureInput;
    headers['signature'] = signed.signature;
  }
  const r = { method, path: s.path, body: s.body, headers };
  s.tamper?.(r);
  const res = await fetch(base + r.path, { method: r.method, headers: r.headers, ...(r.body !== undefined ? { body: r.body } : {}) });
  const text = await res.text();
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    json = undefined;
  }
  return { status: res.status, headers: res.headers, text, json };
}

/**
 * The newest audit row's sequence number, then (`deniedSince`) the gateway denials stored
 * after it: the node's flush writes the gateway's queued events wherever the gateway runs
 * (its own thread by default), so what the test reads is the stored trail.
 */
export async function auditMark(node: TestNode): Promise<number> {
  await node.services.audit.flush();
  return (await node.services.store.tailAudit(1)).at(-1)?.seq ?? 0;
}

export async function deniedSince(node: TestNode, mark: number): Promise<Array<{ reason?: string | null }>> {
  await node.services.audit.flush();
  return (await node.services.store.listAudit(mark, 1000)).filter((r) => r.type === 'gateway.denied');
}

/** A GET through the gateway with a bearer token: its status, and the problem's code when it is refused. */
export async function callWithToken(gateway: string, token: string, path = '/orders/1'): Promise<{ status: number; code: string | undefined }> {
  const r = await fetch(`${gateway}${path}`, { headers: { authorization: `Bearer ${token}` } });
  const text = await r.text();
  return { status: r.status, code: r.status === 200 ? undefined : (JSON.parse(text) as { code?: string }).code };
}

/** Polls `f` every 25 ms until it is true; fails naming `what` after `ms`. */
export async function eventually(what: string, f: () => Promise<boolean>, ms = 10_000): Promise<void> {
  const until = Date.now() + ms;
  while (Date.now() < until) {
    if (await f()) return;
    await new Promise((r) => setTimeout(r, 25));
  }
  assert.fail(`${what}: not within ${ms} ms`);
}

/**
 * Runs a reconcile of `node` whose store read `method` completes and is then held until
 * `meanwhile` (an admin change) has finished; resolves once the reconcile has installed
 * what it read, which is then older than the change.
 */
export async function reconcileAround(node: TestNode, method: string, meanwhile: () => Promise<void>): Promise<void> {
  const store = node.services.store as unknown as Record<string, (...args: unknown[]) => Promise<unknown>>;
  const original = store[method]!;
  assert.equal(typeof original, 'function', `the store has no ${method}`);
  let readDone!: () => void;
  const read = new Promise<void>((r) => (readDone = r));
  let release!: () => void;
  const held = new Promise<void>((r) => (release = r));
  store[method] = async (...args: unknown[]) => {
    const result = await original.apply(store, args);
    readDone();
    await held;
    return result;
  };
  try {
    const reconciling = node.reconcile();
    await read;
    await meanwhile();
    release();
    await reconciling;
  } finally {
    release();
    delete store[method];
  }
}

/**
 * Registers, where it is called, the hooks of a node whose gateway runs on its thread
 * with the `orders` route (token required) and the reconcile timer an hour away, with
 * test faults (thread-entry.ts) read from `file`: the node starts in `before` (handed to
 * `started`), every test begins with no fault, and the node stops in `after`.
 *
 * @example
 * let p: PolicyNode;
 * const { faults } = faultyGatewayThread<{ apply?: boolean }>((node) => (p = node));
 */
export function faultyGatewayThread<F extends object>(started: (p: PolicyNode) => void, extra = ''): { faults(f: F): void; file: string } {
  const file = join(tempDir('portcullis-thread-faults-'), 'faults.json');
  const faults = (f: F): void => writeFileSync(file, JSON.stringify(f));
  let p: PolicyNode | undefined;
  before(async () => {
    faults({} as F);
    p = await startPolicyNode(
      `  - name: orders\n    match: { pathPrefix: /orders }\n    upstream: UPSTREAM\n    require: { token: { audience: ${AUDIENCE}, scopes: [orders:write] } }\n`,
      `gateway: { thread: true }\nrevocation: { reconcileInterval: 30m }\n${extra}`,
      { env: { PORTCULLIS_TEST_GATEWAY_THREAD_FAULTS: file } },
    );
    assert.ok(p.node.gatewayThread, 'the node runs its gateway on a thread');
    started(p);
  });
  beforeEach(() => faults({} as F));
  after(async () => {
    faults({} as F);
    await p?.stop();
  });
  return { faults, file };
}
