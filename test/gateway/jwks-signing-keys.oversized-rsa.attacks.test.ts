/**
 * An issuer's JWK Set with an RSA key over 16,384 bits: OpenSSL never verifies with such a
 * modulus (OPENSSL_RSA_MAX_MODULUS_BITS), so the key can verify no token and only costs an
 * import on every retrieval. It is left out of the set jose sees with a note naming its
 * size, as a key under 2048 bits is; a usable key beside it still verifies.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { generateKeyPairSync } from 'node:crypto';
import { signingKeys } from '../../src/gateway/jwks-fetch.js';

const rsa = (bits: number, kid: string) => ({ kty: 'RSA', kid, n: Buffer.alloc(bits / 8, 0xff).toString('base64url'), e: 'AQAB' });

test('attack: a 30,000-bit RSA key in a fetched JWKS is skipped with a note naming its size; a 2048-bit key beside it is used', async () => {
  const good = { ...generateKeyPairSync('rsa', { modulusLength: 2048 }).publicKey.export({ format: 'jwk' }), kid: 'good' };
  const { usable, skipped } = await signingKeys([rsa(30000, 'huge'), good, rsa(16384, 'max')]);
  assert.deepEqual(skipped, ['key 0 (kid huge): an RSA modulus of 30000 bits, over 16384']);
  assert.deepEqual(usable.map((k) => k['kid']), ['good', 'max']);
});
