/**
 * Starts a real Portcullis node for feature tests: a fresh directory made by
 * `initPortcullis`, listeners on 127.0.0.1 ephemeral ports, SQLite by default.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { initPortcullis, CONFIG_FILE } from '../../src/init.js';
import { startPortcullis, type Portcullis, type StartOptions } from '../../src/app.js';
import { silentLogger, type Logger } from '../../src/core/logger.js';
import type { Clock } from '../../src/core/clock.js';
import { PortcullisError } from '../../src/core/errors.js';

export interface TestNode extends Portcullis {
  dir: string;
  adminToken: string;
  /** Stops the node and removes its directory. */
  stop(): Promise<void>;
}

/**
 * Starts a node on `dir`'s config and expects it to be refused: returns the typed error
 * (fails the test if the node starts, or if the error is not a PortcullisError).
 */
export async function startRefused(dir: string): Promise<PortcullisError> {
  try {
    const node = await startPortcullis({ configFile: join(dir, CONFIG_FILE), ephemeralPorts: true, logger: silentLogger, env: {} });
    await node.close();
  } catch (e) {
    assert.ok(e instanceof PortcullisError, String(e));
    return e;
  }
  assert.fail('the node started');
}

export function tempDir(prefix = 'portcullis-test-'): string {
  return mkdtempSync(join(tmpdir(), prefix));
}

/** YAML text of a config with every plane on loopback. `extra` is appended verbatim. */
export function testConfig(extra = '', issuer = 'http://127.0.0.1:8080'): string {
  // TLS is on by default; these tests speak plain HTTP unless `extra` configures tls.
  const tls = /^tls:/m.test(extra) ? '' : 'tls: { mode: off }\n';
  return `issuer: ${issuer}\nlisten: { identity: 127.0.0.1:0, gateway: 127.0.0.1:0, admin: 127.0.0.1:0 }\nlog: { level: silent }\n${tls}${extra}\n`;
}

export async function startTestNode(opts: { config?: string; dir?: string; clock?: Clock; env?: NodeJS.ProcessEnv; keepDir?: boolean; logger?: Logger } = {}): Promise<TestNode> {
  const dir = opts.dir ?? tempDir();
  await initPortcullis(dir, { config: opts.config ?? testConfig() });
  const start: StartOptions = { configFile: join(dir, CONFIG_FILE), ephemeralPorts: true, logger: opts.logger ?? silentLogger, env: opts.env ?? {} };
  if (opts.clock) start.clock = opts.clock;
  const node = await startPortcullis(start);
  const { readFileSync } = await import('node:fs');
  const adminToken = readFileSync(join(dir, 'admin.token'), 'utf8').trim();
  return {
    ...node,
    dir,
    adminToken,
    stop: async () => {
      await node.close();
      if (!opts.keepDir) rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** Writes a config file into an existing dir (before init). */
export function writeConfig(dir: string, text: string): void {
  writeFileSync(join(dir, CONFIG_FILE), text);
}

export function basic(clientId: string, secret: string): string {
  return `Basic ${Buffer.from(`${encodeURIComponent(clientId)}:${encodeURIComponent(secret)}`).toString('base64')}`;
}

export async function postForm(url: string, form: Record<string, string>, headers: Record<string, string> = {}): Promise<{ status: number; headers: Headers; body: any }> {
  const res = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded', ...headers }, body: new URLSearchParams(form).toString() });
  const text = await res.text();
  let body: unknown = text;
  try {
    body = text ? JSON.parse(text) : undefined;
  } catch {
    /* not JSON */
  }
  return { status: res.status, headers: res.headers, body };
}
