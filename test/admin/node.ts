/**
 * A real Portcullis node for admin-plane and CLI tests: a temp directory made by
 * `initPortcullis` (SQLite file, master key, admin token), planes on 127.0.0.1 port 0.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startPortcullis, type Portcullis } from '../../src/app.js';
import type { Clock } from '../../src/core/clock.js';
import { silentLogger } from '../../src/core/logger.js';
import { CONFIG_FILE, initPortcullis } from '../../src/init.js';

export const TEST_CONFIG = `issuer: http://127.0.0.1:8080
tls: { mode: off }
listen:
  identity: 127.0.0.1:0
  gateway: 127.0.0.1:0
  admin: 127.0.0.1:0
planes: [identity, admin]
store: sqlite:./portcullis.db
ephemeral: memory
log:
  level: silent
`;

export interface TestNode {
  dir: string;
  configFile: string;
  adminToken: string;
  node: Portcullis;
  admin: string;
  identity: string;
  /** fetch against the admin plane with the admin token (unless `token` is given; null sends none). */
  api(path: string, init?: { method?: string; body?: unknown; token?: string | null; headers?: Record<string, string> }): Promise<{ status: number; headers: Headers; body: any }>;
  close(): Promise<void>;
}

export function tempDir(prefix = 'portcullis-admin-'): string {
  return mkdtempSync(join(tmpdir(), prefix));
}

export async function initDir(dir = tempDir(), config = TEST_CONFIG): Promise<{ dir: string; configFile: string; adminToken: string }> {
  await initPortcullis(dir, { config, logger: silentLogger });
  return { dir, configFile: join(dir, CONFIG_FILE), adminToken: readFileSync(join(dir, 'admin.token'), 'utf8').trim() };
}

/** A node on `base` (TEST_CONFIG unless given) plus `config`. */
export async function startTestNode(opts: { clock?: Clock; config?: string; base?: string } = {}): Promise<TestNode> {
  const { dir, configFile, adminToken } = await initDir(tempDir(), (opts.base ?? TEST_CONFIG) + (opts.config ?? ''));
  const node = await startPortcullis({ configFile, ephemeralPorts: true, logger: silentLogger, ...(opts.clock ? { clock: opts.clock } : {}) });
  const admin = node.urls.admin!;
  const t: TestNode = {
    dir,
    configFile,
    adminToken,
    node,
    admin,
    identity: node.urls.identity!,
    async api(path, init = {}) {
      const headers: Record<string, string> = { ...init.headers };
      const token = init.token === undefined ? adminToken : init.token;
      if (token !== null) headers.authorization = `Bearer ${token}`;
      let body: string | undefined;
      if (init.body !== undefined) {
        headers['content-type'] ??= 'application/json';
        body = typeof init.body === 'string' ? init.body : JSON.stringify(init.body);
      }
      const res = await fetch(admin + path, { method: init.method ?? (body === undefined ? 'GET' : 'POST'), headers, body });
      const text = await res.text();
      const type = res.headers.get('content-type') ?? '';
      return { status: res.status, headers: res.headers, body: type.includes('json') && text ? JSON.parse(text) : text };
    },
    async close() {
      await node.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
  return t;
}

/** A client-credentials token from the identity plane. */
export async function issueToken(identity: string, clientId: string, secret: string): Promise<string> {
  const res = await fetch(`${identity}/oauth2/token`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded', authorization: `Basic ${Buffer.from(`${encodeURIComponent(clientId)}:${encodeURIComponent(secret)}`).toString('base64')}` },
    body: 'grant_type=client_credentials',
  });
  const body = (await res.json()) as { access_token?: string };
  if (res.status !== 200 || !body.access_token) throw new Error(`token request failed: ${res.status} ${JSON.stringify(body)}`);
  return body.access_token;
}
