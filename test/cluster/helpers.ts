/** Helpers of the cluster tests: an upstream, polling, and a second node sharing the first's keys. */
import assert from 'node:assert/strict';
import { copyFileSync, mkdirSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { startTestNode, tempDir, type TestNode } from '../support/portcullis.js';

/** An upstream that answers 200 with the client id the gateway passed on. */
export async function upstream(): Promise<{ server: Server; url: string }> {
  const server = createServer((req, res) => {
    res.setHeader('content-type', 'application/json');
    res.end(JSON.stringify({ ok: true, client: req.headers['x-portcullis-client-id'] }));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return { server, url: `http://127.0.0.1:${(server.address() as AddressInfo).port}` };
}

/** Polls `fn` until it answers true; returns the time it took, fails the test after `limitMs`. */
export async function waitFor(what: string, fn: () => Promise<boolean>, limitMs: number): Promise<number> {
  const start = Date.now();
  while (Date.now() - start < limitMs) {
    if (await fn()) return Date.now() - start;
    await new Promise((r) => setTimeout(r, 20));
  }
  assert.fail(`${what} did not happen within ${limitMs} ms`);
}

/** Starts another node of `first`'s cluster: the same master key (it unwraps the same data keys) and admin token. */
export async function startPeer(first: TestNode, config: string): Promise<TestNode> {
  const dir = tempDir();
  mkdirSync(dir, { recursive: true });
  copyFileSync(join(first.dir, 'master.key'), join(dir, 'master.key'));
  copyFileSync(join(first.dir, 'admin.token'), join(dir, 'admin.token'));
  return startTestNode({ config, dir });
}
