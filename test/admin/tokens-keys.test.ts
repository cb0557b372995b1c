/** Admin API for single tokens (revoke, introspect) and the signing key ring (list, rotate). */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { generateKeyPairSync } from 'node:crypto';
import { SignJWT, decodeProtectedHeader } from 'jose';
import { FrozenClock } from '../../src/core/clock.js';
import { Introspection, KeyList, KeyRotation, TokenRevocation } from '../../src/http/admin/schemas.js';
import { issueToken, startTestNode, type TestNode } from './node.js';

describe('admin API: tokens and keys', () => {
  let t: TestNode;
  const clock = new FrozenClock(Date.now());
  let app: { client_id: string; client_secret: string };
  before(async () => {
    t = await startTestNode({ clock });
    const res = await t.api('/v1/apps', { body: { name: 'tokens', audiences: ['orders-api'], scopes: ['orders:read'] } });
    app = res.body;
  });
  after(() => t.close());

  const introspect = async (token: string) => Introspection.parse((await t.api('/v1/tokens/introspect', { body: { token } })).body);

  test('introspect: an active token of ours → RFC 7662 active:true with its claims', async () => {
    const token = await issueToken(t.identity, app.client_id, app.client_secret);
    const r = await introspect(token);
    assert.equal(r.active, true);
    if (r.active) {
      assert.equal(r.client_id, app.client_id);
      assert.equal(r.aud, 'orders-api');
      assert.equal(r.scope, 'orders:read');
      assert.equal(r.exp - r.iat, 600);
    }
  });

  test('revoke: POST /v1/tokens/revoke makes the token inactive, audited as token.revoked by admin', async () => {
    const token = await issueToken(t.identity, app.client_id, app.client_secret);
    const res = await t.api('/v1/tokens/revoke', { body: { token } });
    assert.equal(res.status, 200);
    const body = TokenRevocation.parse(res.body);
    assert.equal(body.revoked, true);
    assert.equal(body.client_id, app.client_id);
    assert.deepEqual(await introspect(token), { active: false });
    const row = (await t.node.services.store.tailAudit(1))[0]!;
    assert.equal(row.type, 'token.revoked');
    assert.equal(row.actor, 'admin');
    assert.deepEqual(row.data, { jti: body.jti });
    assert.ok(await t.node.services.store.listRevokedTokens(clock.now()).then((l) => l.some((x) => x.jti === body.jti)), 'revocation is in the durable store');
  });

  test('revoke: something that is not a JWT → 400 request.invalid naming token', async () => {
    const res = await t.api('/v1/tokens/revoke', { body: { token: 'not-a-jwt' } });
    assert.equal(res.status, 400);
    assert.equal(res.body.code, 'request.invalid');
    assert.deepEqual(res.body.errors, [{ path: 'token', message: 'not a JWT' }]);
  });

  test('attack: a forged token (our kid and issuer, signed by another key) → revoke 404 not-found, introspect inactive', async () => {
    const real = await issueToken(t.identity, app.client_id, app.client_secret);
    const { kid } = decodeProtectedHeader(real);
    const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    const forged = await new SignJWT({ client_id: app.client_id, scope: 'orders:read' })
      .setProtectedHeader({ alg: 'ES256', kid: kid!, typ: 'at+jwt' })
      .setIssuer('http://127.0.0.1:8080')
      .setSubject(app.client_id)
      .setAudience('orders-api')
      .setJti('forged-jti')
      .setIssuedAt()
      .setExpirationTime('5m')
      .sign(privateKey);
    const res = await t.api('/v1/tokens/revoke', { body: { token: forged } });
    assert.equal(res.status, 404);
    assert.equal(res.body.code, 'not-found');
    assert.deepEqual(await introspect(forged), { active: false });
    assert.equal((await introspect(real)).active, true, 'the real token is untouched');
  });

  test('revoke an expired token of ours → 200 revoked:false (nothing left to revoke); introspect inactive (frozen clock)', async () => {
    const token = await issueToken(t.identity, app.client_id, app.client_secret);
    clock.advance(11 * 60_000);
    try {
      const res = await t.api('/v1/tokens/revoke', { body: { token } });
      assert.equal(res.status, 200);
      assert.equal(res.body.revoked, false);
      assert.deepEqual(await introspect(token), { active: false });
    } finally {
      clock.advance(-11 * 60_000);
    }
  });

  test('GET /v1/keys lists keys with state and no key material', async () => {
    const res = await t.api('/v1/keys');
    assert.equal(res.status, 200);
    const body = KeyList.parse(res.body);
    assert.ok(body.signing_kid);
    assert.equal(body.keys.filter((k) => k.state === 'active').length, 1);
    const text = JSON.stringify(res.body);
    for (const field of ['"d"', 'privateJwk', 'publicJwk', '"x"', '"y"']) assert.ok(!text.includes(field), field);
  });

  test('POST /v1/keys/rotate: the signing kid changes, new tokens carry it, old tokens stay valid, JWKS publishes both', async () => {
    const before = KeyList.parse((await t.api('/v1/keys')).body).signing_kid!;
    const old = await issueToken(t.identity, app.client_id, app.client_secret);
    const res = await t.api('/v1/keys/rotate', { method: 'POST' });
    assert.equal(res.status, 200);
    const rot = KeyRotation.parse(res.body);
    assert.notEqual(rot.activated, before);
    assert.equal(KeyList.parse((await t.api('/v1/keys')).body).signing_kid, rot.activated);
    assert.equal(rot.keys.find((k) => k.kid === before)?.state, 'retired');
    assert.equal(rot.keys.find((k) => k.kid === rot.next)?.state, 'next');
    const fresh = await issueToken(t.identity, app.client_id, app.client_secret);
    assert.equal(decodeProtectedHeader(fresh).kid, rot.activated);
    assert.equal((await introspect(old)).active, true, 'a token signed by the retired key still verifies');
    const jwks = (await (await fetch(`${t.identity}/jwks`)).json()) as { keys: Array<{ kid: string }> };
    for (const kid of [before, rot.activated, rot.next]) assert.ok(jwks.keys.some((k) => k.kid === kid), kid);
    // the token issued after the rotation may be audited after it: look among the newest rows
    const row = (await t.node.services.store.tailAudit(20)).find((r) => r.type === 'keys.rotated');
    assert.ok(row, 'the rotation is in the audit trail');
    assert.equal(row.actor, 'admin');
    assert.deepEqual(row.data, { activated: rot.activated, next: rot.next });
  });
});
