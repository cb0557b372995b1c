/**
 * RFC 8705 §2.2 `self_signed_tls_client_auth` at TokenService's endpoints (client_credentials,
 * revocation, introspection): a self-signed certificate is checked against nothing but its own
 * dates, so a registered certificate outside its validity period (expired, or not valid yet)
 * does not authenticate the app, whether it was registered as `x5c` or only by its public key.
 * The dates are compared in whole seconds (RFC 5280 times have no fractions), as every other
 * certificate check of Portcullis does. Frozen clock.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import { FrozenClock } from '../../src/core/clock.js';
import { PortcullisError } from '../../src/core/errors.js';
import { MemoryEphemeralStore } from '../../src/store/memory/ephemeral.js';
import { authenticateClient } from '../../src/tokens/client-auth.js';
import type { AppRecord } from '../../src/tokens/store.js';
import { jwkOf, selfSigned, type SelfSigned } from '../support/self-signed-certificate.js';

const NOT_BEFORE = Date.UTC(2031, 0, 1, 0, 0, 0);
const NOT_AFTER = Date.UTC(2031, 0, 2, 0, 0, 0);

const clock = new FrozenClock(NOT_BEFORE);
const ephemeral = new MemoryEphemeralStore({ clock });
let cert: SelfSigned;

before(async () => {
  cert = await selfSigned('ss-cc', NOT_BEFORE, NOT_AFTER);
});
after(() => ephemeral.close());

function appWith(jwks: AppRecord['jwks']): AppRecord {
  return {
    clientId: 'app_selfsigned01',
    name: 'ss-cc',
    audiences: ['orders-api'],
    scopes: [],
    tokenEndpointAuthMethod: 'self_signed_tls_client_auth',
    secretVerifier: null,
    jwks,
    status: 'active',
    tokensRevokedBefore: 0,
    createdAt: 0,
    updatedAt: 0,
    grantTypes: ['client_credentials'],
  };
}

function authenticate(app: AppRecord, at: number) {
  clock.set(at);
  return authenticateClient(
    { authorization: undefined, params: { grant_type: 'client_credentials', client_id: app.clientId }, clientCertificate: [cert.der] },
    { findApp: (id) => (id === app.clientId ? app : undefined), ephemeral, clock, assertionAudiences: ['https://id.example'], issuer: 'https://id.example' },
  );
}

const refused = (why: RegExp) => (e: unknown) => e instanceof PortcullisError && e.code === 'oauth.invalid-client' && why.test(e.message);

for (const [how, jwks] of [
  ['registered with its certificate (x5c)', () => [jwkOf(cert)]],
  ['registered by its public key only', () => [new X509Certificate(cert.der).publicKey.export({ format: 'jwk' })]],
] as const) {
  test(`attack: a self-signed certificate ${how}, presented after its notAfter → oauth.invalid-client (expired)`, async () => {
    const app = appWith(jwks() as AppRecord['jwks']);
    await assert.rejects(authenticate(app, NOT_AFTER + 1000), refused(/expired/));
    await assert.rejects(authenticate(app, NOT_AFTER + 86_400_000), refused(/expired/));
  });

  test(`attack: a self-signed certificate ${how}, presented before its notBefore → oauth.invalid-client (not valid yet)`, async () => {
    const app = appWith(jwks() as AppRecord['jwks']);
    await assert.rejects(authenticate(app, NOT_BEFORE - 1), refused(/not valid yet/));
    await assert.rejects(authenticate(app, NOT_BEFORE - 3_600_000), refused(/not valid yet/));
  });

  test(`a self-signed certificate ${how} authenticates from its notBefore through the last millisecond of its notAfter's second`, async () => {
    const app = appWith(jwks() as AppRecord['jwks']);
    for (const at of [NOT_BEFORE, NOT_BEFORE + 1, NOT_AFTER - 1, NOT_AFTER, NOT_AFTER + 999]) {
      assert.equal((await authenticate(app, at)).clientId, app.clientId, new Date(at).toISOString());
    }
  });
}

test('attack: a public app whose row still names a certificate method (an older version) is not authenticated by its certificate → oauth.invalid-client', async () => {
  const app: AppRecord = { ...appWith([jwkOf(cert)] as AppRecord['jwks']), appType: 'public' };
  await assert.rejects(authenticate(app, NOT_BEFORE + 1000), refused(/client authentication is required/));
  // the same row as a confidential app authenticates: the refusal is the app type's
  assert.equal((await authenticate({ ...app, appType: 'confidential' }, NOT_BEFORE + 1000)).clientId, app.clientId);
});
