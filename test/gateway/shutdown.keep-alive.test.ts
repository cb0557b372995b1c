/**
 * Stopping a node (SIGTERM → `node.close()`) while a client keeps a kept-alive gateway
 * connection busy, as a load balancer does: the request in flight finishes with
 * `Connection: close`, the connection is closed after it, and the node stops, instead
 * of serving that connection for as long as the client keeps sending. Both with the
 * gateway on its own thread (the default) and on the main event loop.
 */
import assert from 'node:assert/strict';
import http from 'node:http';
import { describe, test } from 'node:test';
import { startTestNode, testConfig } from '../support/portcullis.js';
import { startUpstream } from './helpers.js';

const UPSTREAM_DELAY_MS = 200;

interface Seen {
  status: number;
  connection: string | undefined;
}

/**
 * Sends GETs one after another on one kept-alive connection until the server closes it
 * or `deadline` passes; calls `stop` while its third request is at the upstream.
 */
async function busyClient(url: string, stop: () => void, deadline: number): Promise<{ seen: Seen[]; error: string | undefined }> {
  const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
  const seen: Seen[] = [];
  try {
    while (Date.now() < deadline) {
      const r = await new Promise<Seen>((resolve, reject) => {
        const req = http.get(url, { agent }, (res) => {
          res.resume();
          res.on('end', () => resolve({ status: res.statusCode!, connection: res.headers.connection }));
        });
        req.on('error', reject);
        if (seen.length === 2) setTimeout(stop, UPSTREAM_DELAY_MS / 2);
      });
      seen.push(r);
      if (r.connection === 'close') return { seen, error: undefined };
    }
    return { seen, error: 'the connection was still served at the deadline' };
  } catch (e) {
    return { seen, error: (e as NodeJS.ErrnoException).code ?? String(e) };
  } finally {
    agent.destroy();
  }
}

for (const thread of [true, false]) {
  describe(`stopping a node whose gateway (thread: ${thread}) has a busy kept-alive connection`, () => {
    test('the in-flight request finishes with Connection: close, the connection closes, and close() returns', async () => {
      const upstream = await startUpstream((_req, res) => setTimeout(() => res.end('ok'), UPSTREAM_DELAY_MS));
      const node = await startTestNode({ config: testConfig(`gateway: { thread: ${thread} }\nroutes:\n  - name: public\n    match: { pathPrefix: /public }\n    upstream: ${upstream.url}\n`) });
      try {
        let closed: Promise<number> | undefined;
        const stop = (): void => {
          const at = Date.now();
          closed = node.close().then(() => Date.now() - at);
        };
        const { seen, error } = await busyClient(`${node.urls.gateway}/public/x`, stop, Date.now() + 8000);
        assert.ok(closed, 'the node was stopped');
        const closeMs = await closed;
        assert.equal(error, undefined, `client: ${error}; responses: ${JSON.stringify(seen)}`);
        assert.deepEqual(seen, [
          { status: 200, connection: 'keep-alive' },
          { status: 200, connection: 'keep-alive' },
          { status: 200, connection: 'close' },
        ]);
        assert.ok(closeMs < 2000, `close() took ${closeMs} ms`);
      } finally {
        await node.stop();
        await upstream.close();
      }
    });
  });
}
