/** Admin API for apps: register (secret shown once), list/show, disable/enable, rotate-secret, revoke-tokens, JWKS. */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { generateKeyPairSync } from 'node:crypto';
import { App, AppCredentials, AppList, AppResponse } from '../../src/http/admin/schemas.js';
import { issueToken, startTestNode, type TestNode } from './node.js';

const publicJwk = () => {
  const { publicKey, privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  return { pub: { ...publicKey.export({ format: 'jwk' }), kid: 'k1', alg: 'ES256' }, priv: privateKey.export({ format: 'jwk' }) };
};

describe('admin API: apps', () => {
  let t: TestNode;
  before(async () => {
    t = await startTestNode();
  });
  after(() => t.close());

  const create = async (name: string, extra: Record<string, unknown> = {}) => {
    const res = await t.api('/v1/apps', { body: { name, audiences: ['orders-api'], scopes: ['orders:read', 'orders:write'], ...extra } });
    assert.equal(res.status, 201, JSON.stringify(res.body));
    return AppCredentials.parse(res.body);
  };
  const lastAudit = async () => (await t.node.services.store.tailAudit(1))[0]!;

  test('POST /v1/apps → 201 with the app, client_id and a client secret that works at the token endpoint', async () => {
    const c = await create('orders');
    assert.equal(c.app.client_id, c.client_id);
    assert.deepEqual(c.app.audiences, ['orders-api']);
    assert.equal(c.app.token_endpoint_auth_method, 'client_secret_basic');
    assert.equal(c.app.status, 'active');
    assert.ok(c.client_secret && c.client_secret.length >= 32);
    assert.ok(await issueToken(t.identity, c.client_id, c.client_secret));
  });

  test('the change is audited with actor admin and durable when the answer arrives (no flush by the test)', async () => {
    const c = await create('audited');
    const row = await lastAudit();
    assert.equal(row.type, 'app.created');
    assert.equal(row.actor, 'admin');
    assert.equal(row.clientId, c.client_id);
  });

  test('the client secret is shown once: GET list and GET one never contain it (nor a verifier)', async () => {
    const c = await create('shown-once');
    const list = await t.api('/v1/apps');
    const one = await t.api(`/v1/apps/${c.client_id}`);
    assert.equal(list.status, 200);
    assert.equal(one.status, 200);
    AppList.parse(list.body);
    assert.deepEqual(AppResponse.parse(one.body).app, c.app);
    for (const text of [JSON.stringify(list.body), JSON.stringify(one.body)]) {
      assert.ok(!text.includes(c.client_secret!), 'secret leaked');
      assert.ok(!/secret|verifier|hmac/i.test(text.replace(/client_secret_(basic|post)/g, '')), 'a secret-bearing field appeared');
    }
  });

  test('invalid input → 400 request.invalid naming each field path', async () => {
    const res = await t.api('/v1/apps', { body: { name: 7, audiences: ['ok', 3], scopes: ['bad scope'], client_secret: 'chosen-by-caller' } });
    assert.equal(res.status, 400);
    assert.equal(res.body.code, 'request.invalid');
    const paths = res.body.errors.map((e: { path: string }) => e.path).sort();
    assert.deepEqual(paths, ['audiences[1]', 'client_secret', 'name', 'scopes[0]']);
    assert.match(res.body.detail, /audiences\[1\]/);
  });

  test('missing audiences, empty body, non-JSON body → 400 with the exact code', async () => {
    const noAud = await t.api('/v1/apps', { body: { name: 'x', audiences: [] } });
    assert.equal(noAud.status, 400);
    assert.equal(noAud.body.code, 'request.invalid');
    assert.deepEqual(noAud.body.errors.map((e: { path: string }) => e.path), ['audiences']);
    const notJson = await t.api('/v1/apps', { body: '{"name":', headers: { 'content-type': 'application/json' } });
    assert.equal(notJson.status, 400);
    assert.equal(notJson.body.code, 'request.malformed');
    const noBody = await t.api('/v1/apps', { method: 'POST' });
    assert.equal(noBody.status, 400);
    assert.equal(noBody.body.code, 'request.invalid');
  });

  test('unknown client_id → 404 not-found on show and on every action', async () => {
    const id = 'no-such-app-0000';
    for (const [method, path, body] of [
      ['GET', `/v1/apps/${id}`, undefined],
      ['POST', `/v1/apps/${id}/disable`, undefined],
      ['POST', `/v1/apps/${id}/enable`, undefined],
      ['POST', `/v1/apps/${id}/rotate-secret`, undefined],
      ['POST', `/v1/apps/${id}/revoke-tokens`, undefined],
      ['PUT', `/v1/apps/${id}/jwks`, { keys: [publicJwk().pub] }],
      ['PUT', `/v1/apps/${id}/served-audiences`, { served_audiences: ['orders-api'] }],
    ] as const) {
      const res = await t.api(path, { method, ...(body ? { body } : {}) });
      assert.equal(res.status, 404, `${method} ${path}`);
      assert.equal(res.body.code, 'not-found');
    }
  });

  test('served audiences: none by default; set at registration and replaced with PUT …/served-audiences, shown by GET, audited, and in force for introspection', async () => {
    const plain = await create('serves-nothing');
    assert.deepEqual(plain.app.served_audiences, []);
    const rs = await create('orders-service', { served_audiences: ['orders-api', 'orders-api', 'billing-api'] });
    assert.deepEqual(rs.app.served_audiences, ['orders-api', 'billing-api']);
    assert.deepEqual(AppResponse.parse((await t.api(`/v1/apps/${rs.client_id}`)).body).app.served_audiences, ['orders-api', 'billing-api']);

    const token = await issueToken(t.identity, plain.client_id, plain.client_secret!);
    const introspect = async (c: { client_id: string; client_secret: string | null }) =>
      (await fetch(`${t.identity}/oauth2/introspect`, { method: 'POST', headers: { authorization: `Basic ${Buffer.from(`${c.client_id}:${c.client_secret}`).toString('base64')}`, 'content-type': 'application/x-www-form-urlencoded' }, body: `token=${token}` })).json();
    assert.equal((await introspect(rs)).active, true);

    const set = await t.api(`/v1/apps/${rs.client_id}/served-audiences`, { method: 'PUT', body: { served_audiences: ['billing-api'] } });
    assert.equal(set.status, 200, JSON.stringify(set.body));
    assert.deepEqual(AppResponse.parse(set.body).app.served_audiences, ['billing-api']);
    const row = await lastAudit();
    assert.equal(row.type, 'app.served-audiences-set');
    assert.equal(row.clientId, rs.client_id);
    assert.deepEqual(row.data, { servedAudiences: ['billing-api'] });
    assert.deepEqual(await introspect(rs), { active: false });
    assert.deepEqual(AppResponse.parse((await t.api(`/v1/apps/${rs.client_id}`)).body).app.served_audiences, ['billing-api']);

    const cleared = await t.api(`/v1/apps/${rs.client_id}/served-audiences`, { method: 'PUT', body: { served_audiences: [] } });
    assert.deepEqual(AppResponse.parse(cleared.body).app.served_audiences, []);
  });

  test('served audiences: an empty audience or a missing list → 400 request.invalid naming the field', async () => {
    const bad = await t.api('/v1/apps', { body: { name: 'bad-serves', audiences: ['a'], served_audiences: [''] } });
    assert.equal(bad.status, 400);
    assert.equal(bad.body.code, 'request.invalid');
    assert.deepEqual(bad.body.errors.map((e: { path: string }) => e.path), ['served_audiences[0]']);
    const c = await create('serves-later');
    const missing = await t.api(`/v1/apps/${c.client_id}/served-audiences`, { method: 'PUT', body: {} });
    assert.equal(missing.status, 400);
    assert.equal(missing.body.code, 'request.invalid');
    assert.deepEqual(missing.body.errors.map((e: { path: string }) => e.path), ['served_audiences']);
  });

  test('disable: the app token stops being active at once and no new token is issued; enable lets new tokens through', async () => {
    const c = await create('disable-me');
    const token = await issueToken(t.identity, c.client_id, c.client_secret!);
    const dis = await t.api(`/v1/apps/${c.client_id}/disable`, { method: 'POST' });
    assert.equal(dis.status, 200);
    assert.equal(AppResponse.parse(dis.body).app.status, 'disabled');
    assert.equal((await lastAudit()).type, 'app.disabled');
    assert.deepEqual((await t.api('/v1/tokens/introspect', { body: { token } })).body, { active: false });
    await assert.rejects(issueToken(t.identity, c.client_id, c.client_secret!), /401/);
    const en = await t.api(`/v1/apps/${c.client_id}/enable`, { method: 'POST' });
    assert.equal(en.body.app.status, 'active');
    assert.equal((await lastAudit()).type, 'app.enabled');
    assert.deepEqual((await t.api('/v1/tokens/introspect', { body: { token } })).body, { active: false }, 'tokens revoked by disable stay revoked');
    // iat has second resolution: a token issued in the same second as the revocation is (conservatively) revoked too.
    await new Promise((r) => setTimeout(r, 1100));
    const fresh = await issueToken(t.identity, c.client_id, c.client_secret!);
    assert.equal((await t.api('/v1/tokens/introspect', { body: { token: fresh } })).body.active, true);
  });

  test('rotate-secret: the new secret is returned once and works; the old secret is refused at once', async () => {
    const c = await create('rotate-me');
    const r = await t.api(`/v1/apps/${c.client_id}/rotate-secret`, { method: 'POST' });
    assert.equal(r.status, 200);
    const rotated = AppCredentials.parse(r.body);
    assert.ok(rotated.client_secret && rotated.client_secret !== c.client_secret);
    assert.equal((await lastAudit()).type, 'app.secret-rotated');
    await assert.rejects(issueToken(t.identity, c.client_id, c.client_secret!), /401/);
    assert.ok(await issueToken(t.identity, c.client_id, rotated.client_secret!));
    assert.ok(!JSON.stringify((await t.api(`/v1/apps/${c.client_id}`)).body).includes(rotated.client_secret!));
  });

  test('revoke-tokens: every current token of the app becomes inactive; tokens_revoked_before is set', async () => {
    const c = await create('revoke-all');
    const t1 = await issueToken(t.identity, c.client_id, c.client_secret!);
    const t2 = await issueToken(t.identity, c.client_id, c.client_secret!);
    const res = await t.api(`/v1/apps/${c.client_id}/revoke-tokens`, { method: 'POST' });
    assert.equal(res.status, 200);
    assert.ok(AppResponse.parse(res.body).app.tokens_revoked_before);
    assert.equal((await lastAudit()).type, 'app.tokens-revoked');
    for (const token of [t1, t2]) assert.deepEqual((await t.api('/v1/tokens/introspect', { body: { token } })).body, { active: false });
  });

  test('revoke-tokens, then a new token at once (a rotation script): the new token works, although issued in the cutoff\'s second', async () => {
    const c = await create('revoke-then-new');
    for (let i = 0; i < 3; i++) {
      const res = await t.api(`/v1/apps/${c.client_id}/revoke-tokens`, { method: 'POST' });
      assert.equal(res.status, 200);
      const cutoff = Date.parse(AppResponse.parse(res.body).app.tokens_revoked_before!);
      const fresh = await issueToken(t.identity, c.client_id, c.client_secret!);
      const iat = (JSON.parse(Buffer.from(fresh.split('.')[1]!, 'base64url').toString()) as { iat: number }).iat;
      assert.ok(iat * 1000 >= cutoff, `iat ${iat} is not before the cutoff ${cutoff}`);
      assert.equal((await t.api('/v1/tokens/introspect', { body: { token: fresh } })).body.active, true);
    }
  });

  test('PUT jwks: the app switches to private_key_jwt with the given public key; its secret stops working', async () => {
    const c = await create('jwks-app');
    const res = await t.api(`/v1/apps/${c.client_id}/jwks`, { method: 'PUT', body: { keys: [publicJwk().pub] } });
    assert.equal(res.status, 200, JSON.stringify(res.body));
    const app = App.parse(res.body.app);
    assert.equal(app.token_endpoint_auth_method, 'private_key_jwt');
    assert.equal(app.jwks_keys, 1);
    assert.equal((await lastAudit()).type, 'app.jwks-set');
    await assert.rejects(issueToken(t.identity, c.client_id, c.client_secret!), /401/);
  });

  test('attack: registering a private key (JWK with "d") as an app key → 400 request.invalid, nothing stored', async () => {
    const c = await create('jwks-private');
    const { priv } = publicJwk();
    const res = await t.api(`/v1/apps/${c.client_id}/jwks`, { method: 'PUT', body: { keys: [priv] } });
    assert.equal(res.status, 400);
    assert.equal(res.body.code, 'request.invalid');
    assert.equal((await t.api(`/v1/apps/${c.client_id}`)).body.app.token_endpoint_auth_method, 'client_secret_basic');
    const create2 = await t.api('/v1/apps', { body: { name: 'x', audiences: ['a'], jwks: { keys: [priv] } } });
    assert.equal(create2.status, 400);
    assert.equal(create2.body.code, 'request.invalid');
  });

  test('attack: a weak or unusable public key in an app JWKS (RSA under 2048 bits, even or tiny exponent, EC secp256k1 or P-521, an alg the key does not fit, use enc) → 400 request.invalid naming it, nothing stored', async () => {
    const c = await create('jwks-weak');
    const jwk = (k: ReturnType<typeof generateKeyPairSync>['publicKey']) => k.export({ format: 'jwk' }) as Record<string, string>;
    const rsa1024 = jwk(generateKeyPairSync('rsa', { modulusLength: 1024 }).publicKey);
    const rsa2048 = jwk(generateKeyPairSync('rsa', { modulusLength: 2048 }).publicKey);
    const cases: Array<[string, Record<string, string>, RegExp]> = [
      ['RSA 1024', rsa1024, /jwks\[0\]: RSA keys must have at least 2048 bits \(this one has 1024\)/],
      ['RSA 8-bit modulus', { kty: 'RSA', n: 'xQ', e: 'AQAB' }, /jwks\[0\]: RSA keys must have at least 2048 bits/],
      ['RSA exponent 1', { ...rsa2048, e: 'AQ' }, /jwks\[0\]: the RSA public exponent must be odd and at least 3/],
      ['RSA even exponent', { ...rsa2048, e: 'AQAA' }, /jwks\[0\]: the RSA public exponent must be odd and at least 3/],
      ['EC secp256k1', jwk(generateKeyPairSync('ec', { namedCurve: 'secp256k1' }).publicKey), /jwks\[0\]: EC curve secp256k1 is not accepted/],
      ['EC P-521', jwk(generateKeyPairSync('ec', { namedCurve: 'P-521' }).publicKey), /jwks\[0\]: EC curve P-521 is not accepted/],
      ['X25519', jwk(generateKeyPairSync('x25519').publicKey), /jwks\[0\]: .*not accepted/],
      ['alg that does not fit', { ...publicJwk().pub, alg: 'RS256' }, /jwks\[0\]: alg RS256 does not fit/],
      ['use enc', { ...publicJwk().pub, use: 'enc' }, /jwks\[0\]: use must be "sig"/],
    ];
    for (const [name, key, message] of cases) {
      const res = await t.api(`/v1/apps/${c.client_id}/jwks`, { method: 'PUT', body: { keys: [key] } });
      assert.equal(res.status, 400, name);
      assert.equal(res.body.code, 'request.invalid', name);
      assert.match(res.body.detail, message, name);
    }
    assert.equal((await t.api(`/v1/apps/${c.client_id}`)).body.app.token_endpoint_auth_method, 'client_secret_basic');
    // the strong ones pass: RSA 2048 (RS256 or PS256), P-384, Ed25519
    for (const key of [{ ...rsa2048, alg: 'PS256' }, jwk(generateKeyPairSync('ec', { namedCurve: 'P-384' }).publicKey), jwk(generateKeyPairSync('ed25519').publicKey)]) {
      assert.equal((await t.api(`/v1/apps/${c.client_id}/jwks`, { method: 'PUT', body: { keys: [key] } })).status, 200);
    }
  });

  test('create with jwks → private_key_jwt and client_secret null; rotate-secret then → 409 conflict', async () => {
    const c = await create('pkjwt', { jwks: { keys: [publicJwk().pub] } });
    assert.equal(c.client_secret, null);
    assert.equal(c.app.token_endpoint_auth_method, 'private_key_jwt');
    const r = await t.api(`/v1/apps/${c.client_id}/rotate-secret`, { method: 'POST' });
    assert.equal(r.status, 409);
    assert.equal(r.body.code, 'conflict');
  });

  test('responses to /v1/ carry Cache-Control: no-store', async () => {
    const c = await create('no-store');
    const res = await t.api(`/v1/apps/${c.client_id}`);
    assert.equal(res.headers.get('cache-control'), 'no-store');
    // denials, unknown endpoints and validation errors too, with the security headers of every plane
    for (const [path, init, status] of [
      ['/v1/apps', { token: null }, 401],
      ['/v1/apps', { token: 'pca_wrong-token-of-the-right-length-000000000' }, 401],
      ['/v1/no-such-endpoint', {}, 404],
      ['/v1/apps', { body: { name: 42 } }, 400],
    ] as const) {
      const r = await t.api(path, init);
      assert.equal(r.status, status, path);
      assert.equal(r.headers.get('cache-control'), 'no-store', `${path} ${status}`);
      assert.equal(r.headers.get('x-content-type-options'), 'nosniff', `${path} ${status}`);
    }
  });
});
