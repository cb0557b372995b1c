/** Key pairs detached from their generation job (crypto/key-pairs.ts): every type signs or agrees, and exports as the DER it came from. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createPublicKey, diffieHellman, sign, verify } from 'node:crypto';
import { generateDetachedKeyPair, generateDetachedKeyPairSync, type KeyPairSpec } from '../../src/crypto/key-pairs.js';

const specs: Array<[KeyPairSpec, string]> = [
  [{ type: 'ec', namedCurve: 'P-256' }, 'ec'],
  [{ type: 'ec', namedCurve: 'P-384' }, 'ec'],
  [{ type: 'ed25519' }, 'ed25519'],
  [{ type: 'x25519' }, 'x25519'],
  [{ type: 'rsa', modulusLength: 2048 }, 'rsa'],
];

for (const [spec, keyType] of specs) {
  test(`generateDetachedKeyPair ${JSON.stringify(spec)}: a working pair whose exports are its DER`, async () => {
    for (const pair of [await generateDetachedKeyPair(spec), generateDetachedKeyPairSync(spec)]) {
      assert.equal(pair.privateKey.type, 'private');
      assert.equal(pair.publicKey.asymmetricKeyType, keyType);
      assert.deepEqual(pair.publicKey.export({ format: 'der', type: 'spki' }), pair.spki);
      assert.deepEqual(pair.privateKey.export({ format: 'der', type: 'pkcs8' }), pair.pkcs8);
      // the JWK export (the one that could hang on a job-owned key) gives the same public key back
      const jwk = pair.publicKey.export({ format: 'jwk' });
      assert.deepEqual(createPublicKey({ key: jwk, format: 'jwk' }).export({ format: 'der', type: 'spki' }), pair.spki);
      if (keyType === 'x25519') {
        const other = generateDetachedKeyPairSync(spec);
        assert.deepEqual(diffieHellman({ privateKey: pair.privateKey, publicKey: other.publicKey }), diffieHellman({ privateKey: other.privateKey, publicKey: pair.publicKey }));
      } else {
        const alg = keyType === 'ed25519' ? null : 'sha256';
        const sig = sign(alg, Buffer.from('portcullis'), pair.privateKey);
        assert.equal(verify(alg, Buffer.from('portcullis'), pair.publicKey, sig), true);
      }
    }
  });
}

test('two generated pairs differ', () => {
  const a = generateDetachedKeyPairSync({ type: 'ed25519' });
  const b = generateDetachedKeyPairSync({ type: 'ed25519' });
  assert.notDeepEqual(a.spki, b.spki);
});
