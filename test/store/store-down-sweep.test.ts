/**
 * Every public endpoint family of a running node, once, while its durable store cannot
 * serve (fail closed): a check or write that cannot be made is denied with a typed 503
 * problem+json (`store.unavailable`; `/readyz`: `store.not-writable` when the store reads
 * but cannot write, `store.unavailable` when it cannot be reached), never a 500,
 * never a wait past 5 s, never a stack trace. What is served from memory (discovery,
 * JWKS, client authentication and token checks, the gateway, transit keys cached for
 * 30 s, the authorize step whose state is ephemeral) keeps answering with correct data.
 *
 * SQLite: the node's directory is a tmpfs filled to the last byte (reads work, every
 * write fails SQLITE_FULL; skipped with the reason where no tmpfs can be mounted).
 * PostgreSQL: the node reaches the database through a TCP relay that is cut (every
 * connection reset, new ones reset at once; test/support/tcp-relay.ts).
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { createServer } from 'node:http';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { test } from 'node:test';
import { TRANSIT_AUDIENCE } from '../../src/http/transit-ops.js';
import { OCSP_STATUS, ocspResponseStatus } from '../../src/pki/ocsp.js';
import { basic, postForm, startTestNode, tempDir, testConfig, type TestNode } from '../support/portcullis.js';
import { createTempPostgresDatabase, serviceTest } from '../support/services.js';
import { openRelay } from '../support/tcp-relay.js';
import { mountTmpfs } from '../support/tmpfs.js';

/** Longer than this is a hang. */
const HANG_MS = 5000;
const REDIRECT = 'http://127.0.0.1:9/cb';

type Kind = 'problem' | 'json' | 'jwks' | 'ocsp' | 'redirect' | 'none' | 'text';
interface Expected {
  status: number;
  kind: Kind;
  /** problem+json `code` */
  code?: string;
  /** OCSP responseStatus */
  ocsp?: number;
}
interface Answer extends Expected {
  took: number;
}

interface Fixture {
  node: TestNode;
  auth: string;
  token: string;
  ciphertext: string;
  caId: string;
  ocspRequest: Buffer;
  clientId: string;
}

/** A node with an app (client credentials and a redirect URI), a transit key, a server certificate and a gateway route. */
async function prepare(node: TestNode, dir: string): Promise<Fixture> {
  const { app, clientSecret } = await node.services.apps.create({ name: 'sweep', audiences: ['orders-api', TRANSIT_AUDIENCE], scopes: ['transit:encrypt:k', 'transit:decrypt:k'], redirectUris: [REDIRECT] }, 'test');
  await node.services.transit.createKey('k', 'aes256-gcm');
  const auth = basic(app.clientId, clientSecret!);
  const token = (await postForm(`${node.urls.identity}/oauth2/token`, { grant_type: 'client_credentials', scope: 'transit:encrypt:k transit:decrypt:k' }, { authorization: auth })).body.access_token as string;
  const enc = await fetch(`${node.urls.identity}/transit/v1/encrypt/k`, { method: 'POST', headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' }, body: JSON.stringify({ plaintext: 'aGk=' }) });
  const { ciphertext } = (await enc.json()) as { ciphertext: string };
  const admin = { authorization: `Bearer ${node.adminToken}`, 'content-type': 'application/json' };
  const issued = await fetch(`${node.urls.admin}/v1/certificates`, { method: 'POST', headers: admin, body: JSON.stringify({ profile: 'server', dns_names: ['sweep.example.org'] }) });
  assert.equal(issued.status, 201);
  const cert = (await issued.json()) as { certificate: string; chain: string };
  const { issuing_ca } = (await (await fetch(`${node.urls.admin}/v1/ca`, { headers: admin })).json()) as { issuing_ca: string };
  // the chain is leaf, intermediate, root
  const intermediate = cert.chain.match(/-----BEGIN CERTIFICATE-----[^-]+-----END CERTIFICATE-----/g)![1]!;
  writeFileSync(join(dir, 'leaf.pem'), cert.certificate);
  writeFileSync(join(dir, 'int.pem'), `${intermediate}\n`);
  // with a nonce: never answered from the responder's cache
  execFileSync('openssl', ['ocsp', '-issuer', join(dir, 'int.pem'), '-cert', join(dir, 'leaf.pem'), '-reqout', join(dir, 'req.der')], { stdio: 'pipe' });
  return { node, auth, token, ciphertext, caId: issuing_ca, ocspRequest: readFileSync(join(dir, 'req.der')), clientId: app.clientId };
}

async function answer(call: () => Promise<Response>): Promise<Answer> {
  const started = Date.now();
  const res = await call();
  const took = Date.now() - started;
  const type = res.headers.get('content-type') ?? '';
  const bytes = Buffer.from(await res.arrayBuffer());
  const text = bytes.toString('utf8');
  // a stack trace, a source path or an exception's text (`/readyz` names the driver code in `reason`, by design)
  assert.doesNotMatch(text, /\bat [^\n]+:\d+:\d+|node_modules|\/src\/|\.ts:\d+|Error:|durable store \w+ failed/, `internals leaked: ${text.slice(0, 300)}`);
  if (type.startsWith('application/problem+json')) {
    const body = JSON.parse(text) as { code: string; status: number; detail: string };
    assert.equal(body.status, res.status);
    // a store taken for down says why on /readyz (breaker.ts: its reason and a fixed summary, never the driver's words)
    if (body.code === 'store.unavailable') assert.match(body.detail, /^(internal error|the durable store is taken for down \(PG_[A-Z_]+: [a-zA-Z ,()]+\); statements are refused until a probe (reaches it|\(every \d+ s at most\) is let in))$/);
    return { status: res.status, kind: 'problem', code: body.code, took };
  }
  if (type === 'application/ocsp-response') return { status: res.status, kind: 'ocsp', ocsp: ocspResponseStatus(new Uint8Array(bytes)), took };
  if (res.status >= 300 && res.status < 400) return { status: res.status, kind: 'redirect', took };
  if (type.startsWith('application/jwk-set+json')) return { status: res.status, kind: 'jwks', took };
  if (type.startsWith('application/json')) return { status: res.status, kind: 'json', took };
  return { status: res.status, kind: text === '' ? 'none' : 'text', took };
}

function calls(f: Fixture): Record<string, () => Promise<Response>> {
  const id = f.node.urls.identity!;
  const signal = () => AbortSignal.timeout(HANG_MS + 2000);
  const form = (body: string) => ({ method: 'POST', headers: { authorization: f.auth, 'content-type': 'application/x-www-form-urlencoded' }, body, signal: signal() });
  const json = (body: unknown, authorization: string) => ({ method: 'POST', headers: { authorization, 'content-type': 'application/json' }, body: JSON.stringify(body), signal: signal() });
  const admin = `Bearer ${f.node.adminToken}`;
  const authorize = new URLSearchParams({ client_id: f.clientId, response_type: 'code', redirect_uri: REDIRECT, scope: 'openid', code_challenge: 'E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM', code_challenge_method: 'S256', state: 'sweep-state' });
  return {
    // first: the transit key is cached for 30 s from its last read
    'transit encrypt': () => fetch(`${id}/transit/v1/encrypt/k`, json({ plaintext: 'aGk=' }, `Bearer ${f.token}`)),
    'transit decrypt': () => fetch(`${id}/transit/v1/decrypt/k`, json({ ciphertext: f.ciphertext }, `Bearer ${f.token}`)),
    discovery: () => fetch(`${id}/.well-known/openid-configuration`, { signal: signal() }),
    jwks: () => fetch(`${id}/jwks`, { signal: signal() }),
    'token (client credentials)': () => fetch(`${id}/oauth2/token`, form('grant_type=client_credentials')),
    introspection: () => fetch(`${id}/oauth2/introspect`, form(`token=${f.token}`)),
    revocation: () => fetch(`${id}/oauth2/revoke`, form(`token=${f.token}`)),
    authorize: () => fetch(`${id}/oauth2/authorize?${authorize}`, { redirect: 'manual', signal: signal() }),
    'admin read': () => fetch(`${f.node.urls.admin}/v1/apps`, { headers: { authorization: admin }, signal: signal() }),
    'admin write': () => fetch(`${f.node.urls.admin}/v1/apps`, json({ name: 'while-down', audiences: ['x'] }, admin)),
    'CRL download': () => fetch(`${id}/pki/crl/${f.caId}.crl`, { signal: signal() }),
    'OCSP GET': () => fetch(`${id}/pki/ocsp/${encodeURIComponent(f.ocspRequest.toString('base64'))}`, { signal: signal() }),
    'OCSP POST': () => fetch(`${id}/pki/ocsp`, { method: 'POST', headers: { 'content-type': 'application/ocsp-request' }, body: new Uint8Array(f.ocspRequest), signal: signal() }),
    issuance: () => fetch(`${f.node.urls.admin}/v1/certificates`, json({ profile: 'server', dns_names: ['down.example.org'] }, admin)),
    'gateway route with a token': () => fetch(`${f.node.urls.gateway}/orders/1`, { headers: { authorization: `Bearer ${f.token}` }, signal: signal() }),
    '/healthz': () => fetch(`${id}/healthz`, { signal: signal() }),
    '/readyz (identity)': () => fetch(`${id}/readyz`, { signal: signal() }),
    '/readyz (admin)': () => fetch(`${f.node.urls.admin}/readyz`, { signal: signal() }),
  };
}

const unavailable: Expected = { status: 503, kind: 'problem', code: 'store.unavailable' };
const notWritable: Expected = { status: 503, kind: 'problem', code: 'store.not-writable' };

/** What a node answers with a store that reads but cannot write (SQLite on a full disk). */
const CANNOT_WRITE: Record<string, Expected> = {
  'transit encrypt': { status: 200, kind: 'json' },
  'transit decrypt': { status: 200, kind: 'json' },
  discovery: { status: 200, kind: 'json' },
  jwks: { status: 200, kind: 'jwks' },
  'token (client credentials)': { status: 200, kind: 'json' },
  introspection: { status: 200, kind: 'json' },
  revocation: unavailable,
  authorize: { status: 303, kind: 'redirect' },
  'admin read': { status: 200, kind: 'json' },
  'admin write': unavailable,
  // the first CRL after start is built, and building one takes the next CRL number (a write)
  'CRL download': unavailable,
  'OCSP GET': { status: 200, kind: 'ocsp', ocsp: OCSP_STATUS.successful },
  'OCSP POST': { status: 200, kind: 'ocsp', ocsp: OCSP_STATUS.successful },
  issuance: unavailable,
  'gateway route with a token': { status: 200, kind: 'text' },
  '/healthz': { status: 200, kind: 'json' },
  '/readyz (identity)': notWritable,
  '/readyz (admin)': notWritable,
};

/** What a node answers with no store at all (PostgreSQL cut away). */
const NO_STORE: Record<string, Expected> = {
  ...CANNOT_WRITE,
  'admin read': unavailable,
  // RFC 6960 §2.3: an OCSP answer is always 200; tryLater when the status cannot be read
  'OCSP GET': { status: 200, kind: 'ocsp', ocsp: OCSP_STATUS.tryLater },
  'OCSP POST': { status: 200, kind: 'ocsp', ocsp: OCSP_STATUS.tryLater },
  // the readiness ping cannot reach the database at all
  '/readyz (identity)': unavailable,
  '/readyz (admin)': unavailable,
};

async function sweep(f: Fixture, expected: Record<string, Expected>): Promise<void> {
  const all = calls(f);
  assert.deepEqual(Object.keys(all).sort(), Object.keys(expected).sort());
  const got: Record<string, Expected> = {};
  const slow: string[] = [];
  for (const [name, call] of Object.entries(all)) {
    const { took, ...a } = await answer(call);
    got[name] = a;
    if (took > HANG_MS) slow.push(`${name}: ${took} ms`);
  }
  assert.deepEqual(got, expected);
  assert.deepEqual(slow, [], 'answered after more than 5 s');
}

/** A node whose gateway route `orders` requires a token for orders-api, proxied to a local upstream. */
async function withUpstream<T>(fn: (routes: string) => Promise<T>): Promise<T> {
  const up = createServer((_req, res) => res.end('upstream-ok'));
  await new Promise<void>((r) => up.listen(0, '127.0.0.1', r));
  const port = (up.address() as AddressInfo).port;
  try {
    return await fn(`routes:\n  - name: orders\n    match: { pathPrefix: /orders }\n    upstream: http://127.0.0.1:${port}\n    require:\n      token: { audience: orders-api }\n`);
  } finally {
    up.close();
  }
}

const mounted = mountTmpfs('32m');
if (typeof mounted === 'string') {
  test(`store-down sweep, SQLite on a full disk [skipped: ${mounted}]`, { skip: mounted }, () => undefined);
} else {
  test('store-down sweep, SQLite on a full disk: every endpoint family answers its exact status and code, none 500, none past 5 s', { timeout: 120_000 }, async () => {
    const fs = mounted;
    let node: TestNode | undefined;
    try {
      await withUpstream(async (routes) => {
        mkdirSync(join(fs.dir, 'node'));
        node = await startTestNode({ dir: join(fs.dir, 'node'), keepDir: true, config: testConfig(routes) });
        const f = await prepare(node, fs.dir);
        fs.fill();
        await sweep(f, CANNOT_WRITE);
        fs.free();
      });
    } finally {
      fs.free();
      await node?.stop();
      fs.unmount();
    }
  });
}

await serviceTest('postgres', 'store-down sweep, PostgreSQL cut away: every endpoint family answers its exact status and code, none 500, none past 5 s', async () => {
  const db = await createTempPostgresDatabase();
  const proxy = await openRelay(db.url);
  const dir = tempDir('portcullis-sweep-');
  let node: TestNode | undefined;
  try {
    await withUpstream(async (routes) => {
      node = await startTestNode({ dir, config: testConfig(`store: ${proxy.url}\npostgres: { statementTimeout: 1s }\n${routes}`) });
      const f = await prepare(node, dir);
      proxy.cut();
      await sweep(f, NO_STORE);
    });
  } finally {
    proxy.restore();
    await node?.stop();
    await proxy.close();
    await db.drop();
  }
});
