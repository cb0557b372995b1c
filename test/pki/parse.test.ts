/**
 * The parse side on @peculiar/asn1-x509: well-formed certificates read the same as
 * node:crypto reads them; anything that is not DER (BER leniencies the generic decoder
 * would accept) or breaks an RFC 5280 encoding rule is a typed Asn1Error, which the
 * verifier turns into cert.malformed, and no mutated certificate crashes it.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import { AsnConvert } from '@peculiar/asn1-schema';
import { Certificate, Version } from '@peculiar/asn1-x509';
import { PortcullisError } from '../../src/core/errors.js';
import { CrlPublisher } from '../../src/pki/crl.js';
import { parseCsr } from '../../src/pki/csr.js';
import { issueCertificate } from '../../src/pki/issue.js';
import { signingView } from '../../src/pki/issuing-ca.js';
import { Asn1Error, basicConstraintsOf, keyUsageOf, parseCertificate, subjectAltNamesOf } from '../../src/pki/parse.js';
import { fromPem } from '../../src/pki/pem.js';
import { revokeCertificate } from '../../src/pki/revoke.js';
import { crlRevocationLookup } from '../../src/pki/revocation-lookup.js';
import { verifyCertificateChain, verifyClientCertificate } from '../../src/pki/verify-chain.js';
import { makeCa, type TestCa } from './helpers.js';

const TD = 'example.org';
const der = (pem: string): Uint8Array => fromPem(pem, 'CERTIFICATE');
const opts = (t: TestCa, at = t.clock.now()) => ({ anchors: [der(t.rootPem)], at, trustDomain: TD });

/** Replaces the first occurrence of `find` in `bytes` with `repl` (same length or not). */
function replaceBytes(bytes: Uint8Array, find: number[], repl: number[]): Uint8Array {
  const b = Buffer.from(bytes);
  const i = b.indexOf(Buffer.from(find));
  assert.ok(i >= 0, `pattern ${Buffer.from(find).toString('hex')} not found`);
  return new Uint8Array(Buffer.concat([b.subarray(0, i), Buffer.from(repl), b.subarray(i + find.length)]));
}

/** The same certificate with the outer SEQUENCE length in a longer form than needed (valid BER, not DER). */
function longFormOuterLength(d: Uint8Array): Uint8Array {
  assert.equal(d[1], 0x82);
  return new Uint8Array([0x30, 0x83, 0x00, d[2]!, d[3]!, ...d.subarray(4)]);
}

async function leaf(t: TestCa) {
  return issueCertificate(t.ctx, { profile: 'client', clientId: 'billing' });
}

async function rejectsMalformed(chain: Uint8Array[], t: TestCa): Promise<void> {
  await assert.rejects(verifyClientCertificate(chain, opts(t)), (e: unknown) => {
    assert.ok(e instanceof PortcullisError, `not a PortcullisError: ${String(e)}`);
    assert.equal(e.code, 'cert.malformed');
    return true;
  });
}

test('a certificate the CA issued parses to the values node:crypto reads, with its extensions decoded', async () => {
  const t = await makeCa({ trustDomain: TD });
  const c = await leaf(t);
  const p = parseCertificate(c.der);
  const x = new X509Certificate(c.der);
  assert.equal(p.serial, x.serialNumber.toLowerCase());
  assert.equal(p.notAfter, Date.parse(x.validTo));
  assert.equal(p.notBefore, Date.parse(x.validFrom));
  assert.equal(p.version, 3);
  assert.ok(p.asn instanceof Certificate);
  assert.deepEqual(Buffer.from(p.spki), x.publicKey.export({ type: 'spki', format: 'der' }));
  assert.deepEqual(subjectAltNamesOf(p), [{ type: 'uri', value: `spiffe://${TD}/app/billing` }]);
  assert.deepEqual(basicConstraintsOf(p), { ca: false, pathLen: undefined });
  assert.ok(keyUsageOf(p)!.has(0), 'digitalSignature');
  const int = parseCertificate(der(t.intPem));
  assert.deepEqual(basicConstraintsOf(int), { ca: true, pathLen: 0 });
});

test('parses are cached by fingerprint and keep their own copy of the DER', async () => {
  const t = await makeCa({ trustDomain: TD });
  const c = await leaf(t);
  const buf = new Uint8Array(c.der);
  const a = parseCertificate(buf);
  assert.equal(parseCertificate(new Uint8Array(c.der)), a, 'the same object for the same bytes');
  buf[buf.length - 1]! ^= 0xff;
  assert.deepEqual(a.der, c.der, "the cached certificate does not change with the caller's buffer");
});

test('attack: not DER — truncated, trailing byte, long-form length, indefinite length, empty, garbage → Asn1Error and cert.malformed', async () => {
  const t = await makeCa({ trustDomain: TD });
  const c = await leaf(t);
  const int = der(t.intPem);
  const d = c.der;
  const content = d.subarray(4);
  const variants: Record<string, Uint8Array> = {
    truncated: d.subarray(0, d.length - 1),
    'trailing byte': new Uint8Array([...d, 0x00]),
    'long-form length': longFormOuterLength(d),
    'indefinite length': new Uint8Array([0x30, 0x80, ...content, 0x00, 0x00]),
    empty: new Uint8Array(0),
    garbage: new Uint8Array(Buffer.from('not a certificate at all')),
  };
  for (const [name, v] of Object.entries(variants)) {
    assert.throws(() => parseCertificate(v), Asn1Error, name);
    await rejectsMalformed([v, int], t);
  }
});

test('attack: BOOLEAN TRUE encoded as 0x01 (BER) in a critical flag, and in basicConstraints cA of an anchor → cert.malformed', async () => {
  const t = await makeCa({ trustDomain: TD });
  const c = await leaf(t);
  // keyUsage (2.5.29.15), critical TRUE
  const ku = replaceBytes(c.der, [0x06, 0x03, 0x55, 0x1d, 0x0f, 0x01, 0x01, 0xff], [0x06, 0x03, 0x55, 0x1d, 0x0f, 0x01, 0x01, 0x01]);
  assert.throws(() => parseCertificate(ku), /not DER/);
  await rejectsMalformed([ku, der(t.intPem)], t);
  // the intermediate's basicConstraints value SEQUENCE { cA TRUE, pathLen 0 }
  const int = replaceBytes(der(t.intPem), [0x30, 0x06, 0x01, 0x01, 0xff, 0x02, 0x01, 0x00], [0x30, 0x06, 0x01, 0x01, 0x01, 0x02, 0x01, 0x00]);
  const p = parseCertificate(int);
  assert.throws(() => basicConstraintsOf(p), /BasicConstraints: not DER/);
  // Its signature no longer verifies under the root, so as an anchor (not signature-checked)
  // the leaf still chains to its key, and the decoded basicConstraints decide.
  await assert.rejects(verifyCertificateChain(c.der, { anchors: [int], at: t.clock.now() }), { code: 'cert.malformed' });
  assert.equal((await verifyCertificateChain(c.der, { anchors: [der(t.intPem)], at: t.clock.now() })).path.length, 2, 'the untampered intermediate as anchor verifies');
});

test('attack: DER that breaks RFC 5280 — a non-minimal serial, extensions in a v1 certificate → Asn1Error', async () => {
  const t = await makeCa({ trustDomain: TD });
  const c = await leaf(t);
  const base = (): Certificate => AsnConvert.parse(c.der, Certificate);
  const serial = base();
  serial.tbsCertificate.serialNumber = new Uint8Array([0x00, 0x01]).buffer;
  assert.throws(() => parseCertificate(new Uint8Array(AsnConvert.serialize(serial))), /non-minimal serial/);
  const v1 = base();
  v1.tbsCertificate.version = Version.v1;
  assert.throws(() => parseCertificate(new Uint8Array(AsnConvert.serialize(v1))), /extensions in a non-v3 certificate/);
});

test('attack: every single-byte corruption of a client certificate is refused with a cert.* code, never a crash', async () => {
  const t = await makeCa({ trustDomain: TD });
  const c = await leaf(t);
  const int = der(t.intPem);
  const codes = new Map<string, number>();
  for (let i = 0; i < c.der.length; i++) {
    const m = new Uint8Array(c.der);
    m[i]! ^= 0x01;
    try {
      await verifyClientCertificate([m, int], opts(t));
      assert.fail(`byte ${i} flipped: accepted`);
    } catch (e) {
      assert.ok(e instanceof PortcullisError && e.code.startsWith('cert.'), `byte ${i} flipped: ${String(e)}`);
      codes.set(e.code, (codes.get(e.code) ?? 0) + 1);
    }
  }
  assert.ok((codes.get('cert.malformed') ?? 0) > 0 && (codes.get('cert.untrusted') ?? 0) > 0, JSON.stringify([...codes]));
});

test('memoised signatures do not memoise the verdict: the same chain verified again after expiry → cert.expired', async () => {
  const t = await makeCa({ trustDomain: TD });
  const c = await leaf(t);
  const chain = [c.der, der(t.intPem)];
  assert.equal((await verifyClientCertificate(chain, opts(t))).clientId, 'billing');
  assert.equal((await verifyClientCertificate(chain, opts(t))).clientId, 'billing');
  await assert.rejects(verifyClientCertificate(chain, opts(t, c.notAfter + 1000)), { code: 'cert.expired' });
  await assert.rejects(verifyCertificateChain(c.der, { anchors: [der(t.rootPem)], intermediates: [der(t.intPem)], at: t.clock.now(), revocation: () => 'revoked' }), { code: 'cert.revoked' });
});

test('validity is compared at whole seconds, the granularity of X.509 times: valid through notAfter + 999 ms, expired at notAfter + 1 s', async () => {
  const t = await makeCa({ trustDomain: TD });
  const c = await leaf(t);
  const chain = [c.der, der(t.intPem)];
  assert.equal(c.notAfter % 1000, 0);
  assert.equal((await verifyClientCertificate(chain, opts(t, c.notAfter + 999))).clientId, 'billing');
  await assert.rejects(verifyClientCertificate(chain, opts(t, c.notAfter + 1000)), { code: 'cert.expired' });
});

test('attack: a CRL in BER (long-form length) is not read: the status stays unknown → cert.revocation-unknown (fail closed)', async () => {
  const t = await makeCa({ trustDomain: TD });
  const crl = new CrlPublisher(t.store, t.clock, signingView(t.ca));
  const c = await leaf(t);
  await revokeCertificate({ store: t.store, clock: t.clock, crls: new Map([[t.ca.record.id, crl]]) }, c.serial, 'keyCompromise');
  const good = (await crl.get()).der;
  const only = (lookup: ReturnType<typeof crlRevocationLookup>) => async (cert: Parameters<typeof lookup>[0], issuer: Parameters<typeof lookup>[1]) =>
    cert.serial === c.serial ? lookup(cert, issuer) : ('good' as const);
  await assert.rejects(verifyClientCertificate([c.der, der(t.intPem)], { ...opts(t), revocation: only(crlRevocationLookup([good], () => t.clock.now())) }), { code: 'cert.revoked' });
  const ber = longFormOuterLength(good);
  await assert.rejects(verifyClientCertificate([c.der, der(t.intPem)], { ...opts(t), revocation: only(crlRevocationLookup([ber], () => t.clock.now())) }), { code: 'cert.revocation-unknown' });
});

test('attack: a CSR that is not DER (truncated, long-form length) → pki.csr-invalid naming the structure', async () => {
  const { generateKeyPairSync, createSign } = await import('node:crypto');
  const { CertificationRequest, CertificationRequestInfo } = await import('@peculiar/asn1-csr');
  const { Name, SubjectPublicKeyInfo, AlgorithmIdentifier } = await import('@peculiar/asn1-x509');
  const { publicKey, privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const info = new CertificationRequestInfo({ subject: new Name(), subjectPKInfo: AsnConvert.parse(publicKey.export({ type: 'spki', format: 'der' }), SubjectPublicKeyInfo) });
  const sig = createSign('sha256').update(Buffer.from(AsnConvert.serialize(info))).sign(privateKey);
  const csr = new Uint8Array(AsnConvert.serialize(new CertificationRequest({ certificationRequestInfo: info, signatureAlgorithm: new AlgorithmIdentifier({ algorithm: '1.2.840.10045.4.3.2' }), signature: new Uint8Array(sig).buffer })));
  const pem = (d: Uint8Array): string => `-----BEGIN CERTIFICATE REQUEST-----\n${Buffer.from(d).toString('base64')}\n-----END CERTIFICATE REQUEST-----\n`;
  assert.deepEqual(Buffer.from(parseCsr(pem(csr)).spki), publicKey.export({ type: 'spki', format: 'der' }), 'the well-formed CSR is accepted');
  const outer = csr[1] === 0x81 ? new Uint8Array([0x30, 0x82, 0x00, csr[2]!, ...csr.subarray(3)]) : new Uint8Array([0x30, 0x81, csr[1]!, ...csr.subarray(2)]);
  for (const bad of [csr.subarray(0, csr.length - 2), outer]) {
    assert.throws(() => parseCsr(pem(bad)), (e: unknown) => e instanceof PortcullisError && e.code === 'pki.csr-invalid' && /CertificationRequest/.test(e.message));
  }
});
