/**
 * Node 24 deprecates `KeyObject.from()` of a non-extractable CryptoKey (DEP0204: a
 * warning on every process start today, an error in a later release). Portcullis holds
 * its keys as non-extractable CryptoKeys and uses node:crypto on the hot paths, so it
 * must never need that conversion. Here `KeyObject.from` refuses non-extractable keys
 * as a later Node will, and each path that once converted still works: app signing
 * keys verified by the gateway's step (HMAC and Ed25519), a lookup that hands over only
 * a CryptoKey, the CA's file signer, and an X25519 JWE key given as a CryptoKey.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHmac, generateKeyPairSync, KeyObject, sign as nodeSign, verify as nodeVerify, webcrypto } from 'node:crypto';
import { decryptBody, encryptBody, generateEncryptionKey } from '../../src/crypto/jwe/index.js';
import { nodeVerifySignature } from '../../src/gateway/signature-policy.js';
import { fileSignerKind } from '../../src/pki/signer.js';
import { importParams } from '../../src/signatures/algorithms.js';
import { testSecretBox } from '../pki/helpers.js';
import { startTestNode, type TestNode } from '../support/portcullis.js';

const realFrom = KeyObject.from.bind(KeyObject);
const refused: string[] = [];
let node: TestNode;
let clientId: string;

before(async () => {
  KeyObject.from = ((key: webcrypto.CryptoKey) => {
    if (!key.extractable) {
      refused.push(key.algorithm.name);
      throw new TypeError('KeyObject.from() of a non-extractable CryptoKey (DEP0204)');
    }
    return realFrom(key);
  }) as typeof KeyObject.from;
  node = await startTestNode();
  clientId = (await node.services.apps.create({ name: 'signer', audiences: ['orders-api'], scopes: [] }, 'test')).app.clientId;
});

after(async () => {
  KeyObject.from = realFrom;
  await node.stop();
});

const BASE = '"@method": POST\n"@target-uri": https://api.example/orders\n"@signature-params": ("@method" "@target-uri");keyid="k"';

test('an app HMAC key verifies through the gateway step without KeyObject.from; a wrong MAC does not', async () => {
  const s = node.services.appSigningKeys;
  const { key, secret } = await s.add(clientId, { type: 'hmac' }, 'test');
  await s.refresh(key.keyid);
  const found = s.lookup(key.keyid)!;
  assert.equal(found.key.extractable, false, 'the node keeps its CryptoKey non-extractable');
  const mac = createHmac('sha256', Buffer.from(secret!, 'base64url')).update(BASE).digest();
  assert.equal(await nodeVerifySignature(found, mac, BASE), true);
  mac[0]! ^= 1;
  assert.equal(await nodeVerifySignature(found, mac, BASE), false);
  assert.deepEqual(refused, []);
});

test('an app Ed25519 public key verifies through the gateway step without KeyObject.from', async () => {
  const s = node.services.appSigningKeys;
  const pair = generateKeyPairSync('ed25519');
  const { key } = await s.add(clientId, { type: 'public', jwk: pair.publicKey.export({ format: 'jwk' }) as never }, 'test');
  await s.refresh(key.keyid);
  const found = s.lookup(key.keyid)!;
  const sig = nodeSign(null, Buffer.from(BASE), pair.privateKey);
  assert.equal(await nodeVerifySignature(found, sig, BASE), true);
  assert.equal(await nodeVerifySignature(found, sig, BASE + ' '), false);
  assert.deepEqual(refused, []);
});

test('a lookup that gives only a non-extractable CryptoKey is verified on WebCrypto, with the same answers', async () => {
  const secret = Buffer.alloc(32, 7);
  const key = await webcrypto.subtle.importKey('raw', secret, importParams('hmac-sha256'), false, ['verify']);
  const mac = createHmac('sha256', secret).update(BASE).digest();
  assert.equal(await nodeVerifySignature({ alg: 'hmac-sha256', key }, mac, BASE), true);
  assert.equal(await nodeVerifySignature({ alg: 'hmac-sha256', key }, mac.subarray(0, 31), BASE), false, 'a short MAC');
  const pair = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const pub = await webcrypto.subtle.importKey('jwk', pair.publicKey.export({ format: 'jwk' }) as JsonWebKey, importParams('ecdsa-p256-sha256'), false, ['verify']);
  const sig = nodeSign('sha256', Buffer.from(BASE), { key: pair.privateKey, dsaEncoding: 'ieee-p1363' });
  assert.equal(await nodeVerifySignature({ alg: 'ecdsa-p256-sha256', key: pub }, sig, BASE), true);
  assert.equal(await nodeVerifySignature({ alg: 'ecdsa-p256-sha256', key: pub }, sig, 'other'), false);
  assert.deepEqual(refused, []);
});

test("the CA's file signer signs without KeyObject.from, and its signatures verify under its public key", async () => {
  const { signer } = await fileSignerKind(testSecretBox()).generate('P-256', 'int-1');
  const data = Buffer.from('to be signed');
  const der = await signer.sign(data);
  assert.equal(nodeVerify('sha256', data, { key: Buffer.from(signer.spki), format: 'der', type: 'spki', dsaEncoding: 'der' }, der), true);
  assert.deepEqual(refused, []);
});

test('an X25519 JWE key given as a non-extractable CryptoKey decrypts, and keeps refusing a small-order epk', async () => {
  const x = await generateEncryptionKey('X25519', 'x1');
  const pkcs8 = x.privateKey.export({ format: 'der', type: 'pkcs8' });
  const key = await webcrypto.subtle.importKey('pkcs8', pkcs8, { name: 'X25519' }, false, ['deriveBits']);
  const context = { aud: 'orders-api' };
  const jwe = await encryptBody('{"pay":1}', { key: x.publicKey, kid: 'x1', alg: 'ECDH-ES', context });
  const r = await decryptBody(jwe, { getKey: () => ({ key }), context });
  assert.equal(new TextDecoder().decode(r.plaintext), '{"pay":1}');
  const [h, ...rest] = jwe.split('.');
  const header = { ...JSON.parse(Buffer.from(h!, 'base64url').toString()), epk: { kty: 'OKP', crv: 'X25519', x: Buffer.alloc(32).toString('base64url') } };
  const forged = [Buffer.from(JSON.stringify(header)).toString('base64url'), ...rest].join('.');
  await assert.rejects(decryptBody(forged, { getKey: () => ({ key }), context }), { code: 'jwe.invalid-point' });
  assert.deepEqual(refused, []);
});
