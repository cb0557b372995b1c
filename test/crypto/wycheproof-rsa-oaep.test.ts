/**
 * Wycheproof rsa_oaep_2048_sha256_mgf1sha256_test.json through the RSA-OAEP-256 decrypt
 * path: every invalid ciphertext as a JWE encrypted key (decryptBody → jose, one error code,
 * no padding oracle), the valid one with an empty label and a 32-byte message as a JWE, and
 * every valid vector through WebCrypto RSA-OAEP (the primitive jose calls), labels included.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createPrivateKey, webcrypto } from 'node:crypto';
import { decryptBody } from '../../src/crypto/jwe/index.js';
import { buildJwe, hex, load, outcome } from './wycheproof-support.js';

const file = load('rsa_oaep_2048_sha256_mgf1sha256_test.json');
const groups = file.testGroups;

test(`wycheproof rsa_oaep 2048/SHA-256: ${file.numberOfTests} vectors through JWE RSA-OAEP-256 and WebCrypto RSA-OAEP`, async () => {
  const failures: string[] = [];
  let viaJwe = 0;
  for (const g of groups) {
    const der = hex(g.privateKeyPkcs8);
    const key = createPrivateKey({ key: der, format: 'der', type: 'pkcs8' });
    const subtleKey = await webcrypto.subtle.importKey('pkcs8', der, { name: 'RSA-OAEP', hash: 'SHA-256' }, false, ['decrypt']);
    for (const t of g.tests) {
      const msg = hex(t.msg);
      const label = hex(t.label);
      let plain: Buffer | undefined;
      try {
        plain = Buffer.from(await webcrypto.subtle.decrypt({ name: 'RSA-OAEP', label }, subtleKey, hex(t.ct)));
      } catch {
        plain = undefined;
      }
      if (t.result === 'valid' && !plain?.equals(msg)) failures.push(`${t.tcId} webcrypto valid`);
      if (t.result === 'invalid' && plain) failures.push(`${t.tcId} webcrypto accepted invalid`);
      if (label.length !== 0) continue; // JWE RSA-OAEP-256 uses no label (RFC 7518 §4.3)
      const usable = t.result === 'valid' && msg.length === 32;
      if (!usable && t.result !== 'invalid') continue;
      const jwe = buildJwe({ alg: 'RSA-OAEP-256', enc: 'A256GCM', aud: 'w' }, hex(t.ct), usable ? msg : undefined, Buffer.from(`tc ${t.tcId}`));
      const r = await outcome(decryptBody(jwe, { getKey: () => ({ key }), context: { aud: 'w' } }));
      if (usable) {
        viaJwe++;
        if (r.code !== 'ok' || Buffer.from(r.value!.plaintext).toString() !== `tc ${t.tcId}`) failures.push(`${t.tcId} jwe valid: ${r.code}`);
      } else if (r.code !== 'jwe.decrypt-failed') failures.push(`${t.tcId} jwe invalid: ${r.code}`);
    }
  }
  assert.deepEqual(failures, []);
  assert.equal(viaJwe, 1, 'the one valid vector with a 32-byte message and no label decrypts as a JWE');
});
