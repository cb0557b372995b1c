/**
 * RFC 7515 §4.1.9: the `typ` media type is case-insensitive, so `AT+JWT` and
 * `Application/AT+JWT` are RFC 9068 access tokens. The gateway accepted them while
 * introspection and revocation (verifyOwnToken) compared case-sensitively: a token the
 * gateway let through was `{active:false}` at introspection and could not be revoked by
 * its owner (a silent no-op, RFC 7009 §2.2). Both sides now share one check.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { SignJWT } from 'jose';
import { silentLogger } from '../../src/core/logger.js';
import { TokenVerifier } from '../../src/gateway/token-policy.js';
import { PortcullisError } from '../../src/core/errors.js';
import { basic, postForm, startTestNode, type TestNode } from '../support/portcullis.js';

let node: TestNode;
let app: { id: string; secret: string };
before(async () => {
  node = await startTestNode();
  const r = await node.services.apps.create({ name: 'typ-app', audiences: ['orders-api'], scopes: ['read'] }, 'test');
  app = { id: r.app.clientId, secret: r.clientSecret! };
});
after(() => node.stop());

async function ownToken(typ: string, jti: string): Promise<string> {
  const key = node.services.keys.signingKey();
  const iat = Math.floor(node.services.clock.now() / 1000) - 5;
  return new SignJWT({ client_id: app.id, scope: 'read' })
    .setProtectedHeader({ alg: key.alg, kid: key.kid, typ })
    .setIssuer(node.services.config.issuer)
    .setSubject(app.id)
    .setAudience('orders-api')
    .setJti(jti)
    .setIssuedAt(iat)
    .setExpirationTime(iat + 600)
    .sign(key.privateKey);
}
const introspect = (t: string) => postForm(`${node.urls.identity}/oauth2/introspect`, { token: t }, { authorization: basic(app.id, app.secret) });
const revoke = (t: string) => postForm(`${node.urls.identity}/oauth2/revoke`, { token: t }, { authorization: basic(app.id, app.secret) });

/** What the gateway's verifier says of a token: 'ok' or the denial code. */
async function gatewaySays(t: string): Promise<string> {
  const s = node.services;
  const v = new TokenVerifier({ issuer: s.config.issuer, keys: s.keys, revocations: s.revocations, clock: s.clock, leewayMs: s.config.tokens.leeway, cacheSize: 0, logger: silentLogger, maxTokenLifetimeMs: s.config.tokens.maxTokenLifetime });
  try {
    await v.verify(v.compile({ audience: 'orders-api', scopes: [], issuers: ['self'] }), t);
    return 'ok';
  } catch (e) {
    assert.ok(e instanceof PortcullisError, String(e));
    return e.code;
  }
}

test('typ AT+JWT, Application/AT+JWT, application/at+JWT: active at introspection as at the gateway, and revocable by its owner', async () => {
  for (const [i, typ] of ['AT+JWT', 'Application/AT+JWT', 'application/at+JWT', 'At+Jwt'].entries()) {
    const t = await ownToken(typ, `typ-ok-${i}`);
    assert.equal(await gatewaySays(t), 'ok', typ);
    const r = await introspect(t);
    assert.equal(r.status, 200);
    assert.equal(r.body.active, true, `${typ}: ${JSON.stringify(r.body)}`);
    assert.equal((await revoke(t)).status, 200);
    assert.deepEqual((await introspect(t)).body, { active: false }, `${typ}: revoked`);
  }
});

test('a typ that is not at+jwt in any case (JWT, at+jwt; x=1, dpop+JWT, application/AT+JWT with a space) is refused by both', async () => {
  for (const [i, typ] of ['JWT', 'at+jwt; x=1', 'DPOP+JWT', 'application/AT+JWT ', 'application/jwt', 'xapplication/at+jwt'].entries()) {
    const t = await ownToken(typ, `typ-bad-${i}`);
    assert.equal(await gatewaySays(t), 'token.wrong-type', typ);
    assert.deepEqual((await introspect(t)).body, { active: false }, typ);
  }
});
