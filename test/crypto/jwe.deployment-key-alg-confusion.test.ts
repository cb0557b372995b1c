/**
 * RFC 7517 §4.4: the `alg` a key is published with is the algorithm it is for. A
 * deployment encryption key published as `ECDH-ES+A256KW` must not open a JWE that names
 * it (`kid`) with `ECDH-ES` (direct key agreement: the agreed secret is the content key)
 * or any other algorithm: refused `jwe.alg-not-allowed`, before any key agreement (so an
 * ephemeral key that is not even a valid point is refused for the algorithm, not probed).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { FrozenClock } from '../../src/core/clock.js';
import { Envelope } from '../../src/crypto/envelope.js';
import { decryptBody, encryptBody, EncryptionKeys } from '../../src/crypto/jwe/index.js';
import { openDurableStore } from '../../src/store/index.js';

const DAY = 86_400_000;
const ctx = { aud: 'orders-api' };
const b64 = (o: unknown) => Buffer.from(JSON.stringify(o)).toString('base64url');

async function setup(types: Array<'P-256' | 'X25519'>) {
  const store = await openDurableStore('sqlite::memory:');
  const clock = new FrozenClock(Date.UTC(2026, 0, 1));
  const env = await Envelope.open(store, randomBytes(32));
  const keys = new EncryptionKeys(store, env, clock, { types, rotationIntervalMs: 30 * DAY, decryptOverlapMs: DAY, prepublishMs: 3_600_000 });
  await keys.maintain();
  return { store, keys };
}

for (const type of ['P-256', 'X25519'] as const) {
  test(`jwe alg confusion: the ${type} deployment key published as ECDH-ES+A256KW refuses an ECDH-ES JWE naming its kid (jwe.alg-not-allowed)`, async () => {
    const { store, keys } = await setup([type]);
    try {
      const cur = keys.current(type);
      assert.equal(cur.alg, 'ECDH-ES+A256KW');
      assert.equal(keys.jwks().keys[0]!.alg, 'ECDH-ES+A256KW');
      const direct = await encryptBody('secret order', { key: cur.publicKey, kid: cur.kid, alg: 'ECDH-ES', context: ctx });
      await assert.rejects(decryptBody(direct, { getKey: keys.getKey, context: ctx }), { code: 'jwe.alg-not-allowed' });
      const wrapped = await encryptBody('secret order', { key: cur.publicKey, kid: cur.kid, alg: 'ECDH-ES+A256KW', context: ctx });
      assert.equal(new TextDecoder().decode((await decryptBody(wrapped, { getKey: keys.getKey, context: ctx })).plaintext), 'secret order');
    } finally {
      await store.close();
    }
  });
}

test('jwe alg confusion: the algorithm is refused before any key agreement (an ECDH-ES JWE with an epk off the curve gets jwe.alg-not-allowed, not jwe.invalid-point)', async () => {
  const { store, keys } = await setup(['P-256', 'X25519']);
  try {
    const epks = {
      'P-256': { kty: 'EC', crv: 'P-256', x: Buffer.alloc(32, 1).toString('base64url'), y: Buffer.alloc(32, 2).toString('base64url') },
      // RFC 7748 §6.1: a small-order point (the all-zero u-coordinate)
      X25519: { kty: 'OKP', crv: 'X25519', x: Buffer.alloc(32).toString('base64url') },
    };
    for (const type of ['P-256', 'X25519'] as const) {
      const cur = keys.current(type);
      const wrapped = await encryptBody('x', { key: cur.publicKey, kid: cur.kid, alg: 'ECDH-ES+A256KW', context: ctx });
      const [, , iv, ct, tag] = wrapped.split('.');
      const forged = [b64({ alg: 'ECDH-ES', enc: 'A256GCM', kid: cur.kid, epk: epks[type], aud: ctx.aud }), '', iv, ct, tag].join('.');
      await assert.rejects(decryptBody(forged, { getKey: keys.getKey, context: ctx }), { code: 'jwe.alg-not-allowed' }, type);
      const asWrapped = [b64({ alg: 'ECDH-ES+A256KW', enc: 'A256GCM', kid: cur.kid, epk: epks[type], aud: ctx.aud }), wrapped.split('.')[1], iv, ct, tag].join('.');
      await assert.rejects(decryptBody(asWrapped, { getKey: keys.getKey, context: ctx }), { code: 'jwe.invalid-point' }, `${type}: the point check itself still runs for the key's own alg`);
    }
  } finally {
    await store.close();
  }
});
