/**
 * An external issuer's key set that is retrieved (200, JSON, a `keys` array) but holds no
 * key that can verify a token: members that are not objects, members without a `kty`,
 * keys jose cannot import, private keys, no keys, or more keys than the bound. Each is a
 * failed retrieval (jwks-fetch.ts): 503 `unavailable` with `Retry-After` counting down the
 * back-off, and the issuer sees one fetch per back-off, not one per request. A set that
 * holds a usable key beside unusable ones serves the usable one, and says once per
 * retrieval which keys it skipped.
 */
import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, test } from 'node:test';
import { exportJWK, generateKeyPair, SignJWT, type CryptoKey } from 'jose';
import { pino } from 'pino';
import { JWKS_MAX_KEYS, JWKS_RETRY_AFTER_MS } from '../../src/gateway/jwks-fetch.js';
import { bearer, NOW, NOW_S, problem, route, send, startGateway, startUpstream, type TestGateway, type Upstream } from './helpers.js';

const EXT = 'https://partner.example';
const MALFORMED = ['non-object', 'no-kty', 'unimportable', 'private', 'empty', 'too-many', 'enc-only'] as const;
let gw: TestGateway;
let upstream: Upstream;
let jwksServer: http.Server;
const hits: Record<string, number> = {};
const sets: Record<string, string> = {};
let extKey: { privateKey: CryptoKey; publicKey: CryptoKey };
const logged: { msg: string; jwksUri?: string; skipped?: string[] }[] = [];
const logger = pino({ level: 'warn' }, { write: (line: string) => void logged.push(JSON.parse(line)) });

before(async () => {
  extKey = await generateKeyPair('ES256', { extractable: true });
  const pub = { ...(await exportJWK(extKey.publicKey)), alg: 'ES256', use: 'sig' };
  const priv = { ...(await exportJWK(extKey.privateKey)), alg: 'ES256', use: 'sig' };
  const broken = { kty: 'EC', crv: 'P-256', x: 'AAAA', y: 'AAAA', alg: 'ES256', kid: 'ext-1' };
  sets['non-object'] = '{"keys":[1]}';
  sets['no-kty'] = JSON.stringify({ keys: [{ ...pub, kty: undefined, kid: 'ext-1' }] });
  sets['unimportable'] = JSON.stringify({ keys: [broken] });
  sets['private'] = JSON.stringify({ keys: [{ ...priv, kid: 'ext-1' }] });
  sets['empty'] = '{"keys":[]}';
  sets['too-many'] = JSON.stringify({ keys: Array.from({ length: JWKS_MAX_KEYS + 1 }, (_, i) => ({ ...pub, kid: i === 0 ? 'ext-1' : `k-${i}` })) });
  sets['enc-only'] = JSON.stringify({ keys: [{ ...pub, use: 'enc', kid: 'ext-1' }] });
  sets['mixed'] = JSON.stringify({ keys: [{ ...broken, kid: 'broken' }, { ...pub, kid: 'ext-1' }] });
  jwksServer = http.createServer((req, res) => {
    const path = req.url!.slice(1);
    hits[path] = (hits[path] ?? 0) + 1;
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(sets[path]);
  });
  await new Promise<void>((r) => jwksServer.listen(0, '127.0.0.1', r));
  const base = `http://127.0.0.1:${(jwksServer.address() as AddressInfo).port}`;
  upstream = await startUpstream();
  gw = await startGateway(
    ['mixed', ...MALFORMED].map((p) =>
      route({ name: p, match: { pathPrefix: `/${p}` }, upstream: upstream.url, require: { token: { audience: 'orders-api', issuers: [{ issuer: `${EXT}/${p}`, jwksUri: `${base}/${p}`, algorithms: ['ES256'] }] } } }),
    ),
    { logger },
  );
});
after(async () => {
  await gw.close();
  await upstream.close();
  jwksServer.closeAllConnections();
  await new Promise<void>((r) => jwksServer.close(() => r()));
});

let serial = 0;
const tokenFor = (path: string): Promise<string> =>
  new SignJWT({ iss: `${EXT}/${path}`, sub: 'partner-user', aud: 'orders-api', exp: NOW_S + 300, jti: `j-${serial++}` }).setProtectedHeader({ alg: 'ES256', kid: 'ext-1', typ: 'at+jwt' }).sign(extKey.privateKey);

async function unavailable(path: string): Promise<string | undefined> {
  const r = await send(gw.url, { path: `/${path}/x`, headers: bearer(await tokenFor(path)) });
  assert.equal(r.status, 503, `${path}: ${r.body}`);
  assert.equal(problem(r).code, 'unavailable', path);
  assert.equal(r.headers['www-authenticate'], undefined);
  return r.headers['retry-after'];
}

test('a key set with no usable key is a failed retrieval: 20 requests in the back-off window, one fetch, Retry-After counting down', async () => {
  assert.equal(JWKS_RETRY_AFTER_MS, 5_000);
  for (const path of MALFORMED) {
    // the key set was first fetched (and refused) when the route was compiled, at NOW
    const retryAfter: (string | undefined)[] = [];
    for (let i = 0; i < 10; i++) retryAfter.push(await unavailable(path));
    assert.equal(hits[path], 1, `${path}: fetched ${hits[path]} times for 10 requests`);
    assert.deepEqual(retryAfter, Array(10).fill('5'), path);
  }
  gw.clock.set(NOW + 2_500);
  for (const path of MALFORMED) {
    for (let i = 0; i < 5; i++) assert.equal(await unavailable(path), '3', path);
  }
  gw.clock.set(NOW + 4_999);
  for (const path of MALFORMED) {
    for (let i = 0; i < 5; i++) assert.equal(await unavailable(path), '1', path);
    assert.equal(hits[path], 1, `${path}: refetched during the back-off (${hits[path]} fetches)`);
  }
  // the back-off has passed: fetched again, refused again, a new back-off
  gw.clock.set(NOW + 5_000);
  for (const path of MALFORMED) {
    assert.equal(await unavailable(path), '5', path);
    assert.equal(await unavailable(path), '5', path);
    assert.equal(hits[path], 2, path);
  }
});

test('a key set with a usable key beside a broken one: the usable key verifies, the broken one is skipped with a note, once per retrieval', async () => {
  for (let i = 0; i < 5; i++) {
    const r = await send(gw.url, { path: '/mixed/x', headers: bearer(await tokenFor('mixed')) });
    assert.equal(r.status, 200, r.body);
  }
  assert.equal(hits['mixed'], 1);
  const notes = logged.filter((l) => l.jwksUri?.endsWith('/mixed') && l.skipped !== undefined);
  assert.equal(notes.length, 1, JSON.stringify(logged));
  assert.equal(notes[0]!.skipped!.length, 1);
  assert.match(notes[0]!.skipped![0]!, /broken/);
  assert.doesNotMatch(JSON.stringify(logged), /AAAA/, 'no key material in the log');
});
