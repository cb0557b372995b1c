/**
 * The CA certifies only keys it would accept in a chain itself, in the one encoding RFC
 * 5480 allows: an EC key with explicit curve parameters (RFC 5480 §2.1.1: specifiedCurve
 * MUST NOT be used; the CVE-2020-0601 curve-substitution trick) and an RSA key whose
 * public exponent is 1 or even (with e = 1 anyone "signs": the CSR's proof of possession
 * and every later signature of the key are forgeable by whoever has the public key)
 * are refused with `pki.csr-invalid`, never issued. The key is judged before the
 * self-signature: a key with an even exponent cannot sign anything, so checking the
 * signature first would refuse it for the wrong reason ("does not verify").
 */
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, createPublicKey, generateKeyPairSync } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { CertificationRequest } from '@peculiar/asn1-csr';
import { AsnConvert } from '@peculiar/asn1-schema';
import { SubjectPublicKeyInfo } from '@peculiar/asn1-x509';
import { parseCsr } from '../../src/pki/csr.js';
import { issueCertificate } from '../../src/pki/issue.js';
import { toPem } from '../../src/pki/pem.js';
import { startTestNode } from '../admin/node.js';
import { runCli } from '../cli/run.js';
import { makeCa, openssl, tmp } from './helpers.js';

test('attack: a CSR whose EC key carries explicit curve parameters is refused (pki.csr-invalid)', async () => {
  const t = await makeCa();
  const dir = tmp();
  let r = openssl(['ecparam', '-name', 'prime256v1', '-param_enc', 'explicit', '-genkey', '-noout', '-out', `${dir}/k.pem`]);
  assert.equal(r.status, 0, r.out);
  r = openssl(['req', '-new', '-key', `${dir}/k.pem`, '-subj', '/CN=x', '-out', `${dir}/req.csr`]);
  assert.equal(r.status, 0, r.out);
  const csrPem = readFileSync(`${dir}/req.csr`, 'utf8');
  await assert.rejects(issueCertificate(t.ctx, { profile: 'server', dnsNames: ['a.test'], csrPem }), { code: 'pki.csr-invalid', message: /explicit curve parameters/ });
});

/**
 * A CSR for an RSA key with public exponent `e` (big-endian bytes) on a real 2048-bit
 * modulus, "signed" without any private key: for e = 1 the signature is the encoded
 * message and verifies; for an even e it cannot verify.
 */
function rsaCsrWithExponent(e: number[]): string {
  const dir = tmp();
  const r = openssl(['req', '-new', '-newkey', 'rsa:2048', '-nodes', '-keyout', `${dir}/k.pem`, '-subj', '/CN=x', '-outform', 'DER', '-out', `${dir}/req.der`]);
  assert.equal(r.status, 0, r.out);
  const csr = AsnConvert.parse(readFileSync(`${dir}/req.der`), CertificationRequest);
  const jwk = generateKeyPairSync('rsa', { modulusLength: 2048 }).publicKey.export({ format: 'jwk' });
  const spki = createPublicKey({ key: { ...jwk, e: Buffer.from(e).toString('base64url') }, format: 'jwk' }).export({ format: 'der', type: 'spki' });
  csr.certificationRequestInfo.subjectPKInfo = AsnConvert.parse(spki, SubjectPublicKeyInfo);
  const info = Buffer.from(AsnConvert.serialize(csr.certificationRequestInfo));
  // EMSA-PKCS1-v1_5 (RFC 8017 §9.2) of SHA-256(info): with e = 1 it is its own signature
  const digestInfo = Buffer.concat([Buffer.from('3031300d060960864801650304020105000420', 'hex'), createHash('sha256').update(info).digest()]);
  const em = Buffer.concat([Buffer.from([0, 1]), Buffer.alloc(256 - 3 - digestInfo.length, 0xff), Buffer.from([0]), digestInfo]);
  csr.signature = new Uint8Array(em).buffer;
  return toPem(new Uint8Array(AsnConvert.serialize(csr)), 'CERTIFICATE REQUEST');
}

const WEAK_E = 'the CSR RSA key must have an odd public exponent of at least 65537';
const exponents: Array<[string, number[]]> = [
  ['1', [1]],
  ['4 (even)', [4]],
  ['65538 (even)', [1, 0, 2]],
];

for (const [name, e] of exponents) {
  test(`attack: a CSR for an RSA key with public exponent ${name} is refused as a weak key (pki.csr-invalid naming the exponent), whether or not its signature verifies`, async () => {
    const csrPem = rsaCsrWithExponent(e);
    // the check the CSR path runs, called directly: the weak-key refusal, not "does not verify"
    assert.throws(() => parseCsr(csrPem), { code: 'pki.csr-invalid', message: WEAK_E });
    const t = await makeCa();
    await assert.rejects(issueCertificate(t.ctx, { profile: 'server', dnsNames: ['a.test'], csrPem }), { code: 'pki.csr-invalid', message: WEAK_E });
  });
}

test('attack: POST /v1/certificates and `portcullis cert issue --csr` refuse a CSR whose RSA key has exponent 1 or an even one (400 pki.csr-invalid naming the exponent), nothing issued', async () => {
  const node = await startTestNode();
  after(() => node.close());
  for (const [name, e] of exponents) {
    const csr = rsaCsrWithExponent(e);
    const r = await node.api('/v1/certificates', { body: { profile: 'server', dns_names: ['weak.example.test'], csr } });
    assert.equal(r.status, 400, name);
    assert.equal(r.body.code, 'pki.csr-invalid', name);
    assert.equal(r.body.detail, WEAK_E, name);
    const file = join(node.dir, `weak-${e.join('-')}.csr`);
    writeFileSync(file, csr);
    const cli = await runCli(['cert', 'issue', '--dns', 'weak.example.test', '--csr', file, '--dir', node.dir, '--admin-url', node.admin]);
    assert.equal(cli.code, 1, name);
    assert.equal(cli.stderr, `error: pki.csr-invalid: ${WEAK_E}\n`, name);
  }
  const list = await node.api('/v1/certificates');
  assert.equal(list.status, 200);
  assert.ok(!JSON.stringify(list.body).includes('weak.example.test'), 'nothing issued');
});

const RSA_BITS = 'the CSR RSA key must have a modulus whose size in bits is a multiple of 8 (this one has 2052)';

test('a CSR for an RSA key of 2052 bits (not a whole number of bytes, CA/B BR §6.1.5) is refused with pki.csr-invalid: the gateway refuses such a key in a chain (cert.unsupported), so the CA must not certify it', async () => {
  const dir = tmp();
  let r = openssl(['genrsa', '-out', `${dir}/k.pem`, '2052']);
  assert.equal(r.status, 0, r.out);
  r = openssl(['req', '-new', '-key', `${dir}/k.pem`, '-subj', '/CN=x', '-out', `${dir}/req.csr`]);
  assert.equal(r.status, 0, r.out);
  const csrPem = readFileSync(`${dir}/req.csr`, 'utf8');
  assert.throws(() => parseCsr(csrPem), { code: 'pki.csr-invalid', message: RSA_BITS });
  const t = await makeCa({ trustDomain: 'example.org' });
  await assert.rejects(issueCertificate(t.ctx, { profile: 'client', clientId: 'app1', csrPem }), { code: 'pki.csr-invalid', message: RSA_BITS });
  // a whole number of bytes (3000 bits) is certified
  r = openssl(['req', '-new', '-newkey', 'rsa:3000', '-nodes', '-keyout', `${dir}/k3.pem`, '-subj', '/CN=x', '-out', `${dir}/req3.csr`]);
  assert.equal(r.status, 0, r.out);
  const ok = await issueCertificate(t.ctx, { profile: 'client', clientId: 'app1', csrPem: readFileSync(`${dir}/req3.csr`, 'utf8') });
  assert.match(ok.serial, /^[0-9a-f]{32}$/);
});
