/**
 * private_key_jwt (RFC 7523 §3): an assertion is accepted only while its `iat` is at most
 * 10 minutes old (plus the 30 s tolerance), so its jti must be remembered that long and no
 * longer. An assertion whose `exp` lies a year ahead must not make every node's ephemeral
 * store keep a replay marker for a year; a replay inside the window is still refused.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { SignJWT, exportJWK, generateKeyPair } from 'jose';
import { FrozenClock } from '../../src/core/clock.js';
import { PortcullisError } from '../../src/core/errors.js';
import { MemoryEphemeralStore } from '../../src/store/memory/ephemeral.js';
import { authenticateClient, JWT_BEARER_ASSERTION, type ClientAuthContext } from '../../src/tokens/client-auth.js';
import type { AppRecord } from '../../src/tokens/store.js';

test('attack: an assertion with a far exp keeps its replay marker only for the acceptance window; a replay is still refused', async () => {
  const clock = new FrozenClock(Date.parse('2026-06-01T00:00:00Z'));
  const { publicKey, privateKey } = await generateKeyPair('ES256');
  const app: AppRecord = {
    clientId: 'app_pk', name: 'pk', audiences: ['api'], scopes: [], tokenEndpointAuthMethod: 'private_key_jwt', secretVerifier: null,
    jwks: [{ ...(await exportJWK(publicKey)), kid: 'k1', alg: 'ES256' }], status: 'active', tokensRevokedBefore: 0, createdAt: 0, updatedAt: 0,
  };
  const store = new MemoryEphemeralStore({ clock });
  const ttls: number[] = [];
  const ephemeral = Object.assign(Object.create(store) as MemoryEphemeralStore, {
    consumeOnceMadeAt: (key: string, ttl: number, madeAt: number) => {
      ttls.push(ttl);
      return store.consumeOnceMadeAt(key, ttl, madeAt);
    },
  });
  const ctx: ClientAuthContext = { findApp: (id) => (id === app.clientId ? app : undefined), ephemeral, clock, assertionAudiences: ['https://issuer.example'], issuer: 'https://issuer.example' };
  const iat = Math.floor(clock.now() / 1000);
  const assertion = await new SignJWT({}).setProtectedHeader({ alg: 'ES256', kid: 'k1' }).setIssuer(app.clientId).setSubject(app.clientId).setAudience('https://issuer.example')
    .setJti('one').setIssuedAt(iat).setExpirationTime(iat + 365 * 86400).sign(privateKey);
  const req = { authorization: undefined, params: { client_assertion_type: JWT_BEARER_ASSERTION, client_assertion: assertion } };

  assert.equal((await authenticateClient(req, ctx)).clientId, app.clientId);
  assert.ok(ttls[0]! <= (600 + 60) * 1000, `replay marker kept ${ttls[0]} ms`);
  assert.ok(ttls[0]! >= (600 + 30) * 1000, 'the marker outlives the window in which the assertion is accepted');

  clock.advance(10 * 60_000);
  await assert.rejects(authenticateClient(req, ctx), (e) => e instanceof PortcullisError && e.code === 'oauth.invalid-client' && /replay/.test(e.message));
  clock.advance(31_000);
  await assert.rejects(authenticateClient(req, ctx), (e) => e instanceof PortcullisError && e.code === 'oauth.invalid-client' && /ERR_JWT_EXPIRED/.test(e.message), 'too old: refused by iat, no marker needed');
});
