/**
 * `listen.admin: localhost:8081` passes the config's loopback rule (the admin plane speaks
 * plain HTTP only, and every request carries the admin token), but the name is the
 * resolver's to answer: a hosts file that maps `localhost` to `0.0.0.0` (ad-block lists do)
 * or to a network address put the admin plane on every interface, token in clear, with no
 * opt-in and no warning. The node now checks the address the listener is bound to: beyond
 * loopback without `admin.allowInsecureHttp` it stops listening and start fails with
 * `listen.failed`, naming listen.admin and the address.
 */
import assert from 'node:assert/strict';
import dns from 'node:dns';
import { createConnection, Server } from 'node:net';
import { afterEach, mock, test } from 'node:test';
import { startPortcullis } from '../../src/app.js';
import { isPortcullisError } from '../../src/core/errors.js';
import { silentLogger } from '../../src/core/logger.js';
import { initDir, TEST_CONFIG, tempDir } from './node.js';

const LOCALHOST_ADMIN = TEST_CONFIG.replace('admin: 127.0.0.1:0', 'admin: localhost:0').replace('planes: [identity, admin]', 'planes: [admin]');

/** The resolver answers `address` for `localhost` (as a hosts file saying so would); other names as before. */
function localhostResolvesTo(address: string, family: 4 | 6): void {
  const real = dns.lookup;
  mock.method(dns, 'lookup', (host: string, ...rest: unknown[]) => {
    const cb = rest.at(-1) as (err: Error | null, address: unknown, family?: number) => void;
    if (host.toLowerCase() !== 'localhost') return (real as (...a: unknown[]) => void)(host, ...rest);
    const all = typeof rest[0] === 'object' && rest[0] !== null && (rest[0] as { all?: boolean }).all;
    process.nextTick(() => (all ? cb(null, [{ address, family }]) : cb(null, address, family)));
  });
}

afterEach(() => mock.restoreAll());

function refusesConnections(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = createConnection({ host: '127.0.0.1', port });
    s.once('connect', () => (s.destroy(), resolve(false)));
    s.once('error', () => resolve(true));
  });
}

for (const [address, family] of [['0.0.0.0', 4], ['::', 6]] as const) {
  test(`attack: localhost resolving to ${address} — listen.admin localhost:0 without the opt-in → listen.failed, nothing left listening`, async () => {
    const { configFile } = await initDir(tempDir(), LOCALHOST_ADMIN);
    localhostResolvesTo(address, family);
    let bound: number | undefined;
    const real = Server.prototype.listen;
    mock.method(Server.prototype, 'listen', function (this: Server, ...args: unknown[]) {
      this.once('listening', () => (bound = (this.address() as { port: number }).port));
      return (real as (...a: unknown[]) => unknown).apply(this, args);
    });
    const started = startPortcullis({ configFile, ephemeralPorts: true, logger: silentLogger });
    await assert.rejects(started, (e: unknown) => {
      assert.ok(isPortcullisError(e), String(e));
      assert.equal(e.code, 'listen.failed');
      assert.match(e.message, /listen\.admin/);
      assert.ok(e.message.includes(address), e.message);
      assert.match(e.message, /loopback/);
      return true;
    });
    assert.ok(bound !== undefined && (await refusesConnections(bound)), 'the admin listener it bound is closed again');
  });
}

test('localhost resolving to 127.0.0.1 (as it should) starts the admin plane on loopback', async () => {
  const { configFile } = await initDir(tempDir(), LOCALHOST_ADMIN);
  localhostResolvesTo('127.0.0.1', 4);
  const node = await startPortcullis({ configFile, ephemeralPorts: true, logger: silentLogger });
  try {
    assert.match(node.urls.admin!, /^http:\/\/127\.0\.0\.1:\d+$/);
  } finally {
    await node.close();
  }
});

test('localhost resolving to ::1 starts the admin plane on loopback', async () => {
  const { configFile } = await initDir(tempDir(), LOCALHOST_ADMIN);
  localhostResolvesTo('::1', 6);
  const node = await startPortcullis({ configFile, ephemeralPorts: true, logger: silentLogger }).catch((e: { code?: string; cause?: { code?: string } }) => {
    // a machine without IPv6 cannot bind ::1 at all: nothing to check there
    if (e.code === 'listen.failed' && e.cause?.code === 'EADDRNOTAVAIL') return undefined;
    throw e;
  });
  if (!node) return;
  try {
    assert.match(node.urls.admin!, /^http:\/\/\[::1\]:\d+$/);
  } finally {
    await node.close();
  }
});

test('with admin.allowInsecureHttp the operator opted in: localhost resolving to 0.0.0.0 starts as configured', async () => {
  const { configFile } = await initDir(tempDir(), `${LOCALHOST_ADMIN}admin:\n  allowInsecureHttp: true\n`);
  localhostResolvesTo('0.0.0.0', 4);
  const node = await startPortcullis({ configFile, ephemeralPorts: true, logger: silentLogger });
  try {
    assert.match(node.urls.admin!, /^http:\/\/0\.0\.0\.0:\d+$/);
  } finally {
    await node.close();
  }
});
