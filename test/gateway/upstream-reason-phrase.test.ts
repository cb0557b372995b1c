/**
 * An upstream's reason phrase is not relayed: RFC 9112 §4 lets it carry obs-text, undici
 * decodes it as UTF-8, and Node refuses to write anything above U+00FF. Relaying it
 * crashed the process on buffered (signed/encrypted) routes and left the client waiting
 * for ever on the others.
 */
import assert from 'node:assert/strict';
import { generateKeyPairSync } from 'node:crypto';
import net from 'node:net';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { FrozenClock } from '../../src/core/clock.js';
import type { PolicyStep } from '../../src/gateway/context.js';
import { responseSigningStep } from '../../src/gateway/response-signing.js';
import { NOW, problem, route, send, startGateway, type TestGateway } from './helpers.js';

/** An upstream that answers every request with the given raw status line. */
async function rawUpstream(statusLine: Buffer): Promise<{ url: string; close(): Promise<void> }> {
  const sockets = new Set<net.Socket>();
  const server = net.createServer((s) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
    s.on('error', () => {});
    s.on('data', () => s.write(Buffer.concat([statusLine, Buffer.from('\r\nContent-Length: 2\r\n\r\nok', 'latin1')])));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    close: () =>
      new Promise<void>((r) => {
        for (const s of sockets) s.destroy();
        server.close(() => r());
      }),
  };
}

describe('upstream reason phrase: never relayed', () => {
  const lines = {
    utf8: Buffer.from('HTTP/1.1 200 成功', 'utf8'),
    obsText: Buffer.from('HTTP/1.1 200 \xffOK', 'latin1'),
  };
  const ups: Record<string, { url: string; close(): Promise<void> }> = {};
  let gw: TestGateway;

  before(async () => {
    ups['utf8'] = await rawUpstream(lines.utf8);
    ups['obs'] = await rawUpstream(lines.obsText);
    const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    const signing = responseSigningStep({ keys: { signingKey: () => ({ kid: 'k1', alg: 'ES256', privateKey }) } as never, clock: new FrozenClock(NOW) });
    gw = await startGateway(
      [
        route({ name: 'utf8', match: { pathPrefix: '/utf8' }, upstream: ups['utf8'].url, timeout: '2s' }),
        route({ name: 'obs', match: { pathPrefix: '/obs' }, upstream: ups['obs'].url, timeout: '2s' }),
        route({ name: 'signed-utf8', match: { pathPrefix: '/signed-utf8' }, upstream: ups['utf8'].url, timeout: '2s', signResponses: true }),
        route({ name: 'signed-obs', match: { pathPrefix: '/signed-obs' }, upstream: ups['obs'].url, timeout: '2s', signResponses: true }),
      ],
      { steps: (r): PolicyStep[] => (r.signResponses ? [signing] : []) },
    );
  });
  after(async () => {
    await gw.close();
    for (const u of Object.values(ups)) await u.close();
  });

  for (const path of ['/utf8/x', '/obs/x', '/signed-utf8/x', '/signed-obs/x']) {
    it(`a non-Latin-1 or obs-text reason phrase is answered with the upstream's status and body (${path})`, { timeout: 5000 }, async () => {
      const r = await send(gw.url, { path });
      assert.equal(r.status, 200);
      assert.equal(r.body, 'ok');
    });
  }

  it('the gateway keeps serving after such responses (no crash, no stuck socket)', { timeout: 5000 }, async () => {
    const all = await Promise.all(['/utf8/a', '/obs/b', '/signed-utf8/c', '/signed-obs/d'].map((path) => send(gw.url, { path })));
    assert.deepEqual(
      all.map((r) => r.status),
      [200, 200, 200, 200],
    );
  });
});

describe('upstream response head that cannot be written', () => {
  let gw: TestGateway;
  let up: { url: string; close(): Promise<void> };

  before(async () => {
    up = await rawUpstream(Buffer.from('HTTP/1.1 200 OK', 'latin1'));
    // a response hook that returns a field value Node refuses to write
    const broken: PolicyStep = (ctx) => {
      ctx.respond = (r) => Promise.resolve({ ...r, headers: [...r.headers, 'x-bad', 'a\u4e00b'] });
    };
    gw = await startGateway([route({ name: 'broken', match: { pathPrefix: '/' }, upstream: up.url, timeout: '2s' })], { steps: () => [broken] });
  });
  after(async () => {
    await gw.close();
    await up.close();
  });

  it('is answered 502 upstream.unavailable and counted, and the gateway keeps serving', { timeout: 5000 }, async () => {
    const r = await send(gw.url, { path: '/x' });
    assert.equal(r.status, 502);
    assert.equal(problem(r).code, 'upstream.unavailable');
    assert.match(await gw.metrics.metrics(), /portcullis_gateway_requests_total\{route="broken",outcome="upstream_error"\} 1/);
    const again = await send(gw.url, { path: '/y' });
    assert.equal(again.status, 502);
  });
});
