/**
 * Attacks on the gateway's token step. Each test names the attack, asserts the exact
 * error code, and asserts that the upstream saw nothing.
 */
import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, beforeEach, describe, it } from 'node:test';
import { exportJWK, generateKeyPair, SignJWT, UnsecuredJWT } from 'jose';
import {
  baseClaims,
  bearer,
  mint,
  NOW_S,
  problem,
  rawRequest,
  route,
  send,
  startGateway,
  startUpstream,
  TestKeys,
  type Reply,
  type TestGateway,
  type Upstream,
} from './helpers.js';

const tokenRoute = (upstream: string) =>
  route({ name: 'orders', match: { pathPrefix: '/orders' }, upstream, require: { token: { audience: 'orders-api', scopes: ['orders:read'] } } });

describe('token policy: attacks', () => {
  let upstream: Upstream;
  let gw: TestGateway;
  const keys = new TestKeys();
  let seenBefore = 0;
  let attackerJwksFetches = 0;
  let attackerServer: http.Server;
  let attackerUrl = '';

  before(async () => {
    keys.add('k1', 'ES256');
    keys.add('r1', 'RS256');
    upstream = await startUpstream();
    gw = await startGateway(
      [
        tokenRoute(upstream.url),
        route({ name: 'admin', match: { pathPrefix: '/admin' }, upstream: upstream.url, require: { token: { audience: 'orders-api', scopes: ['orders:admin'] } } }),
        route({
          name: 'partner',
          match: { pathPrefix: '/partner' },
          upstream: upstream.url,
          require: { token: { audience: 'orders-api', issuers: [{ issuer: 'https://partner.example', jwksUri: 'http://127.0.0.1:9/jwks' }] } },
        }),
      ],
      { keys },
    );
    attackerServer = http.createServer((_req, res) => {
      attackerJwksFetches++;
      res.end('{"keys":[]}');
    });
    await new Promise<void>((r) => attackerServer.listen(0, '127.0.0.1', r));
    attackerUrl = `http://127.0.0.1:${(attackerServer.address() as AddressInfo).port}`;
  });
  after(async () => {
    await gw.close();
    await upstream.close();
    await new Promise<void>((r) => attackerServer.close(() => r()));
  });
  beforeEach(() => {
    seenBefore = upstream.seen.length;
  });

  async function denied(r: Reply, status: number, code: string): Promise<void> {
    assert.equal(r.status, status, r.body);
    assert.equal(problem(r).code, code);
    assert.equal(upstream.seen.length, seenBefore, 'the upstream must see nothing');
  }

  it('a valid token passes and the upstream gets the verified identity, not the token', async () => {
    const r = await send(gw.url, { path: '/orders/1', headers: bearer(await mint(keys, baseClaims())) });
    assert.equal(r.status, 200);
    const e = JSON.parse(r.body) as { headers: Record<string, string> };
    assert.equal(e.headers['x-portcullis-client-id'], 'app-1');
    assert.equal(e.headers['x-portcullis-subject'], 'user-1');
    assert.equal(e.headers['x-portcullis-scopes'], 'orders:read orders:write');
    assert.equal(e.headers['authorization'], undefined);
  });

  it('forged identity headers next to a valid token are replaced by the verified ones', async () => {
    const r = await send(gw.url, {
      path: '/orders/1',
      headers: { ...bearer(await mint(keys, baseClaims())), 'x-portcullis-client-id': 'admin-app', 'x-portcullis-scopes': 'orders:admin' },
    });
    const e = JSON.parse(r.body) as { headers: Record<string, string> };
    assert.equal(e.headers['x-portcullis-client-id'], 'app-1');
    assert.equal(e.headers['x-portcullis-scopes'], 'orders:read orders:write');
  });

  it('identity confusion: a sub "%C3%A9" (ASCII) and a sub "é" reach the upstream as two different x-portcullis-subject values', async () => {
    const subjectOf = async (sub: string): Promise<string> => {
      const r = await send(gw.url, { path: '/orders/1', headers: bearer(await mint(keys, baseClaims({ sub }))) });
      assert.equal(r.status, 200, r.body);
      return (JSON.parse(r.body) as { headers: Record<string, string> }).headers['x-portcullis-subject']!;
    };
    const encoded = await subjectOf('%C3%A9');
    const plain = await subjectOf('é');
    assert.notEqual(encoded, plain);
    assert.equal(decodeURIComponent(encoded), '%C3%A9');
    assert.equal(decodeURIComponent(plain), 'é');
    assert.equal(await subjectOf('user-1'), 'user-1');
  });

  it('a claim that is not well-formed Unicode (sub with a lone surrogate): 401 token.malformed, not a 500', async () => {
    const r = await send(gw.url, { path: '/orders/1', headers: bearer(await mint(keys, baseClaims({ sub: 'user-\ud800' }))) });
    await denied(r, 401, 'token.malformed');
  });

  it('no token: 401 token.missing with a bare Bearer challenge (no error attribute)', async () => {
    const r = await send(gw.url, { path: '/orders/1' });
    await denied(r, 401, 'token.missing');
    assert.equal(r.headers['www-authenticate'], 'Bearer realm="portcullis"');
  });

  it('alg none (unsecured JWT) is refused: token.alg-not-allowed', async () => {
    const t = new UnsecuredJWT(baseClaims()).encode();
    const withTyp = `${Buffer.from(JSON.stringify({ alg: 'none', typ: 'at+jwt', kid: 'k1' })).toString('base64url')}.${t.split('.')[1]}.`;
    for (const token of [t, withTyp]) {
      const r = await send(gw.url, { path: '/orders/1', headers: bearer(token.endsWith('.') ? token + 'AA' : token) });
      await denied(r, 401, 'token.alg-not-allowed');
    }
  });

  it('alg confusion: HS256 signed with the public key as the HMAC secret is refused: token.alg-not-allowed', async () => {
    const pub = keys.byKid.get('k1')!.key;
    for (const secret of [pub.export({ type: 'spki', format: 'pem' }) as string, pub.export({ type: 'spki', format: 'der' })]) {
      const t = await new SignJWT(baseClaims())
        .setProtectedHeader({ alg: 'HS256', kid: 'k1', typ: 'at+jwt' })
        .sign(typeof secret === 'string' ? new TextEncoder().encode(secret) : new Uint8Array(secret));
      await denied(await send(gw.url, { path: '/orders/1', headers: bearer(t) }), 401, 'token.alg-not-allowed');
    }
  });

  it('alg substitution: an RS256 token under the kid of the ES256 key is refused: token.alg-not-allowed', async () => {
    const t = await mint(keys, baseClaims(), { kid: 'k1', alg: 'RS256', key: keys.byKid.get('r1')!.privateKey });
    await denied(await send(gw.url, { path: '/orders/1', headers: bearer(t) }), 401, 'token.alg-not-allowed');
  });

  it('unknown kid: token.unknown-key', async () => {
    const t = await mint(keys, baseClaims(), { kid: 'k1' });
    const [, p, s] = t.split('.');
    const header = Buffer.from(JSON.stringify({ alg: 'ES256', kid: 'nope', typ: 'at+jwt' })).toString('base64url');
    await denied(await send(gw.url, { path: '/orders/1', headers: bearer(`${header}.${p}.${s}`) }), 401, 'token.unknown-key');
  });

  it('embedded key attacks: jku, x5u, jwk and x5c headers with an attacker key are ignored and never fetched', async () => {
    const attacker = await generateKeyPair('ES256');
    const jwk = await exportJWK(attacker.publicKey);
    const headers = [
      { kid: 'k1', jwk },
      { kid: 'k1', jku: `${attackerUrl}/jwks.json` },
      { kid: 'k1', x5u: `${attackerUrl}/cert.pem` },
      { kid: 'k1', x5c: ['MIIBszCCAVmgAwIBAgIUAA=='] },
    ];
    for (const extra of headers) {
      const t = await new SignJWT(baseClaims()).setProtectedHeader({ alg: 'ES256', typ: 'at+jwt', ...extra }).sign(attacker.privateKey);
      await denied(await send(gw.url, { path: '/orders/1', headers: bearer(t) }), 401, 'token.invalid-signature');
    }
    const t = await new SignJWT(baseClaims()).setProtectedHeader({ alg: 'ES256', typ: 'at+jwt', kid: 'attacker', jwk, jku: `${attackerUrl}/jwks.json` }).sign(attacker.privateKey);
    await denied(await send(gw.url, { path: '/orders/1', headers: bearer(t) }), 401, 'token.unknown-key');
    assert.equal(attackerJwksFetches, 0);
  });

  it('tampered payload (scope escalated, signature kept): token.invalid-signature', async () => {
    const t = await mint(keys, baseClaims({ scope: 'orders:read' }));
    const [h, , s] = t.split('.');
    const forged = Buffer.from(JSON.stringify(baseClaims({ scope: 'orders:read orders:admin' }))).toString('base64url');
    await denied(await send(gw.url, { path: '/admin', headers: bearer(`${h}.${forged}.${s}`) }), 401, 'token.invalid-signature');
  });

  it('expired token: token.expired (past the leeway), while inside the leeway it passes', async () => {
    await denied(await send(gw.url, { path: '/orders/1', headers: bearer(await mint(keys, baseClaims({ exp: NOW_S - 31, iat: NOW_S - 700 }))) }), 401, 'token.expired');
    const ok = await send(gw.url, { path: '/orders/1', headers: bearer(await mint(keys, baseClaims({ exp: NOW_S - 10, iat: NOW_S - 700 }))) });
    assert.equal(ok.status, 200);
  });

  it('token not yet valid (nbf or iat in the future beyond the leeway): token.not-yet-valid', async () => {
    await denied(await send(gw.url, { path: '/orders/1', headers: bearer(await mint(keys, baseClaims({ nbf: NOW_S + 60 }))) }), 401, 'token.not-yet-valid');
    await denied(await send(gw.url, { path: '/orders/1', headers: bearer(await mint(keys, baseClaims({ iat: NOW_S + 60 }))) }), 401, 'token.not-yet-valid');
  });

  it('token without exp (never expires): token.claim-missing', async () => {
    const c = baseClaims();
    delete c.exp;
    await denied(await send(gw.url, { path: '/orders/1', headers: bearer(await mint(keys, c)) }), 401, 'token.claim-missing');
  });

  it('self token without jti/client_id (cannot be revoked): token.claim-missing', async () => {
    const c = baseClaims();
    delete c.jti;
    await denied(await send(gw.url, { path: '/orders/1', headers: bearer(await mint(keys, c)) }), 401, 'token.claim-missing');
  });

  it('token for another API (wrong aud): token.wrong-audience', async () => {
    await denied(await send(gw.url, { path: '/orders/1', headers: bearer(await mint(keys, baseClaims({ aud: ['billing-api'] }))) }), 401, 'token.wrong-audience');
  });

  it('token naming another issuer (wrong iss) signed with a trusted key: token.wrong-issuer', async () => {
    await denied(await send(gw.url, { path: '/orders/1', headers: bearer(await mint(keys, baseClaims({ iss: 'https://evil.example' }))) }), 401, 'token.wrong-issuer');
  });

  it('self token on a route that trusts only an external issuer: token.wrong-issuer', async () => {
    await denied(await send(gw.url, { path: '/partner/x', headers: bearer(await mint(keys, baseClaims())) }), 401, 'token.wrong-issuer');
  });

  it('ID token (typ JWT) or a JWT without typ used as an access token: token.wrong-type', async () => {
    await denied(await send(gw.url, { path: '/orders/1', headers: bearer(await mint(keys, baseClaims(), { typ: 'JWT' })) }), 401, 'token.wrong-type');
    await denied(await send(gw.url, { path: '/orders/1', headers: bearer(await mint(keys, baseClaims(), { typ: undefined })) }), 401, 'token.wrong-type');
    const ok = await send(gw.url, { path: '/orders/1', headers: bearer(await mint(keys, baseClaims(), { typ: 'application/at+jwt' })) });
    assert.equal(ok.status, 200);
  });

  it('revoked token (RevocationSet token.revoked): token.revoked', async () => {
    const c = baseClaims();
    gw.revocations.apply({ type: 'token.revoked', jti: c.jti!, expiresAt: (NOW_S + 600) * 1000 });
    await denied(await send(gw.url, { path: '/orders/1', headers: bearer(await mint(keys, c)) }), 401, 'token.revoked');
  });

  it('token of an app whose tokens were all revoked (issued before the watermark): token.revoked', async () => {
    const c = baseClaims({ client_id: 'app-watermark' });
    gw.revocations.apply({ type: 'app.tokens-revoked', clientId: 'app-watermark', before: NOW_S * 1000 });
    await denied(await send(gw.url, { path: '/orders/1', headers: bearer(await mint(keys, c)) }), 401, 'token.revoked');
  });

  it('token of a disabled app: token.app-disabled, audited with the app as actor', async () => {
    gw.revocations.apply({ type: 'app.status', clientId: 'app-disabled', disabled: true });
    await denied(await send(gw.url, { path: '/orders/1', headers: bearer(await mint(keys, baseClaims({ client_id: 'app-disabled' }))) }), 401, 'token.app-disabled');
    const ev = gw.audit.events.at(-1)!;
    assert.equal(ev.type, 'gateway.denied');
    assert.equal(ev.reason, 'token.app-disabled');
    assert.equal(ev.actor, 'client:app-disabled');
    assert.equal(ev.route, 'orders');
  });

  it('missing scope: 403 token.insufficient-scope with error="insufficient_scope" and the scope needed', async () => {
    const r = await send(gw.url, { path: '/admin', headers: bearer(await mint(keys, baseClaims())) });
    await denied(r, 403, 'token.insufficient-scope');
    assert.match(r.headers['www-authenticate']!, /^Bearer realm="portcullis", error="insufficient_scope", .*scope="orders:admin"$/);
  });

  it('bad tokens get error="invalid_token" in WWW-Authenticate and no stack trace in the body', async () => {
    const r = await send(gw.url, { path: '/orders/1', headers: bearer('abc.def.ghi') });
    await denied(r, 401, 'token.malformed');
    assert.match(r.headers['www-authenticate']!, /^Bearer realm="portcullis", error="invalid_token", error_description="[^"]*"$/);
    assert.doesNotMatch(r.body, /at .*\.ts:\d+/);
  });

  it('malformed Authorization headers (other scheme, empty, spaces, commas, bad characters, not a JWS): token.malformed', async () => {
    const good = await mint(keys, baseClaims());
    const variants = ['Basic dXNlcjpwYXNz', 'Bearer', `Bearer ${good} extra`, `Bearer ${good},x`, `Bearer${good}`, 'Bearer a"b', 'Bearer ===', `Token ${good}`, 'Bearer abc', `Bearer ${good}.x`];
    for (const v of variants) await denied(await send(gw.url, { path: '/orders/1', headers: { authorization: v } }), 401, 'token.malformed');
  });

  it('two Authorization headers (smuggling a second credential): token.malformed', async () => {
    const good = await mint(keys, baseClaims());
    const out = await rawRequest(gw.port, `GET /orders/1 HTTP/1.1\r\nHost: a\r\nAuthorization: Bearer ${good}\r\nAuthorization: Bearer ${good}\r\nConnection: close\r\n\r\n`);
    assert.match(out, /^HTTP\/1\.1 401 /);
    assert.match(out, /"code":"token.malformed"/);
    assert.equal(upstream.seen.length, seenBefore);
  });

  it('a proof-of-possession method the gateway does not verify (cnf.jkt, DPoP) fails closed: 401 token.binding-unsupported, never a bearer token', async () => {
    for (const cnf of [{ jkt: '0ZcOCORZNYy-DWpqq30jZyJGHTN0d2HglBV3uiguA4I' }, { 'x5t#S256': 'abc', jkt: 'def' }, { 'x5t#S256': 'abc', 'x5t#S256x': 'def' }]) {
      const r = await send(gw.url, { path: '/orders/1', headers: bearer(await mint(keys, baseClaims({ cnf }))) });
      await denied(r, 401, 'token.binding-unsupported');
      assert.match(String(r.headers['www-authenticate']), /error="invalid_token"/);
    }
  });

  it('a malformed cnf claim (not an object, x5t#S256 not a string) is refused: 401 token.malformed', async () => {
    for (const cnf of ['x5t', ['x5t#S256'], { 'x5t#S256': 7 }]) {
      await denied(await send(gw.url, { path: '/orders/1', headers: bearer(await mint(keys, baseClaims({ cnf }))) }), 401, 'token.malformed');
    }
  });

  it('the Bearer scheme is case-insensitive', async () => {
    const r = await send(gw.url, { path: '/orders/1', headers: { authorization: `bEaReR ${await mint(keys, baseClaims())}` } });
    assert.equal(r.status, 200);
  });

  it('oversized Authorization header: 431 request.headers-too-large, upstream sees nothing', async () => {
    const out = await rawRequest(gw.port, `GET /orders/1 HTTP/1.1\r\nHost: a\r\nAuthorization: Bearer ${'a'.repeat(17 * 1024)}\r\n\r\n`);
    assert.match(out, /^HTTP\/1\.1 431 /);
    assert.match(out, /"code":"request.headers-too-large"/);
    assert.equal(upstream.seen.length, seenBefore);
  });
});
