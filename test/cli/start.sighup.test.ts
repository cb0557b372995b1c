/**
 * SIGHUP to `portcullis start`, as a separate process: sent by hand or by a service
 * manager (`kill -HUP`, often meant as "reload"), or by the kernel when the node's
 * terminal hangs up (an SSH session that drops). Portcullis does not reload; either way
 * the node stops as on SIGTERM: the request in flight finishes, the queued audit events
 * are written, and (kill -HUP) it exits 0 saying why. Node's default for SIGHUP ended the
 * process at once.
 */
import assert from 'node:assert/strict';
import type { ChildProcess } from 'node:child_process';
import { readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { after, test } from 'node:test';
import Database from 'better-sqlite3';
import { initPortcullis } from '../../src/init.js';
import { issueToken, tempDir } from '../admin/node.js';
import { startUpstream, type Upstream } from '../gateway/helpers.js';
import { gone, onTerminal } from '../support/terminal.js';
import { CLI, cliEnv, exitOf, spawnCli, waitFor } from './run.js';

const UPSTREAM_DELAY_MS = 1500;

/** An upstream that answers after UPSTREAM_DELAY_MS; `arrived` resolves when a request reaches it. */
async function slowUpstream(): Promise<Upstream & { arrived: Promise<void> }> {
  let arrive!: () => void;
  const arrived = new Promise<void>((r) => (arrive = r));
  const upstream = await startUpstream((_req, res) => {
    arrive();
    setTimeout(() => res.end('finished'), UPSTREAM_DELAY_MS);
  });
  return Object.assign(upstream, { arrived });
}

/** A directory whose node logs at info to stdout and routes /slow to `upstream`, every plane on loopback. */
async function nodeDir(upstream: Upstream): Promise<string> {
  const dir = join(tempDir('portcullis-sighup-'), 'node');
  const config = `issuer: http://127.0.0.1:8080
listen: { identity: 127.0.0.1:0, gateway: 127.0.0.1:0, admin: 127.0.0.1:0 }
log: { level: info }
tls: { mode: off }
routes:
  - name: slow
    match: { pathPrefix: /slow }
    upstream: ${upstream.url}
`;
  await initPortcullis(dir, { config });
  return dir;
}

/** The planes' URLs from the `serving …` line. */
function urlsOf(text: string): Record<'identity' | 'gateway' | 'admin', string> {
  const url = (plane: string) => new RegExp(`${plane} (http://[0-9.:]+)`).exec(text)![1]!;
  return { identity: url('identity'), gateway: url('gateway'), admin: url('admin') };
}

/** Creates an app and has a token issued to it: its `token.issued` audit event is queued, not yet written. */
async function appWithToken(dir: string, urls: { identity: string; admin: string }): Promise<string> {
  const token = readFileSync(join(dir, 'admin.token'), 'utf8').trim();
  const res = await fetch(`${urls.admin}/v1/apps`, { method: 'POST', headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' }, body: JSON.stringify({ name: 'hup', audiences: ['x'] }) });
  assert.equal(res.status, 201);
  const app = (await res.json()) as { client_id: string; client_secret: string };
  await issueToken(urls.identity, app.client_id, app.client_secret);
  return app.client_id;
}

/** The audit event types stored for `clientId`. */
function auditOf(dir: string, clientId: string): string[] {
  const db = new Database(join(dir, 'portcullis.db'), { readonly: true });
  try {
    return (db.prepare('SELECT type FROM audit_log WHERE client_id = ? ORDER BY seq').all(clientId) as Array<{ type: string }>).map((r) => r.type);
  } finally {
    db.close();
  }
}

const kill = (child: ChildProcess): void => void (child.exitCode === null && child.signalCode === null && child.kill('SIGKILL'));

test('kill -HUP: graceful stop like SIGTERM — the request in flight finishes, queued audit events are written, exit 0, saying Portcullis does not reload', async () => {
  const upstream = await slowUpstream();
  const dir = await nodeDir(upstream);
  const child = spawnCli(['start', '--dir', dir]);
  after(async () => {
    kill(child);
    await upstream.close();
    rmSync(join(dir, '..'), { recursive: true, force: true });
  });
  let stderr = '';
  child.stderr!.on('data', (d) => (stderr += d));
  child.stdout!.resume();
  await waitFor(child.stderr!, /serving .*admin http:\S+/);
  const urls = urlsOf(stderr);
  const clientId = await appWithToken(dir, urls);

  const inFlight = fetch(`${urls.gateway}/slow/1`).then(async (r) => ({ status: r.status, body: await r.text() }));
  await upstream.arrived;
  child.kill('SIGHUP');
  assert.deepEqual(await inFlight, { status: 200, body: 'finished' });
  assert.equal(await exitOf(child), 0, stderr);
  assert.match(stderr, /SIGHUP received; stopping \(Portcullis does not reload its configuration: start it again to apply a change\)/);
  assert.deepEqual(auditOf(dir, clientId), ['app.created', 'token.issued']);
});

test('terminal hang-up (the kernel sends SIGHUP; stdout and stderr now fail with EIO): the request in flight finishes and queued audit events are written', async () => {
  const upstream = await slowUpstream();
  const dir = await nodeDir(upstream);
  const terminal = onTerminal([process.execPath, '--import', 'tsx', CLI, 'start', '--dir', dir], { cwd: join(CLI, '../../..'), env: cliEnv() });
  after(async () => {
    terminal.kill();
    await upstream.close();
    rmSync(join(dir, '..'), { recursive: true, force: true });
  });
  const seen = await waitFor(terminal.output, /serving .*admin http:\S+/);
  const pid = terminal.pid();
  const urls = urlsOf(seen);
  const clientId = await appWithToken(dir, urls);

  const inFlight = fetch(`${urls.gateway}/slow/1`).then(async (r) => ({ status: r.status, body: await r.text() }));
  await upstream.arrived;
  terminal.hangUp();
  assert.deepEqual(await inFlight, { status: 200, body: 'finished' });
  assert.ok(await gone(pid, 30_000), 'the node stopped');
  assert.deepEqual(auditOf(dir, clientId), ['app.created', 'token.issued']);
});
