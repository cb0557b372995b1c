/**
 * private_key_jwt (RFC 7523 §3 item 7: a jti used once): the replay marker lives in the
 * ephemeral store, which forgets it when it starts empty (a node restart with `ephemeral:
 * memory`, Redis restarted without persistence). An assertion captured before that and
 * sent again while still young enough must not authenticate the client a second time:
 * the store cannot tell whether its jti was used, so it is refused (fail closed). An
 * assertion made after the store started is accepted.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { SignJWT, exportJWK, generateKeyPair } from 'jose';
import { FrozenClock } from '../../src/core/clock.js';
import { PortcullisError } from '../../src/core/errors.js';
import { MemoryEphemeralStore } from '../../src/store/memory/ephemeral.js';
import { authenticateClient, JWT_BEARER_ASSERTION, type ClientAuthContext } from '../../src/tokens/client-auth.js';
import type { AppRecord } from '../../src/tokens/store.js';

test('attack: an assertion used before the replay store restarted is refused after it (oauth.invalid-client); a new one passes', async () => {
  const clock = new FrozenClock(Date.parse('2026-06-01T00:00:00Z'));
  const { publicKey, privateKey } = await generateKeyPair('ES256');
  const app: AppRecord = {
    clientId: 'app_pk', name: 'pk', audiences: ['api'], scopes: [], tokenEndpointAuthMethod: 'private_key_jwt', secretVerifier: null,
    jwks: [{ ...(await exportJWK(publicKey)), kid: 'k1', alg: 'ES256' }], status: 'active', tokensRevokedBefore: 0, createdAt: 0, updatedAt: 0,
  };
  const assertionMadeNow = (jti: string): Promise<string> => {
    const iat = Math.floor(clock.now() / 1000);
    return new SignJWT({}).setProtectedHeader({ alg: 'ES256', kid: 'k1' }).setIssuer(app.clientId).setSubject(app.clientId).setAudience('https://issuer.example')
      .setJti(jti).setIssuedAt(iat).setExpirationTime(iat + 300).sign(privateKey);
  };
  const request = (assertion: string) => ({ authorization: undefined, params: { client_assertion_type: JWT_BEARER_ASSERTION, client_assertion: assertion } });
  const ctxWith = (ephemeral: MemoryEphemeralStore): ClientAuthContext => ({ findApp: (id) => (id === app.clientId ? app : undefined), ephemeral, clock, assertionAudiences: ['https://issuer.example'], issuer: 'https://issuer.example' });

  const before = new MemoryEphemeralStore({ clock });
  const captured = request(await assertionMadeNow('one'));
  assert.equal((await authenticateClient(captured, ctxWith(before))).clientId, app.clientId);
  await assert.rejects(authenticateClient(captured, ctxWith(before)), (e) => e instanceof PortcullisError && e.code === 'oauth.invalid-client' && /replay/.test(e.message));
  await before.close();

  clock.advance(60_000);
  const after = new MemoryEphemeralStore({ clock });
  await assert.rejects(authenticateClient(captured, ctxWith(after)), (e) => e instanceof PortcullisError && e.code === 'oauth.invalid-client' && /before .*restart/.test(e.message));

  clock.advance(1000);
  assert.equal((await authenticateClient(request(await assertionMadeNow('two')), ctxWith(after))).clientId, app.clientId);
  await after.close();
});
