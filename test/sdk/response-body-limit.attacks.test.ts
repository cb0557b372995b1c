/**
 * Attack: a token endpoint, transit node or JWKS URL (hostile, or a broken proxy in front)
 * answers a body without end, and the SDK buffers it whole: only the deadline stopped
 * `res.json()`, and 10 s of loopback is gigabytes. Each of these reads is bounded (token
 * and JWKS 1 MiB, transit 16 MiB by default; an option each): a declared Content-Length
 * over the limit is refused before a byte is read, a chunked body once the limit is
 * passed, with the SDK's typed error, and the body is cancelled, so the server sees its
 * connection closed long before it has sent it all.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { fetchJwks } from '../../src/sdk/jwks.js';
import { createTransitClient, getToken, KeyResolver, PortcullisError, TokenError } from '../../src/sdk/index.js';

const KiB = 1024;
const MiB = 1024 * KiB;
/** What the server would send in all: more than any default limit, little enough that a client reading it all does not exhaust the machine. */
const TOTAL = 64 * MiB;

interface Sent {
  bytes: number;
  finished: boolean;
  closed: Promise<void>;
}
let last: Sent | undefined;

/** Writes `prefix` then spaces up to TOTAL bytes, at the pace the client reads (backpressure). */
function stream(res: ServerResponse, prefix: string, sent: Sent): void {
  const chunk = Buffer.alloc(64 * KiB, 0x20);
  let closed = false;
  res.on('close', () => (closed = true));
  const more = (): void => {
    while (!closed) {
      if (sent.bytes >= TOTAL) {
        sent.finished = true;
        res.end();
        return;
      }
      const part = sent.bytes === 0 ? Buffer.from(prefix) : chunk;
      sent.bytes += part.byteLength;
      if (!res.write(part)) return void res.once('drain', more);
    }
  };
  more();
}

let server: Server;
let base: string;
before(async () => {
  // /<status>/<chunked|declared>/<json prefix, url-encoded>/…: answers <status> with a TOTAL-byte body,
  // chunked or with its Content-Length
  server = createServer((req, res) => {
    req.resume();
    const [, status, framing, prefix] = req.url!.split('/');
    let onClose!: () => void;
    const sent: Sent = { bytes: 0, finished: false, closed: new Promise<void>((r) => (onClose = r)) };
    res.on('close', onClose);
    last = sent;
    res.writeHead(Number(status), { 'content-type': 'application/json', ...(framing === 'declared' ? { 'content-length': String(TOTAL) } : {}) });
    stream(res, decodeURIComponent(prefix!), sent);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
after(() => {
  server.closeAllConnections();
  server.close();
});

/** The server saw its connection closed before it had sent the body, and had sent less than `most` bytes. */
async function notReadWhole(most: number): Promise<void> {
  const sent = last!;
  await sent.closed;
  assert.equal(sent.finished, false, 'the server sent its whole body: the client read it all');
  assert.ok(sent.bytes < most, `${sent.bytes} bytes were sent`);
}

const unavailable = (limit: number) => (e: unknown) => e instanceof PortcullisError && e.code === 'unavailable' && e.message.includes(`larger than ${limit} bytes`);
const tokenTooLarge = (status: number, limit: number) => (e: unknown) =>
  e instanceof TokenError && e.status === status && e.error === 'response_too_large' && e.message.includes(`larger than ${limit} bytes`) && !e.message.includes('s3cret');

let n = 0;
const url = (status: number, framing: 'chunked' | 'declared', prefix: string) => `${base}/${status}/${framing}/${encodeURIComponent(prefix)}/${++n}`;

describe('attack: an SDK request answered with a body without end', { timeout: 60_000 }, () => {
  for (const framing of ['chunked', 'declared'] as const) {
    test(`transit: a ${framing} answer over maxResponseBytes is unavailable, the body cancelled`, async () => {
      const transit = createTransitClient({ baseUrl: url(200, framing, '{"ciphertext":"pc:v1:'), getToken: () => 't', maxResponseBytes: 64 * KiB });
      await assert.rejects(transit.encrypt('k', 'secret data'), unavailable(64 * KiB));
      await notReadWhole(16 * MiB);
    });

    test(`transit: a ${framing} error answer (500) over the limit is unavailable too, not the code it might carry`, async () => {
      const transit = createTransitClient({ baseUrl: url(500, framing, '{"code":"request.invalid","detail":"'), getToken: () => 't', maxResponseBytes: 64 * KiB });
      await assert.rejects(transit.decrypt('k', 'pc:v1:AAAA'), unavailable(64 * KiB));
      await notReadWhole(16 * MiB);
    });

    test(`getToken: a ${framing} answer over maxResponseBytes is a TokenError response_too_large, the body cancelled`, async () => {
      const opts = { tokenUrl: url(200, framing, '{"access_token":"'), clientId: 'app', clientSecret: 's3cret', maxResponseBytes: 64 * KiB };
      await assert.rejects(getToken(opts), tokenTooLarge(200, 64 * KiB));
      await notReadWhole(16 * MiB);
    });

    test(`JWKS: a ${framing} answer over maxJwksBytes is unavailable (KeyResolver too), the body cancelled`, async () => {
      await assert.rejects(fetchJwks(url(200, framing, '{"keys":['), { maxJwksBytes: 64 * KiB }), unavailable(64 * KiB));
      await notReadWhole(16 * MiB);
      await assert.rejects(new KeyResolver({ jwksUrl: url(200, framing, '{"keys":['), maxJwksBytes: 64 * KiB }).get('k1'), unavailable(64 * KiB));
      await notReadWhole(16 * MiB);
    });
  }

  test('the defaults bound them: token and JWKS 1 MiB, transit 16 MiB (chunked)', async () => {
    await assert.rejects(getToken({ tokenUrl: url(200, 'chunked', '{"access_token":"'), clientId: 'app', clientSecret: 's3cret' }), tokenTooLarge(200, MiB));
    await notReadWhole(16 * MiB);
    await assert.rejects(fetchJwks(url(200, 'chunked', '{"keys":[')), unavailable(MiB));
    await notReadWhole(16 * MiB);
    const transit = createTransitClient({ baseUrl: url(200, 'chunked', '{"signature":"pc:v1:'), getToken: () => 't' });
    await assert.rejects(transit.sign('k', 'input'), unavailable(16 * MiB));
    await notReadWhole(TOTAL);
  });

  test('a limit that is not a positive number is refused, never "no limit"', async () => {
    for (const bad of [0, -1, Number.NaN, Number.POSITIVE_INFINITY]) {
      assert.throws(() => createTransitClient({ baseUrl: base, getToken: () => 't', maxResponseBytes: bad }), RangeError);
      // nothing listens there: refused before any request
      await assert.rejects(getToken({ tokenUrl: 'http://127.0.0.1:9/token', clientId: 'app', clientSecret: 's', maxResponseBytes: bad }), RangeError);
      await assert.rejects(fetchJwks(`http://127.0.0.1:9/jwks/${++n}`, { maxJwksBytes: bad }), RangeError);
    }
  });
});

describe('answers within the limit are read as before', () => {
  let ok: Server;
  let okBase: string;
  before(async () => {
    ok = createServer((req, res) => {
      req.resume();
      const body = req.url!.startsWith('/token')
        ? { access_token: 'tok-1', expires_in: 300 }
        : req.url!.startsWith('/jwks')
          ? { keys: [] }
          : { ciphertext: 'pc:v1:AAAA', key_version: 1 };
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify(body));
    });
    await new Promise<void>((r) => ok.listen(0, '127.0.0.1', r));
    okBase = `http://127.0.0.1:${(ok.address() as AddressInfo).port}`;
  });
  after(() => ok.close());

  test('an answer of exactly maxResponseBytes / maxJwksBytes bytes is accepted', async () => {
    const ct = JSON.stringify({ ciphertext: 'pc:v1:AAAA', key_version: 1 });
    assert.equal(await createTransitClient({ baseUrl: okBase, getToken: () => 't', maxResponseBytes: ct.length }).encrypt('k', 'x'), 'pc:v1:AAAA');
    const tok = JSON.stringify({ access_token: 'tok-1', expires_in: 300 });
    assert.equal(await getToken({ tokenUrl: `${okBase}/token`, clientId: 'exact', clientSecret: 's', maxResponseBytes: tok.length }), 'tok-1');
    assert.deepEqual(await fetchJwks(`${okBase}/jwks/exact`, { maxJwksBytes: JSON.stringify({ keys: [] }).length }), { keys: [] });
  });
});
