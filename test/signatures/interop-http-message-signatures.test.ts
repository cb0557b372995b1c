/**
 * Interop with the `http-message-signatures` npm package (written outside this
 * project): its signatures verify here and ours verify there, for every algorithm.
 */
import assert from 'node:assert/strict';
import { KeyObject } from 'node:crypto';
import { describe, it } from 'node:test';
import { createSigner, createVerifier, httpbis } from 'http-message-signatures';
import { FrozenClock } from '../../src/core/clock.js';
import { PortcullisError } from '../../src/core/errors.js';
import { importParams } from '../../src/signatures/algorithms.js';
import { signMessage } from '../../src/signatures/sign.js';
import type { SignatureAlgorithm } from '../../src/signatures/types.js';
import { SignatureVerifier } from '../../src/signatures/verify.js';

const ALGS: SignatureAlgorithm[] = ['hmac-sha256', 'ed25519', 'ecdsa-p256-sha256', 'ecdsa-p384-sha384', 'rsa-v1_5-sha256', 'rsa-pss-sha512'];
const NOW = 1_700_000_000;
const FIELDS = ['@method', '@authority', '@path', '@query', '@target-uri', 'content-type', 'content-digest'];

interface Keys { signKey: CryptoKey; verifyKey: CryptoKey; nodeSign: KeyObject | Buffer; nodeVerify: KeyObject | Buffer }

async function keysFor(alg: SignatureAlgorithm): Promise<Keys> {
  if (alg === 'hmac-sha256') {
    const secret = crypto.getRandomValues(new Uint8Array(32));
    const k = await crypto.subtle.importKey('raw', secret, importParams(alg), true, ['sign', 'verify']);
    return { signKey: k, verifyKey: k, nodeSign: Buffer.from(secret), nodeVerify: Buffer.from(secret) };
  }
  const rsa = alg.startsWith('rsa') ? { modulusLength: 2048, publicExponent: new Uint8Array([1, 0, 1]) } : {};
  const pair = (await crypto.subtle.generateKey({ ...importParams(alg), ...rsa } as RsaHashedKeyGenParams, true, ['sign', 'verify'])) as CryptoKeyPair;
  return { signKey: pair.privateKey, verifyKey: pair.publicKey, nodeSign: KeyObject.from(pair.privateKey), nodeVerify: KeyObject.from(pair.publicKey) };
}

function request(): { method: string; url: string; headers: Record<string, string> } {
  return {
    method: 'POST',
    url: 'https://api.example.com:443/orders/42?expand=items&page=2',
    headers: {
      Host: 'api.example.com',
      'Content-Type': 'application/json',
      'Content-Digest': 'sha-256=:X48E9qOokqqrvdts8nOJRJN3OWDUoyWxBf7kbu9DBPE=:',
    },
  };
}

describe('interop with http-message-signatures', () => {
  for (const alg of ALGS) {
    if (alg !== 'rsa-pss-sha512') {
      it(`${alg}: a request signed by http-message-signatures verifies in Portcullis`, async () => {
        const keys = await keysFor(alg);
        const signed = await httpbis.signMessage(
          { key: createSigner(keys.nodeSign, alg, 'their-key'), fields: FIELDS, name: 'theirs', paramValues: { created: new Date(NOW * 1000), expires: new Date((NOW + 300) * 1000) } },
          request(),
        );
        const verifier = new SignatureVerifier({
          clock: new FrozenClock(NOW * 1000 + 1000),
          keyLookup: (kid) => (kid === 'their-key' ? { key: keys.verifyKey, alg } : undefined),
          requiredComponents: ['@method', '@target-uri', 'content-digest'],
          maxAge: 60,
        });
        const v = await verifier.verify(signed);
        assert.equal(v.label, 'theirs');
        assert.equal(v.alg, alg);
        // and the same request with one covered header changed does not
        signed.headers['Content-Type'] = 'text/plain';
        await assert.rejects(verifier.verify(signed), (e: unknown) => e instanceof PortcullisError && e.code === 'signature.invalid');
      });
    }

    it(`${alg}: a request signed by Portcullis verifies in http-message-signatures`, async () => {
      const keys = await keysFor(alg);
      const req = request();
      const now = Math.floor(Date.now() / 1000);
      const s = await signMessage(req, { label: 'ours', key: keys.signKey, alg, keyid: 'our-key', components: FIELDS, created: now - 1, expires: now + 300, includeAlg: true });
      req.headers['Signature-Input'] = s.signatureInput;
      req.headers['Signature'] = s.signature;
      const keyLookup = async (p: { keyid?: string }) => (p.keyid === 'our-key' ? { id: 'our-key', algs: [alg], verify: createVerifier(keys.nodeVerify, alg) } : null);
      assert.equal(await httpbis.verifyMessage({ keyLookup }, req), true);
      req.url = req.url.replace('page=2', 'page=3');
      assert.equal(await httpbis.verifyMessage({ keyLookup }, req), false);
    });
  }

  it('rsa-pss-sha512 from http-message-signatures is rejected (signature.invalid): it signs with the maximum PSS salt, RFC 9421 §3.3.1 fixes 64 bytes', async () => {
    const keys = await keysFor('rsa-pss-sha512');
    const signed = await httpbis.signMessage({ key: createSigner(keys.nodeSign, 'rsa-pss-sha512', 'k'), fields: FIELDS, paramValues: { created: new Date(NOW * 1000) } }, request());
    const verifier = new SignatureVerifier({ clock: new FrozenClock(NOW * 1000), keyLookup: () => ({ key: keys.verifyKey, alg: 'rsa-pss-sha512' }) });
    await assert.rejects(verifier.verify(signed), (e: unknown) => e instanceof PortcullisError && e.code === 'signature.invalid');
  });
});
