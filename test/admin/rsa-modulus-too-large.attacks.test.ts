/**
 * OpenSSL verifies and encrypts with RSA moduli of at most 16,384 bits
 * (OPENSSL_RSA_MAX_MODULUS_BITS): a larger public key imports, but every signature made
 * "with" it fails to verify and nothing can be encrypted to it, while each use of it costs
 * memory and time. Such a key is refused wherever an RSA key enters, with the typed error
 * of the too-small key: an app JWKS (private_key_jwt), an app signing key (RFC 9421), an
 * app encryption key, and a CSR for issuance. Nothing is stored or issued.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { createPublicKey } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { CertificationRequest } from '@peculiar/asn1-csr';
import { AsnConvert } from '@peculiar/asn1-schema';
import { SubjectPublicKeyInfo } from '@peculiar/asn1-x509';
import { toPem } from '../../src/pki/pem.js';
import { openssl, tmp } from '../pki/helpers.js';
import { startTestNode, type TestNode } from './node.js';

let t: TestNode;
let clientId: string;
before(async () => {
  t = await startTestNode();
  clientId = (await t.node.services.apps.create({ name: 'big-rsa', audiences: ['api'], scopes: [] }, 'test')).app.clientId;
});
after(() => t.close());

/** An RSA public JWK whose modulus has `bits` bits (all ones: no one holds its private key, and none is needed to register it). */
const rsaJwk = (bits: number) => ({ kty: 'RSA', n: Buffer.alloc(bits / 8, 0xff).toString('base64url'), e: 'AQAB' });
const TOO_LARGE = 'RSA keys must have at most 16384 bits (this one has 30000)';

test('attack: an app JWKS with a 30,000-bit RSA key (POST /v1/apps, PUT jwks) → 400 request.invalid naming the size; nothing stored', async () => {
  const count = async () => ((await t.api('/v1/apps')).body.apps as unknown[]).length;
  const before = await count();
  const r = await t.api('/v1/apps', { body: { name: 'svc', audiences: ['api'], jwks: { keys: [rsaJwk(30000)] } } });
  assert.equal(r.status, 400, JSON.stringify(r.body));
  assert.equal(r.body.code, 'request.invalid');
  assert.equal(r.body.detail, `jwks[0]: ${TOO_LARGE}`);
  assert.equal(await count(), before);
  const put = await t.api(`/v1/apps/${clientId}/jwks`, { method: 'PUT', body: { keys: [rsaJwk(30000)] } });
  assert.equal(put.status, 400, JSON.stringify(put.body));
  assert.equal(put.body.code, 'request.invalid');
  assert.equal(put.body.detail, `jwks[0]: ${TOO_LARGE}`);
  assert.equal((await t.node.services.store.getApp(clientId))?.jwks ?? null, null, 'the app keeps no JWKS');
});

test('attack: an app signing key with a 30,000-bit RSA modulus → 400 request.invalid naming the size; not stored; 16,384 bits registers', async () => {
  const r = await t.api(`/v1/apps/${clientId}/keys`, { body: { keyid: 'huge-rsa', jwk: rsaJwk(30000) } });
  assert.equal(r.status, 400, JSON.stringify(r.body));
  assert.equal(r.body.code, 'request.invalid');
  assert.equal(r.body.detail, `key: ${TOO_LARGE}`);
  assert.equal(t.node.services.appSigningKeys.lookup('huge-rsa'), undefined);
  const over = await t.api(`/v1/apps/${clientId}/keys`, { body: { keyid: 'rsa-16392', jwk: rsaJwk(16392) } });
  assert.equal(over.status, 400, JSON.stringify(over.body));
  assert.equal(over.body.detail, 'key: RSA keys must have at most 16384 bits (this one has 16392)');
  const max = await t.api(`/v1/apps/${clientId}/keys`, { body: { keyid: 'rsa-16384', jwk: rsaJwk(16384) } });
  assert.equal(max.status, 201, JSON.stringify(max.body));
});

test('attack: an app encryption key with a 30,000-bit RSA modulus → 400 request.invalid naming the size; not stored', async () => {
  const r = await t.api(`/v1/apps/${clientId}/encryption-keys`, { body: { kid: 'huge-rsa', jwk: rsaJwk(30000), alg: 'RSA-OAEP-256' } });
  assert.equal(r.status, 400, JSON.stringify(r.body));
  assert.equal(r.body.code, 'request.invalid');
  assert.equal(r.body.detail, `jwk: ${TOO_LARGE}`);
  assert.equal(t.node.services.appEncryptionKeys.public(clientId), undefined);
});

test('attack: POST /v1/certificates with a CSR for a 30,000-bit RSA key → 400 pki.csr-invalid naming the size (before its signature is checked); nothing issued', async () => {
  const dir = tmp();
  const o = openssl(['req', '-new', '-newkey', 'rsa:2048', '-nodes', '-keyout', `${dir}/k.pem`, '-subj', '/CN=x', '-outform', 'DER', '-out', `${dir}/req.der`]);
  assert.equal(o.status, 0, o.out);
  const csr = AsnConvert.parse(readFileSync(`${dir}/req.der`), CertificationRequest);
  const spki = createPublicKey({ key: rsaJwk(30000), format: 'jwk' }).export({ format: 'der', type: 'spki' });
  csr.certificationRequestInfo.subjectPKInfo = AsnConvert.parse(spki, SubjectPublicKeyInfo);
  csr.signature = new Uint8Array(30000 / 8).buffer;
  const pem = toPem(new Uint8Array(AsnConvert.serialize(csr)), 'CERTIFICATE REQUEST');
  const r = await t.api('/v1/certificates', { body: { profile: 'server', dns_names: ['huge.example.test'], csr: pem } });
  assert.equal(r.status, 400, JSON.stringify(r.body));
  assert.equal(r.body.code, 'pki.csr-invalid');
  assert.equal(r.body.detail, 'the CSR key must be EC P-256/P-384, RSA of 2048 to 16384 bits, or Ed25519');
  const list = await t.api('/v1/certificates');
  assert.ok(!JSON.stringify(list.body).includes('huge.example.test'), 'nothing issued');
});
