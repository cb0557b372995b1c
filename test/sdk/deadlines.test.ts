/**
 * The SDK's own requests (JWKS, token endpoint, transit) have an overall deadline: a
 * server that accepts the connection and then stalls, before its head or in the middle
 * of its body, fails the call with the SDK's typed error instead of holding the caller
 * forever; so does a `fetch` given in the options that ignores the abort signal.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { PortcullisError } from '../../src/core/errors.js';
import { fetchJwks } from '../../src/sdk/jwks.js';
import { createTransitClient, encryptForPortcullis, getToken, TokenError } from '../../src/sdk/index.js';

let server: Server;
let base: string;
before(async () => {
  // /head: never answers; /body: sends its head and 10 of the 100 announced bytes, then stalls
  server = createServer((req, res) => {
    req.resume();
    if (req.url!.startsWith('/body')) {
      res.writeHead(200, { 'content-type': 'application/json', 'content-length': '100' });
      res.write('{"keys":[ ');
    }
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
after(() => {
  server.closeAllConnections();
  server.close();
});

const unavailable = (within: number) => (e: unknown) => e instanceof PortcullisError && e.code === 'unavailable' && e.message.includes(`within ${within} ms`);

/** Runs `p` and returns how long it took to settle (ms). */
async function timed(p: () => Promise<unknown>, check: (e: unknown) => boolean): Promise<number> {
  const t0 = performance.now();
  await assert.rejects(p(), check);
  return performance.now() - t0;
}

describe('SDK deadlines', { timeout: 10_000 }, () => {
  test('attack: a JWKS endpoint that stalls before its head or inside its body fails with unavailable at the deadline', async () => {
    for (const path of ['/head', '/body']) {
      const ms = await timed(() => fetchJwks(`${base}${path}/jwks-${Math.random()}`, { timeoutMs: 200 }), unavailable(200));
      assert.ok(ms >= 190 && ms < 5_000, `${path}: settled after ${ms} ms`);
    }
  });

  test('a fetch given in the options that ignores the abort signal is still cut off at the deadline', async () => {
    let sawSignal = false;
    const deaf = ((_url: string, init?: RequestInit) => {
      sawSignal = init?.signal instanceof AbortSignal;
      return new Promise<Response>(() => {});
    }) as typeof fetch;
    await timed(() => fetchJwks(`https://deaf-${Math.random()}.example/jwks`, { fetch: deaf, timeoutMs: 150 }), unavailable(150));
    assert.equal(sawSignal, true, 'the signal is passed to fetch, so a real fetch is aborted too');
  });

  test('encryptForPortcullis passes timeoutMs to its JWKS discovery', async () => {
    await timed(() => encryptForPortcullis('x', { jwksUrl: `${base}/head/enc-${Math.random()}`, timeoutMs: 150, context: { aud: 'https://api.example' } }), unavailable(150));
  });

  test('getToken: a token endpoint that stalls is a TokenError (status 0, timeout), and the next call tries again', async () => {
    const opts = { tokenUrl: `${base}/body/token`, clientId: 'app', clientSecret: 's3cret', timeoutMs: 150 };
    for (let i = 0; i < 2; i++) {
      await timed(
        () => getToken(opts),
        (e) => e instanceof TokenError && e.status === 0 && e.error === 'timeout' && /within 150 ms/.test(e.message) && !e.message.includes('s3cret'),
      );
    }
  });

  test('transit: an operation whose answer stalls fails with unavailable (its outcome is unknown)', async () => {
    const transit = createTransitClient({ baseUrl: `${base}/head`, getToken: () => 't', timeoutMs: 150 });
    await timed(() => transit.encrypt('k', 'secret data'), unavailable(150));
  });

  test('misuse: a timeoutMs of 0, below 0 or not a number is refused, never "wait forever"', async () => {
    for (const timeoutMs of [0, -1, Number.NaN, Number.POSITIVE_INFINITY]) {
      await assert.rejects(getToken({ tokenUrl: `${base}/head`, clientId: 'a', clientSecret: 'b', timeoutMs }), RangeError);
    }
  });
});
