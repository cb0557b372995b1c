/**
 * Attack: a transit server (or a proxy in front) answers an error with a `code` that is
 * not one of Portcullis's codes but is a name every object has: `constructor`,
 * `toString`, `__proto__`. `code in ERRORS` took those for real codes, so the app got a
 * PortcullisError whose `code` is outside its `ErrorCode` type (a `switch` on it falls
 * through, `ERRORS[code]` is a function). A code is trusted only when it is one of the
 * catalogue's own; anything else is `internal`.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createTransitClient, PortcullisError } from '../../src/sdk/index.js';

let server: Server;
let base: string;
before(async () => {
  // /<code>/transit/v1/…: answers 400 with that code
  server = createServer((req, res) => {
    req.resume();
    const code = decodeURIComponent(req.url!.split('/')[1]!);
    res.writeHead(400, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ code, detail: `refused: ${code}` }));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
after(() => server.close());

const transitFor = (code: string) => createTransitClient({ baseUrl: `${base}/${encodeURIComponent(code)}`, getToken: () => 't' });

for (const code of ['constructor', 'toString', '__proto__', 'hasOwnProperty', 'valueOf']) {
  test(`attack: an error answer with code ${JSON.stringify(code)} is internal, not that code`, async () => {
    await assert.rejects(transitFor(code).encrypt('k', 'secret data'), (e: unknown) => e instanceof PortcullisError && e.code === 'internal' && e.status === 400);
  });
}

test('a real code is kept (control)', async () => {
  await assert.rejects(transitFor('transit.key-not-found').encrypt('k', 'secret data'), (e: unknown) => e instanceof PortcullisError && e.code === 'transit.key-not-found' && e.status === 400);
});
