/**
 * Fixtures for the CA-in-the-node tests: a TLS node with a trust domain and an mTLS
 * route, an echo upstream that reports the headers it got, an HTTPS client that can
 * present a client certificate, and async openssl/curl runners (the node runs in
 * this process, so a synchronous child would block its event loop).
 */
import { execFile } from 'node:child_process';
import { createServer, type Server } from 'node:http';
import { request as httpsRequest } from 'node:https';
import type { AddressInfo } from 'node:net';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import assert from 'node:assert/strict';
import { runCli } from '../cli/run.js';
import { startRefused, startTestNode, testConfig, type TestNode } from '../support/portcullis.js';

export const TRUST_DOMAIN = 'example.org';

export async function echoUpstream(): Promise<{ server: Server; url: string; last: () => Record<string, string | string[] | undefined> }> {
  let last: Record<string, string | string[] | undefined> = {};
  const server = createServer((req, res) => {
    last = req.headers;
    res.setHeader('content-type', 'application/json');
    res.end(JSON.stringify({ headers: req.headers }));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return { server, url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, last: () => last };
}

export function tlsNodeConfig(upstream: string, extra = '', pki = ''): string {
  return testConfig(
    `pki: { trustDomain: ${TRUST_DOMAIN}${pki ? `, ${pki}` : ''} }
tls: { mode: auto }
${extra}
routes:
  - name: mtls
    match: { pathPrefix: /mtls }
    upstream: ${upstream}
    require:
      clientCertificate: { mapToApp: true }
  - name: api
    match: { pathPrefix: /api }
    upstream: ${upstream}
    require:
      token: { audience: orders-api }
  - name: both
    match: { pathPrefix: /both }
    upstream: ${upstream}
    require:
      clientCertificate: { mapToApp: true }
      token: { audience: orders-api }
  - name: open
    match: { pathPrefix: /open }
    upstream: ${upstream}
`,
    'https://127.0.0.1:8080',
  );
}

export async function startTlsNode(upstream: string, extra = '', opts: { dir?: string; keepDir?: boolean; pki?: string } = {}): Promise<TestNode> {
  const { pki, ...rest } = opts;
  return startTestNode({ config: tlsNodeConfig(upstream, extra, pki), ...rest });
}

export interface Reply {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  text: string;
  json: any;
}

/** One HTTPS request on a fresh connection (no agent), optionally with a client certificate. */
export function https(
  url: string,
  o: { ca: string; cert?: string; key?: string; method?: string; headers?: Record<string, string>; body?: string; agent?: import('node:https').Agent },
): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const r = httpsRequest(
      url,
      {
        method: o.method ?? 'GET',
        ca: o.ca,
        ...(o.cert ? { cert: o.cert, key: o.key } : {}),
        headers: o.headers ?? {},
        agent: o.agent ?? false,
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => {
          const text = Buffer.concat(chunks).toString('utf8');
          let json: any;
          try {
            json = JSON.parse(text);
          } catch {
            json = undefined;
          }
          resolve({ status: res.statusCode!, headers: res.headers, text, json });
        });
      },
    );
    r.on('error', reject);
    r.end(o.body);
  });
}

export async function admin(node: TestNode, method: string, path: string, body?: unknown): Promise<{ status: number; json: any }> {
  const res = await fetch(`${node.urls.admin}${path}`, {
    method,
    headers: { authorization: `Bearer ${node.adminToken}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  return { status: res.status, json: await res.json() };
}

export async function createApp(node: TestNode, name: string, method = 'tls_client_auth', extra: Record<string, unknown> = {}): Promise<string> {
  const r = await admin(node, 'POST', '/v1/apps', { name, audiences: ['orders-api'], token_endpoint_auth_method: method, ...extra });
  if (r.status !== 201) throw new Error(`app create failed: ${JSON.stringify(r.json)}`);
  return r.json.app?.client_id ?? r.json.client_id;
}

export async function clientCert(node: TestNode, clientId: string): Promise<{ serial: string; cert: string; key: string; chain: string }> {
  const r = await admin(node, 'POST', '/v1/certificates', { profile: 'client', client_id: clientId });
  if (r.status !== 201) throw new Error(`issue failed: ${JSON.stringify(r.json)}`);
  return { serial: r.json.serial, cert: r.json.certificate, key: r.json.private_key, chain: r.json.chain };
}

const execFileAsync = promisify(execFile);

/** Runs a command without blocking the event loop; never throws (status and output). */
export async function run(cmd: string, args: string[]): Promise<{ code: number; out: string; err: string }> {
  try {
    const { stdout, stderr } = await execFileAsync(cmd, args, { timeout: 30_000 });
    return { code: 0, out: stdout, err: stderr };
  } catch (e) {
    const x = e as { code?: number; stdout?: string; stderr?: string };
    return { code: typeof x.code === 'number' ? x.code : 1, out: x.stdout ?? '', err: x.stderr ?? '' };
  }
}

export function files(entries: Record<string, string | Uint8Array>): Record<string, string> {
  const dir = mkdtempSync(join(tmpdir(), 'portcullis-pki-node-'));
  const out: Record<string, string> = {};
  for (const [name, content] of Object.entries(entries)) {
    out[name] = join(dir, name);
    writeFileSync(out[name]!, content);
  }
  return out;
}

/**
 * The node in `dir` refuses to start with `code` and a message matching `message`, and
 * `portcullis config check` refuses its files with the same line.
 */
export async function assertStartAndCheckRefuse(dir: string, code: string, message: RegExp): Promise<void> {
  const e = await startRefused(dir);
  assert.equal(e.code, code);
  assert.match(e.message, message);
  const check = await runCli(['config', 'check', '--dir', dir]);
  assert.equal(check.code, 1, check.stdout);
  assert.equal(check.stderr, `error: ${code}: ${e.message}\n`);
}
