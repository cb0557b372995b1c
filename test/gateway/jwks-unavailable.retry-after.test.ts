/**
 * An external issuer whose JWKS endpoint fails: the gateway answers 503 `unavailable` (the
 * token was never judged) and does not fetch the key set again for the back-off after a
 * failed retrieval (jwks-fetch.ts). The 503 says when to come back: `Retry-After` is the
 * time until the next retrieval may be tried, in whole seconds rounded up, at least 1, so a
 * client retrying at once does not just get the same answer from the back-off.
 */
import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, test } from 'node:test';
import { generateKeyPair, SignJWT } from 'jose';
import { JWKS_RETRY_AFTER_MS } from '../../src/gateway/jwks-fetch.js';
import { bearer, NOW, NOW_S, problem, route, send, startGateway, startUpstream, type TestGateway, type Upstream } from './helpers.js';

const EXT = 'https://partner.example';
let gw: TestGateway;
let upstream: Upstream;
let jwksServer: http.Server;
let hits = 0;
let token: string;

before(async () => {
  jwksServer = http.createServer((_req, res) => {
    hits++;
    res.statusCode = 500;
    res.end();
  });
  await new Promise<void>((r) => jwksServer.listen(0, '127.0.0.1', r));
  const jwksUri = `http://127.0.0.1:${(jwksServer.address() as AddressInfo).port}/jwks.json`;
  upstream = await startUpstream();
  gw = await startGateway([
    route({ name: 'partner', match: { pathPrefix: '/partner' }, upstream: upstream.url, require: { token: { audience: 'orders-api', issuers: [{ issuer: EXT, jwksUri, algorithms: ['ES256'] }] } } }),
  ]);
  const { privateKey } = await generateKeyPair('ES256');
  token = await new SignJWT({ iss: EXT, sub: 'partner-user', aud: 'orders-api', exp: NOW_S + 300 }).setProtectedHeader({ alg: 'ES256', kid: 'ext-1', typ: 'at+jwt' }).sign(privateKey);
});
after(async () => {
  await gw.close();
  await upstream.close();
  jwksServer.closeAllConnections();
  await new Promise<void>((r) => jwksServer.close(() => r()));
});

async function unavailable(): Promise<string | undefined> {
  const r = await send(gw.url, { path: '/partner/x', headers: bearer(token) });
  assert.equal(r.status, 503, r.body);
  assert.equal(problem(r).code, 'unavailable');
  assert.equal(r.headers['www-authenticate'], undefined);
  assert.equal(upstream.seen.length, 0);
  return r.headers['retry-after'];
}

test('a JWKS endpoint that fails: 503 unavailable with Retry-After = the time until the next retrieval may be tried (at least 1 s)', async () => {
  assert.equal(JWKS_RETRY_AFTER_MS, 5_000);
  // the key set was first fetched (and failed) when the route was compiled, at NOW
  assert.equal(await unavailable(), '5');
  assert.equal(hits, 1);
  gw.clock.set(NOW + 2_500);
  assert.equal(await unavailable(), '3');
  gw.clock.set(NOW + 4_999);
  assert.equal(await unavailable(), '1');
  assert.equal(hits, 1, 'not refetched during the back-off');
  // the back-off has passed: fetched again, failed again, a new back-off
  gw.clock.set(NOW + 5_000);
  assert.equal(await unavailable(), '5');
  assert.equal(hits, 2);
});
