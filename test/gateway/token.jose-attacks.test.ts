/**
 * Attacks on the JOSE layer of the gateway's token step that token.attacks.test.ts and
 * external-issuer.test.ts do not cover: `crit`, other serializations, kid injection,
 * duplicate JSON member names, JWT type confusion, claim types, sizes, and a hostile JWKS
 * endpoint of an external issuer. Each asserts the exact code, the RFC 6750 challenge,
 * the audited denial and that the upstream saw nothing.
 */
import assert from 'node:assert/strict';
import { sign } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, beforeEach, describe, it } from 'node:test';
import { CompactEncrypt, exportJWK, FlattenedSign, generateKeyPair, SignJWT, type CryptoKey, type JWTPayload } from 'jose';
import { pino } from 'pino';
import { baseClaims, bearer, ISSUER, mint, NOW_S, problem, rawRequest, route, send, startGateway, startUpstream, TestKeys, type Reply, type TestGateway, type Upstream } from './helpers.js';

const EXT = 'https://partner.example';
const b64 = (s: string): string => Buffer.from(s).toString('base64url');

describe('token policy: JOSE-layer attacks', () => {
  let upstream: Upstream;
  let gw: TestGateway;
  const keys = new TestKeys();
  let extKey: { privateKey: CryptoKey; publicKey: CryptoKey };
  let twinKey: { privateKey: CryptoKey; publicKey: CryptoKey };
  let jwksServer: http.Server;
  let jwksHits: Record<string, number> = {};
  let privateHits = 0;
  let privateServer: http.Server;
  let seenBefore = 0;
  const logged: { level: number; msg: string; jwksUri?: string; kids?: string[] }[] = [];
  const logger = pino({ level: 'warn' }, { write: (line: string) => void logged.push(JSON.parse(line)) });

  /** ES256 over exactly the header and payload text given (for duplicate member names jose would not produce). */
  const signRaw = (header: string, payload: string, kid = 'k1'): string => {
    const input = `${b64(header)}.${b64(payload)}`;
    const sig = sign('sha256', Buffer.from(input), { key: keys.byKid.get(kid)!.privateKey, dsaEncoding: 'ieee-p1363' });
    return `${input}.${sig.toString('base64url')}`;
  };
  const mintExt = (c: JWTPayload, kid: string, key: CryptoKey, path = 'good', typ = 'at+jwt') =>
    new SignJWT({ iss: `${EXT}/${path}`, sub: 'partner-user', aud: 'orders-api', exp: NOW_S + 300, ...c }).setProtectedHeader({ alg: 'ES256', kid, typ }).sign(key);

  before(async () => {
    keys.add('k1', 'ES256');
    keys.add('r1', 'RS256');
    extKey = await generateKeyPair('ES256');
    twinKey = await generateKeyPair('ES256');
    const good = JSON.stringify({ keys: [{ ...(await exportJWK(extKey.publicKey)), kid: 'ext-1', alg: 'ES256', use: 'sig' }] });
    const twins = JSON.stringify({
      keys: [
        { ...(await exportJWK(extKey.publicKey)), kid: 'twin', alg: 'ES256', use: 'sig' },
        { ...(await exportJWK(twinKey.publicKey)), kid: 'twin', alg: 'ES256', use: 'sig' },
      ],
    });
    privateServer = http.createServer((_req, res) => {
      privateHits++;
      res.end(good);
    });
    await new Promise<void>((r) => privateServer.listen(0, '127.0.0.1', r));
    const privateUrl = `http://127.0.0.1:${(privateServer.address() as AddressInfo).port}/jwks.json`;
    jwksServer = http.createServer((req, res) => {
      const path = req.url!.slice(1);
      jwksHits[path] = (jwksHits[path] ?? 0) + 1;
      if (path === 'good') return res.end(good);
      if (path === 'twins') return res.end(twins);
      if (path === 'redirect') {
        res.writeHead(302, { location: privateUrl });
        return res.end();
      }
      if (path === 'huge') {
        // 50 MB: a JSON string that never closes before the limit
        res.writeHead(200, { 'content-type': 'application/json', 'content-length': String(50 * 1024 * 1024) });
        res.write('{"keys":[],"pad":"');
        const chunk = Buffer.alloc(1024 * 1024, 0x61);
        let sent = 0;
        const pump = (): void => {
          while (sent < 49 && res.write(chunk)) sent++;
          if (sent < 49) res.once('drain', pump);
          else res.end('"}');
        };
        res.on('error', () => {});
        return pump();
      }
      if (path === 'endless') {
        res.writeHead(200, { 'content-type': 'application/json' });
        res.write('{"keys":[],"pad":"');
        const chunk = Buffer.alloc(64 * 1024, 0x61);
        const pump = (): void => {
          while (!res.destroyed && res.write(chunk));
          if (!res.destroyed) res.once('drain', pump);
        };
        res.on('error', () => {});
        return pump();
      }
      res.statusCode = 404;
      res.end();
    });
    await new Promise<void>((r) => jwksServer.listen(0, '127.0.0.1', r));
    const base = `http://127.0.0.1:${(jwksServer.address() as AddressInfo).port}`;
    const ext = (path: string) => ({ issuer: `${EXT}/${path}`, jwksUri: `${base}/${path}`, algorithms: ['ES256'] });
    upstream = await startUpstream();
    gw = await startGateway(
      [
        route({ name: 'orders', match: { pathPrefix: '/orders' }, upstream: upstream.url, require: { token: { audience: 'orders-api', scopes: ['orders:read'] } } }),
        route({
          name: 'partner',
          match: { pathPrefix: '/partner' },
          upstream: upstream.url,
          require: { token: { audience: 'orders-api', issuers: ['self', ext('good'), ext('twins'), ext('redirect'), ext('huge'), ext('endless')] } },
        }),
      ],
      { keys, logger },
    );
  });
  after(async () => {
    await gw.close();
    await upstream.close();
    jwksServer.closeAllConnections();
    await new Promise<void>((r) => jwksServer.close(() => r()));
    await new Promise<void>((r) => privateServer.close(() => r()));
  });
  beforeEach(() => {
    seenBefore = upstream.seen.length;
  });

  async function denied(r: Reply, status: number, code: string): Promise<void> {
    assert.equal(r.status, status, r.body);
    assert.equal(problem(r).code, code);
    if (code.startsWith('token.')) assert.match(String(r.headers['www-authenticate']), /^Bearer realm="portcullis", error="invalid_token", error_description="[^"]*"$/);
    else assert.equal(r.headers['www-authenticate'], undefined, 'not a token failure: no Bearer challenge');
    assert.doesNotMatch(r.body, /at .*\.[jt]s:\d+/);
    assert.equal(upstream.seen.length, seenBefore, 'the upstream must see nothing');
    const ev = gw.audit.events.at(-1)!;
    assert.equal(ev.type, 'gateway.denied');
    assert.equal(ev.reason, code);
  }
  const get = (token: string, path = '/orders/1') => send(gw.url, { path, headers: bearer(token) });

  describe('header', () => {
    it('crit naming an extension this resource does not understand: 401 token.malformed (RFC 7515 §4.1.11: the JWS is invalid)', async () => {
      for (const crit of [{ crit: ['exp'], exp: NOW_S + 60 }, { crit: ['urn:example:ext'], 'urn:example:ext': true }, { crit: [] }, { crit: 'exp' }]) {
        const header = JSON.stringify({ alg: 'ES256', kid: 'k1', typ: 'at+jwt', ...crit });
        await denied(await get(signRaw(header, JSON.stringify(baseClaims()))), 401, 'token.malformed');
      }
    });

    it('unencoded payload (b64: false, RFC 7797), with or without crit: 401 token.malformed', async () => {
      for (const header of [{ b64: false, crit: ['b64'] }, { b64: false }, { b64: true, crit: ['b64'] }]) {
        const t = await new FlattenedSign(new TextEncoder().encode(JSON.stringify(baseClaims())))
          .setProtectedHeader({ alg: 'ES256', kid: 'k1', typ: 'at+jwt', ...header })
          .sign(keys.byKid.get('k1')!.privateKey);
        await denied(await get(`${t.protected}.${header.b64 === false ? b64(JSON.stringify(baseClaims())) : t.payload}.${t.signature}`), 401, 'token.malformed');
      }
    });

    it('JWS JSON serialization instead of compact: 401 token.malformed', async () => {
      const t = await new FlattenedSign(new TextEncoder().encode(JSON.stringify(baseClaims()))).setProtectedHeader({ alg: 'ES256', kid: 'k1', typ: 'at+jwt' }).sign(keys.byKid.get('k1')!.privateKey);
      await denied(await send(gw.url, { path: '/orders/1', headers: { authorization: `Bearer ${JSON.stringify(t)}` } }), 401, 'token.malformed');
      await denied(await get(b64(JSON.stringify(t))), 401, 'token.malformed');
    });

    it('a JWE where a JWS is expected (encrypted to the issuer\'s RSA key): 401 token.malformed', async () => {
      const jwe = await new CompactEncrypt(new TextEncoder().encode(await mint(keys, baseClaims())))
        .setProtectedHeader({ alg: 'RSA-OAEP-256', enc: 'A256GCM', kid: 'r1', typ: 'at+jwt', cty: 'JWT' })
        .encrypt(keys.byKid.get('r1')!.key);
      await denied(await get(jwe), 401, 'token.malformed');
      const dir = `${b64(JSON.stringify({ alg: 'dir', enc: 'A256GCM', kid: 'k1', typ: 'at+jwt' }))}..AAAAAAAAAAAAAAAA.AAAA.AAAAAAAAAAAAAAAAAAAAAA`;
      await denied(await get(dir), 401, 'token.malformed');
    });

    it('kid with path or SQL-ish content, a non-string kid, or a 10 KB kid: 401 token.unknown-key, never a lookup beyond the key ring', async () => {
      for (const kid of ['../../etc/passwd', "k1' OR '1'='1", 'k1\u0000', 'K1', ' k1', 'k'.repeat(10 * 1024)]) {
        await denied(await get(await mint(keys, baseClaims(), { header: { kid } })), 401, 'token.unknown-key');
      }
      for (const kid of [1, ['k1'], { k1: true }, null]) {
        await denied(await get(await mint(keys, baseClaims(), { header: { kid } })), 401, 'token.unknown-key');
      }
    });

    it('two keys with the same kid in an external issuer\'s JWKS: the token is refused (401 token.unknown-key), whichever key signed it, saying why; logged once per JWKS retrieval, not per request', async () => {
      for (let i = 0; i < 3; i++) {
        for (const key of [extKey.privateKey, twinKey.privateKey]) {
          const r = await get(await mintExt({}, 'twin', key, 'twins'), '/partner/x');
          await denied(r, 401, 'token.unknown-key');
          assert.match(problem(r).detail ?? '', /more than one key with this kid/);
          assert.match(String(r.headers['www-authenticate']), /more than one key with this kid/);
        }
      }
      const warnings = logged.filter((l) => l.jwksUri?.endsWith('/twins') && /kid/.test(l.msg));
      assert.ok((jwksHits['twins'] ?? 0) >= 1);
      assert.equal(warnings.length, jwksHits['twins'], JSON.stringify(logged));
      assert.deepEqual(warnings[0]!.kids, ['twin']);
      assert.equal(warnings[0]!.level, 40);
    });

    it('duplicate member names in the header ({"typ":"JWT","typ":"at+jwt"}): 401 token.malformed', async () => {
      const header = '{"alg":"ES256","kid":"k1","typ":"JWT","typ":"at+jwt"}';
      await denied(await get(signRaw(header, JSON.stringify(baseClaims()))), 401, 'token.malformed');
      const escaped = '{"alg":"ES256","kid":"k1","typ":"at+jwt","t\\u0079p":"at+jwt"}';
      await denied(await get(signRaw(escaped, JSON.stringify(baseClaims()))), 401, 'token.malformed');
    });
  });

  describe('claims', () => {
    it('duplicate member names in the claims ({"aud":"x","aud":"orders-api"}, scope twice): 401 token.malformed, though JSON.parse would keep the last', async () => {
      const header = JSON.stringify({ alg: 'ES256', kid: 'k1', typ: 'at+jwt' });
      const claims = JSON.stringify(baseClaims());
      const sanity = await get(signRaw(header, claims));
      assert.equal(sanity.status, 200, sanity.body);
      seenBefore = upstream.seen.length;
      await denied(await get(signRaw(header, `{"aud":"billing-api",${claims.slice(1)}`)), 401, 'token.malformed');
      await denied(await get(signRaw(header, `${claims.slice(0, -1)},"scope":"orders:read orders:admin"}`)), 401, 'token.malformed');
      await denied(await get(signRaw(header, `${claims.slice(0, -1)},"cnf":{"x5t#S256":"a","x5t#S256":"b"}}`)), 401, 'token.malformed');
    });

    it('exp, nbf or iat not a number (string, boolean, null, object): 401 token.malformed', async () => {
      for (const over of [{ exp: String(NOW_S + 600) }, { exp: true }, { exp: null }, { exp: { n: NOW_S + 600 } }, { nbf: String(NOW_S) }, { iat: String(NOW_S) }]) {
        await denied(await get(await mint(keys, baseClaims(over as unknown as JWTPayload))), 401, 'token.malformed');
      }
    });

    it('exp as a float or a huge number is a NumericDate: a float is accepted, a huge one is past the maximum lifetime (never a 500), and a float just past the leeway is expired', async () => {
      const r = await get(await mint(keys, baseClaims({ exp: NOW_S + 600.5 })));
      assert.equal(r.status, 200, r.body);
      seenBefore = upstream.seen.length;
      for (const exp of [1e15, 1e300, Number.MAX_VALUE]) await denied(await get(await mint(keys, baseClaims({ exp }))), 401, 'token.lifetime-too-long');
      await denied(await get(await mint(keys, baseClaims({ exp: NOW_S - 30.001, iat: NOW_S - 700 }))), 401, 'token.expired');
    });

    it('a self token without iat (RFC 9068 §2.2 REQUIRED; revocation watermarks need it): 401 token.claim-missing', async () => {
      const c = baseClaims();
      delete c.iat;
      await denied(await get(await mint(keys, c)), 401, 'token.claim-missing');
    });

    it('aud as an array: the audience among others passes; a non-string member is 401 token.malformed; an empty array or an object is refused', async () => {
      assert.equal((await get(await mint(keys, baseClaims({ aud: ['billing-api', 'orders-api'] })))).status, 200);
      seenBefore = upstream.seen.length;
      await denied(await get(await mint(keys, baseClaims({ aud: ['orders-api', 5] as unknown as string[] }))), 401, 'token.malformed');
      await denied(await get(await mint(keys, baseClaims({ aud: ['orders-api', null] as unknown as string[] }))), 401, 'token.malformed');
      await denied(await get(await mint(keys, baseClaims({ aud: { 0: 'orders-api' } as unknown as string }))), 401, 'token.malformed');
      await denied(await get(await mint(keys, baseClaims({ aud: [] }))), 401, 'token.wrong-audience');
    });

    it('a scope claim that is not a string (an array of scopes): 401 token.malformed', async () => {
      await denied(await get(await mint(keys, baseClaims({ scope: ['orders:read'] as unknown as string }))), 401, 'token.malformed');
    });
  });

  describe('type confusion', () => {
    it('a logout token, a DPoP proof, a client assertion, a SET, or a JWT with typ at+jwt plus junk, signed with the issuer\'s own key: 401 token.wrong-type', async () => {
      for (const typ of ['logout+jwt', 'dpop+jwt', 'JWT', 'client-authentication+jwt', 'secevent+jwt', 'at+jwt; x=1', 'at+jwt ', 'jwt+at', 'application/jwt', 'token-introspection+jwt']) {
        await denied(await get(await mint(keys, baseClaims(), { typ })), 401, 'token.wrong-type');
      }
      await denied(await get(await mint(keys, baseClaims(), { typ: ['at+jwt'] as unknown as string })), 401, 'token.wrong-type');
    });

    it('a client assertion (iss = sub = client_id, aud = the token endpoint) even with typ at+jwt: refused (401 token.wrong-issuer)', async () => {
      const c = { iss: 'app-1', sub: 'app-1', aud: `${ISSUER}/oauth2/token`, jti: 'a1', iat: NOW_S, exp: NOW_S + 60 };
      await denied(await get(await mint(keys, c)), 401, 'token.wrong-issuer');
    });

    it('an ID token of this issuer (aud = the client, no scope) given typ at+jwt: 401 token.wrong-audience', async () => {
      const c = baseClaims({ aud: 'app-1', nonce: 'n', auth_time: NOW_S - 20 });
      delete c.scope;
      await denied(await get(await mint(keys, c)), 401, 'token.wrong-audience');
    });

    it('a token of another issuer whose kid equals one of this issuer\'s kids: its own issuer\'s JWKS decides (401 token.unknown-key); claiming this issuer, 401 token.invalid-signature', async () => {
      await denied(await get(await mintExt({}, 'k1', extKey.privateKey), '/partner/x'), 401, 'token.unknown-key');
      await denied(await get(await mintExt({ iss: ISSUER, client_id: 'app-1', jti: 'x', iat: NOW_S }, 'k1', extKey.privateKey), '/partner/x'), 401, 'token.invalid-signature');
      const ok = await get(await mintExt({}, 'ext-1', extKey.privateKey), '/partner/x');
      assert.equal(ok.status, 200, ok.body);
    });
  });

  describe('size', () => {
    it('a 1 MB Authorization header: 431 request.headers-too-large, never a 500, upstream sees nothing', async () => {
      const out = await rawRequest(gw.port, `GET /orders/1 HTTP/1.1\r\nHost: a\r\nAuthorization: Bearer ${'a'.repeat(1024 * 1024)}\r\nConnection: close\r\n\r\n`);
      assert.match(out, /^HTTP\/1\.1 431 /);
      assert.match(out, /"code":"request.headers-too-large"/);
      assert.equal(upstream.seen.length, seenBefore);
    });

    it('a token with 10,000 scopes is over the header limit: 431; with 1,500 it is checked and passes', async () => {
      const many = Array.from({ length: 10_000 }, (_, i) => `s${i}`).join(' ');
      const out = await rawRequest(gw.port, `GET /orders/1 HTTP/1.1\r\nHost: a\r\nAuthorization: Bearer ${await mint(keys, baseClaims({ scope: `orders:read ${many}` }))}\r\nConnection: close\r\n\r\n`);
      assert.match(out, /^HTTP\/1\.1 431 /);
      const some = Array.from({ length: 1_500 }, (_, i) => `s${i}`).join(' ');
      const r = await get(await mint(keys, baseClaims({ scope: `${some} orders:read` })));
      assert.equal(r.status, 200, r.body);
    });
  });

  describe('external issuer JWKS endpoint', () => {
    it('a JWKS URL that redirects (to a private address) is not followed: 503 unavailable, the target never fetched', async () => {
      const r = await get(await mintExt({}, 'ext-1', extKey.privateKey, 'redirect'), '/partner/x');
      await denied(r, 503, 'unavailable');
      assert.equal(privateHits, 0);
    });

    it('a key set that cannot be retrieved is not an authentication failure: 503 unavailable without a Bearer challenge (RFC 6750 §3 challenges a request whose token does not enable access; this one was never judged)', async () => {
      const r = await get(await mintExt({}, 'ext-1', extKey.privateKey, 'redirect'), '/partner/x');
      await denied(r, 503, 'unavailable');
      assert.equal(r.headers['www-authenticate'], undefined);
      assert.doesNotMatch(r.body, /invalid_token/);
    });

    it('a 50 MB JWKS response is cut off at the size limit: 503 unavailable, quickly', async () => {
      const started = Date.now();
      const r = await get(await mintExt({}, 'ext-1', extKey.privateKey, 'huge'), '/partner/x');
      await denied(r, 503, 'unavailable');
      assert.ok(Date.now() - started < 2_000, `took ${Date.now() - started} ms`);
    });

    it('a JWKS response that never ends is cut off at the size limit: 503 unavailable, quickly', async () => {
      const started = Date.now();
      const r = await get(await mintExt({}, 'ext-1', extKey.privateKey, 'endless'), '/partner/x');
      await denied(r, 503, 'unavailable');
      assert.ok(Date.now() - started < 2_000, `took ${Date.now() - started} ms`);
    });

    it('requests bearing tokens of an issuer whose JWKS endpoint fails do not each refetch it: one retrieval per back-off', async () => {
      const before = jwksHits['redirect'] ?? 0;
      for (let i = 0; i < 10; i++) await denied(await get(await mintExt({}, `ext-${i}`, extKey.privateKey, 'redirect'), '/partner/x'), 503, 'unavailable');
      assert.ok((jwksHits['redirect'] ?? 0) - before <= 1, `refetches: ${(jwksHits['redirect'] ?? 0) - before}`);
      assert.equal(privateHits, 0);
    });

    it('an unknown-kid flood refetches the JWKS at most once per cooldown, not per request', async () => {
      const before = jwksHits['good'] ?? 0;
      for (let i = 0; i < 20; i++) await denied(await get(await mintExt({}, `rogue-${i}`, twinKey.privateKey), '/partner/x'), 401, 'token.unknown-key');
      assert.ok((jwksHits['good'] ?? 0) - before <= 1, `refetches: ${(jwksHits['good'] ?? 0) - before}`);
    });
  });
});
