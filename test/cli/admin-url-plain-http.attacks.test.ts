/**
 * Attack: the CLI sent the admin bearer token (full control of the deployment) to whatever
 * admin URL it was given, plain `http:` to a network address too, where anyone on the path
 * reads it. It now refuses plain http beyond loopback (a loopback IP literal, or `localhost`
 * when every address it resolves to is loopback: core/loopback.ts) before it connects:
 * `request.invalid` naming where the URL came from, nothing sent. `https:` goes anywhere;
 * `admin.allowInsecureHttp` (the opt-in that lets `listen.admin` be plain http beyond
 * loopback) lets the CLI follow.
 */
import assert from 'node:assert/strict';
import { rmSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { networkInterfaces } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { AdminClient } from '../../src/cli/client.js';
import { adminClient } from '../../src/cli/context.js';
import { CliError } from '../../src/cli/output.js';
import { initDir, startTestNode, tempDir, TEST_CONFIG, type TestNode } from '../admin/node.js';
import { runCli } from './run.js';

const TOKEN = 'x'.repeat(40);

/** A non-loopback IPv4 address of this machine, if it has one. */
function interfaceAddress(): string | undefined {
  for (const list of Object.values(networkInterfaces())) for (const a of list ?? []) if (!a.internal && a.family === 'IPv4') return a.address;
  return undefined;
}

/** Replaces global fetch for `fn`, recording the URLs it was asked for (answering 200 `{}`). */
async function withFetch<T>(fn: (calls: string[]) => Promise<T>): Promise<T> {
  const real = globalThis.fetch;
  const calls: string[] = [];
  globalThis.fetch = (async (url: string | URL) => {
    calls.push(String(url));
    return new Response('{}', { status: 200, headers: { 'content-type': 'application/json' } });
  }) as typeof fetch;
  try {
    return await fn(calls);
  } finally {
    globalThis.fetch = real;
  }
}

const refused = (from: string) => (e: unknown) => e instanceof CliError && e.code === 'request.invalid' && e.message.startsWith(`${from}: `) && e.message.includes('plain http') && !e.message.includes(TOKEN);

describe('CLI: the admin token over plain http beyond loopback', () => {
  const root = tempDir('portcullis-cli-plain-http-');
  let dir: string;
  let t: TestNode;
  before(async () => {
    dir = (await initDir(join(root, 'node'))).dir;
    t = await startTestNode();
  });
  after(async () => {
    await t.close();
    rmSync(root, { recursive: true, force: true });
  });

  test('attack: --admin-url / PORTCULLIS_ADMIN_URL http://192.0.2.1 (TEST-NET) → request.invalid at once, no connection attempted', async () => {
    for (const [args, env, from] of [
      [['--admin-url', 'http://192.0.2.1:8081'], {}, '--admin-url'],
      [[], { PORTCULLIS_ADMIN_URL: 'http://192.0.2.1:8081' }, 'PORTCULLIS_ADMIN_URL'],
      [['--admin-url', 'http://[fd00::1]:8081'], {}, '--admin-url'],
      [['--admin-url', 'http://admin.example.test:8081'], {}, '--admin-url'],
    ] as const) {
      const started = Date.now();
      // a connect to TEST-NET would hang until the CLI's 30 s timeout: 20 s here fails the test
      const r = await runCli(['app', 'list', '--dir', dir, ...args], env, 20_000);
      assert.equal(r.code, 1, r.stderr);
      assert.match(r.stderr, new RegExp(`^error: request\\.invalid: ${from}: .*plain http`), r.stderr);
      assert.ok(!r.stderr.includes('unavailable'), r.stderr);
      assert.equal(r.stdout, '');
      assert.ok(Date.now() - started < 15_000, `took ${Date.now() - started} ms`);
    }
  });

  test('attack: a listener on a non-loopback interface of this machine gets no connection, so never the token', async (ctx) => {
    const address = interfaceAddress();
    if (address === undefined) return ctx.skip('no non-loopback IPv4 interface');
    let connections = 0;
    const server: Server = createServer((s) => {
      connections++;
      s.destroy();
    });
    await new Promise<void>((resolve) => server.listen(0, address, resolve));
    try {
      const port = (server.address() as { port: number }).port;
      const r = await runCli(['keys', 'list', '--dir', dir, '--admin-url', `http://${address}:${port}`], {}, 20_000);
      assert.equal(r.code, 1, r.stderr);
      assert.match(r.stderr, /^error: request\.invalid: --admin-url: .*plain http/, r.stderr);
      await assert.rejects(() => new AdminClient(`http://${address}:${port}`, TOKEN).call('GET', '/v1/keys'), refused('the admin URL'));
      assert.equal(connections, 0);
    } finally {
      server.close();
    }
  });

  test('AdminClient: plain http to a name or a non-loopback address (NAT64 and IPv4-compatible forms of 127.0.0.1 too) is refused before fetch; https anywhere, loopback literals and localhost are sent', async () => {
    await withFetch(async (calls) => {
      for (const url of ['http://10.0.0.5:8081', 'http://0x7f000001.example:1', 'http://[64:ff9b::7f00:1]:1', 'http://[::7f00:1]:1', 'http://localhost.:1']) {
        await assert.rejects(() => new AdminClient(url, TOKEN).call('GET', '/v1/apps'), refused('the admin URL'), url);
      }
      assert.deepEqual(calls, []);
      for (const url of ['https://10.0.0.5:8443', 'http://127.0.0.1:1', 'http://127.8.9.10:1', 'http://[::1]:1', 'http://[::ffff:127.0.0.1]:1', 'http://0x7f.1:1', 'http://localhost:1']) {
        await new AdminClient(url, TOKEN).call('GET', '/v1/apps');
      }
      assert.equal(calls.length, 7, calls.join(' '));
    });
  });

  test('admin.allowInsecureHttp: the opt-in that lets listen.admin be plain http beyond loopback lets the CLI send there too', async () => {
    const cfg = join(root, 'opt-in');
    await initDir(cfg, `${TEST_CONFIG.replace('admin: 127.0.0.1:0', 'admin: 10.0.0.5:8081')}admin:\n  allowInsecureHttp: true\n`);
    await withFetch(async (calls) => {
      await adminClient({ dir: cfg }).call('GET', '/v1/apps');
      await adminClient({ dir: cfg, adminUrl: 'http://192.0.2.1:8081' }).call('GET', '/v1/apps');
      assert.deepEqual(calls, ['http://10.0.0.5:8081/v1/apps', 'http://192.0.2.1:8081/v1/apps']);
    });
  });

  test('a loopback admin URL still works end to end', async () => {
    const r = await runCli(['keys', 'list', '--config', t.configFile, '--admin-url', t.admin], {}, 60_000);
    assert.equal(r.code, 0, r.stderr);
  });
});
