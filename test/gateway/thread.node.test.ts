/**
 * `gateway.thread: true`: the gateway plane on a thread of its own beside the identity
 * and admin planes (src/gateway/thread.ts). Real node, real listeners: tokens issued on
 * the main thread pass at the thread's gateway; a revocation or a new app key made on
 * the main thread is in force on the thread when the change is acknowledged (the
 * reconcile timer is an hour away);
 * a signature nonce is consumed in the main thread's store, so a replay is refused;
 * denials are audited by the thread into the same store; /metrics includes the
 * thread's counters; a thread that dies is replaced on the same address, and /readyz
 * answers 503 meanwhile.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { createServer, type AddressInfo } from 'node:net';
import { join } from 'node:path';
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { startPortcullis } from '../../src/app.js';
import { PortcullisError } from '../../src/core/errors.js';
import { silentLogger } from '../../src/core/logger.js';
import { CONFIG_FILE, initPortcullis } from '../../src/init.js';
import { tempDir } from '../support/portcullis.js';
import { addSigningKey, AUDIENCE, createApp, sendSigned, startPolicyNode, type PolicyNode, type TestApp, eventually } from './message-policy-support.js';

let p: PolicyNode;
let app: TestApp;

/** Polls `f` until it holds (the thread learns of main-thread changes through messages). */

const admin = (path: string, init: RequestInit = {}) =>
  fetch(`${p.node.urls.admin}${path}`, { ...init, headers: { authorization: `Bearer ${p.node.adminToken}`, 'content-type': 'application/json', ...(init.headers ?? {}) } });

before(async () => {
  p = await startPolicyNode(
    `  - name: orders\n    match: { pathPrefix: /orders }\n    upstream: UPSTREAM\n    require: { token: { audience: ${AUDIENCE}, scopes: [orders:write] } }\n  - name: signed\n    match: { pathPrefix: /signed }\n    upstream: UPSTREAM\n    require: { signature: { maxAge: 5m } }\n`,
    'gateway: { thread: true }\nrevocation: { reconcileInterval: 30m }\n',
  );
  app = await createApp(p.node, 'thread-app');
});

after(() => p.stop());

describe('gateway on its own thread', () => {
  test('the gateway is served by the thread, and a token issued on the main thread passes', async () => {
    assert.ok(p.node.gatewayThread, 'the node runs its gateway on a thread');
    assert.equal(p.node.gatewayThread.url, p.gateway);
    const r = await fetch(`${p.gateway}/orders/1`, { headers: { authorization: `Bearer ${await app.token()}` } });
    assert.equal(r.status, 200, await r.text());
    assert.equal(p.upstream.seen.at(-1)!.headers['x-portcullis-client-id'], app.clientId);
  });

  test('/metrics on the admin plane carries the thread’s gateway counters beside the process metrics', async () => {
    await fetch(`${p.gateway}/orders/metrics-probe`, { headers: { authorization: `Bearer ${await app.token()}` } });
    const text = await (await fetch(`${p.node.urls.admin}/metrics`)).text();
    assert.match(text, /portcullis_gateway_requests_total\{route="orders",outcome="allowed"\} [1-9]/);
    assert.match(text, /process_cpu_user_seconds_total [0-9.e+-]+\n/);
    assert.equal(text.match(/^process_cpu_user_seconds_total /gm)?.length, 1, 'process metrics are not counted twice');
  });

  test('a token revoked through the admin API on the main thread is refused by the thread from the next request on (no reconcile)', async () => {
    const fresh = await createApp(p.node, 'revoked-app');
    const token = await fresh.token();
    assert.equal((await fetch(`${p.gateway}/orders/2`, { headers: { authorization: `Bearer ${token}` } })).status, 200);
    const rv = await admin('/v1/tokens/revoke', { method: 'POST', body: JSON.stringify({ token }) });
    assert.equal(rv.status, 200);
    // the answer came after the thread applied the revocation: the very next request is refused
    const r = await fetch(`${p.gateway}/orders/3`, { headers: { authorization: `Bearer ${token}` } });
    assert.equal(r.status, 401);
    assert.equal(((await r.json()) as { code?: string }).code, 'token.revoked');
    // the other app's token is untouched
    assert.equal((await fetch(`${p.gateway}/orders/4`, { headers: { authorization: `Bearer ${await app.token()}` } })).status, 200);
  });

  test('a signature nonce is consumed in the main thread’s store, so the replay is signature.replayed; the denial is audited by the thread', async () => {
    const key = await addSigningKey(p.node, app.clientId, 'hmac-sha256');
    const nonce = `thread-nonce-${Date.now()}`;
    // the key was added on the main thread; the thread knows it when add() returns
    const first = await sendSigned(p.gateway, { path: '/signed/a', sign: { key: key.key, alg: key.alg, keyid: key.keyid, nonce } });
    assert.equal(first.status, 200, first.text);
    assert.equal(await p.node.services.ephemeral.consumeOnce(`sig-nonce:${key.keyid.length}:${key.keyid}:${nonce}`, 60_000), false, 'the nonce is in the main thread’s store');
    const replay = await sendSigned(p.gateway, { path: '/signed/a', sign: { key: key.key, alg: key.alg, keyid: key.keyid, nonce } });
    assert.equal(replay.status, 401);
    assert.equal(replay.json.code, 'signature.replayed');
    await eventually('the thread audited the denial', async () => {
      const rows = ((await (await admin('/v1/audit/tail?limit=50')).json()) as { rows: Array<{ type: string; reason: string | null }> }).rows;
      return rows.some((e) => e.type === 'gateway.denied' && e.reason === 'signature.replayed');
    });
    // two threads append to one hash chain: it stays whole
    const verify = (await (await admin('/v1/audit/verify')).json()) as { ok: boolean };
    assert.equal(verify.ok, true, JSON.stringify(verify));
  });

  test('a thread that dies: /readyz is 503 and the gateway refuses connections until a new thread serves on the same address', async () => {
    const thread = p.node.gatewayThread!;
    assert.equal((await fetch(`${p.node.urls.admin}/readyz`)).status, 200);
    await thread.terminate();
    assert.equal(thread.alive, false);
    assert.equal((await fetch(`${p.node.urls.admin}/readyz`)).status, 503);
    await assert.rejects(fetch(`${p.gateway}/orders/5`, { headers: { authorization: `Bearer ${await app.token()}` } }));
    await eventually('a new gateway thread serves', async () => thread.alive, 15_000);
    assert.equal(thread.url, p.gateway);
    const r = await fetch(`${p.gateway}/orders/6`, { headers: { authorization: `Bearer ${await app.token()}` } });
    assert.equal(r.status, 200);
    assert.equal((await fetch(`${p.node.urls.admin}/readyz`)).status, 200);
  });
});

describe('a gateway-only node', () => {
  test('planes: [gateway] builds no identity services (reading them is internal) and passes tokens issued by the all-in-one node on the same store', async () => {
    const text = readFileSync(join(p.node.dir, CONFIG_FILE), 'utf8');
    assert.ok(!/^planes:/m.test(text), 'the test config leaves planes to the default');
    const file = join(p.node.dir, 'gateway-only.yaml');
    writeFileSync(file, `${text}\nplanes: [gateway]\n`);
    const gw = await startPortcullis({ configFile: file, logger: silentLogger, env: {}, ephemeralPorts: true });
    try {
      assert.deepEqual(Object.keys(gw.urls), ['gateway']);
      assert.equal(gw.gatewayThread, undefined, 'a gateway-only node needs no thread');
      assert.throws(
        () => gw.services.identity,
        (e: unknown) => e instanceof PortcullisError && e.code === 'internal' && /neither the identity nor the admin plane/.test(e.message),
      );
      const ok = await fetch(`${gw.urls.gateway}/orders/9`, { headers: { authorization: `Bearer ${await app.token()}` } });
      assert.equal(ok.status, 200, await ok.text());
      assert.equal((await fetch(`${gw.urls.gateway}/orders/9`)).status, 401);
    } finally {
      await gw.close();
    }
  });
});

describe('gateway.thread: false', () => {
  test('the gateway runs on the main event loop: no thread, the same answers', async () => {
    const q = await startPolicyNode(`  - name: orders\n    match: { pathPrefix: /orders }\n    upstream: UPSTREAM\n    require: { token: { audience: ${AUDIENCE}, scopes: [orders:write] } }\n`, 'gateway: { thread: false }\n');
    try {
      assert.equal(q.node.gatewayThread, undefined);
      const a = await createApp(q.node, 'loop-app');
      assert.equal((await fetch(`${q.gateway}/orders/1`, { headers: { authorization: `Bearer ${await a.token()}` } })).status, 200);
      assert.equal((await fetch(`${q.gateway}/orders/1`)).status, 401);
    } finally {
      await q.stop();
    }
  });
});

describe('a gateway address already in use', () => {
  for (const thread of [true, false]) {
    test(`gateway.thread: ${thread}: the node does not start, with listen.failed naming the address`, async () => {
      const squatter = createServer();
      await new Promise<void>((r) => squatter.listen(0, '127.0.0.1', r));
      const port = (squatter.address() as AddressInfo).port;
      const dir = tempDir();
      try {
        await initPortcullis(dir, {
          config: `issuer: http://127.0.0.1:8080\nlisten: { identity: 127.0.0.1:0, gateway: 127.0.0.1:${port}, admin: 127.0.0.1:0 }\nlog: { level: silent }\ntls: { mode: off }\ngateway: { thread: ${thread} }\n`,
        });
        await assert.rejects(
          startPortcullis({ configFile: join(dir, CONFIG_FILE), logger: silentLogger, env: {} }),
          (e: unknown) => e instanceof PortcullisError && e.code === 'listen.failed' && e.message === `cannot listen on 127.0.0.1:${port}: the address is already in use`,
        );
      } finally {
        await new Promise<void>((r) => squatter.close(() => r()));
        rmSync(dir, { recursive: true, force: true });
      }
    });
  }
});
