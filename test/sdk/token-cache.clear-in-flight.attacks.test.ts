/**
 * Attack (stale credential): an app clears the token cache (`clearTokenCache()`, after a
 * 401, a revocation or a changed client secret) while a token request is in flight. The
 * token that request brings back was asked for before the clear, yet it was cached when
 * it arrived, and a caller asking after the clear joined that request: the app got the
 * old token back after it had cleared it. A request begun before the clear is neither
 * cached nor joined; the next call asks the token endpoint again.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { clearTokenCache, getToken } from '../../src/sdk/index.js';

/** Token requests held by the endpoint until the test answers them, in arrival order. */
const held: Array<(token: string) => void> = [];
let arrived: () => void = () => {};
let server: Server;
let tokenUrl: string;
before(async () => {
  server = createServer((req, res: ServerResponse) => {
    req.resume();
    held.push((token) => {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ access_token: token, token_type: 'Bearer', expires_in: 600 }));
    });
    arrived();
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  tokenUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}/oauth2/token`;
});
after(() => {
  server.closeAllConnections();
  server.close();
});

/** Resolves once `n` requests have been held in all; fails when they have not within 3 s. */
async function requests(n: number): Promise<void> {
  const until = Date.now() + 3_000;
  while (held.length < n) {
    const left = until - Date.now();
    if (left <= 0) assert.fail(`the token endpoint got ${held.length} requests, not ${n}`);
    await new Promise<void>((r) => {
      arrived = r;
      setTimeout(r, left);
    });
  }
}

test('attack: a token that arrives after clearTokenCache() is not cached; the next call asks again', async () => {
  held.length = 0;
  clearTokenCache();
  const opts = { tokenUrl, clientId: 'app-a', clientSecret: 'old-secret' };
  const first = getToken(opts);
  await requests(1);
  clearTokenCache();
  held[0]!('tok-before-clear');
  // the caller that asked before the clear gets its answer
  assert.equal(await first, 'tok-before-clear');
  const second = getToken(opts);
  await requests(2);
  held[1]!('tok-after-clear');
  assert.equal(await second, 'tok-after-clear');
  assert.equal(await getToken(opts), 'tok-after-clear', 'the token asked for after the clear is cached');
  assert.equal(held.length, 2);
});

test('attack: a caller asking after clearTokenCache() does not join the request in flight, and the old one, answered last, does not replace the new token', async () => {
  held.length = 0;
  clearTokenCache();
  const opts = { tokenUrl, clientId: 'app-b', clientSecret: 'old-secret' };
  const first = getToken(opts);
  await requests(1);
  clearTokenCache();
  const second = getToken(opts);
  await requests(2);
  held[1]!('tok-after-clear');
  assert.equal(await second, 'tok-after-clear');
  held[0]!('tok-before-clear');
  assert.equal(await first, 'tok-before-clear');
  assert.equal(await getToken(opts), 'tok-after-clear');
  assert.equal(held.length, 2);
});

test('without a clear, concurrent callers still share one request and its token is cached (control)', async () => {
  held.length = 0;
  clearTokenCache();
  const opts = { tokenUrl, clientId: 'app-c', clientSecret: 's' };
  const both = Promise.all([getToken(opts), getToken(opts)]);
  await requests(1);
  held[0]!('tok-shared');
  assert.deepEqual(await both, ['tok-shared', 'tok-shared']);
  assert.equal(await getToken(opts), 'tok-shared');
  assert.equal(held.length, 1);
});
