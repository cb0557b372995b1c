import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { CrlPublisher } from '../../src/pki/crl.js';
import { issueCertificate } from '../../src/pki/issue.js';
import { signingView } from '../../src/pki/issuing-ca.js';
import { fromPem } from '../../src/pki/pem.js';
import { revokeCertificate } from '../../src/pki/revoke.js';
import { crlRevocationLookup, storeRevocationLookup } from '../../src/pki/revocation-lookup.js';
import { verifyClientCertificate } from '../../src/pki/verify-chain.js';
import { makeCa, openssl, signedClientLeaf, tmp, type TestCa } from './helpers.js';

const TD = 'example.org';
const der = (pem: string): Uint8Array => fromPem(pem, 'CERTIFICATE');
const opts = (t: TestCa, extra: Partial<Parameters<typeof verifyClientCertificate>[1]> = {}) => ({
  anchors: [der(t.rootPem)],
  at: t.clock.now(),
  trustDomain: TD,
  revocation: storeRevocationLookup(t.store),
  ...extra,
});

test('a valid client certificate with its intermediate verifies and yields its app', async () => {
  const t = await makeCa({ trustDomain: TD });
  const c = await issueCertificate(t.ctx, { profile: 'client', clientId: 'billing' });
  const v = await verifyClientCertificate([c.der, der(t.intPem)], opts(t));
  assert.equal(v.clientId, 'billing');
  assert.equal(v.serial, c.serial);
  assert.equal(v.path.length, 3);
});

test('attack: expired client certificate → cert.expired', async () => {
  const t = await makeCa({ trustDomain: TD });
  const c = await issueCertificate(t.ctx, { profile: 'client', clientId: 'a' });
  t.clock.advance(24 * 3600_000 + 1000);
  await assert.rejects(verifyClientCertificate([c.der, der(t.intPem)], opts(t)), { code: 'cert.expired' });
});

test('attack: not-yet-valid client certificate → cert.not-yet-valid', async () => {
  const t = await makeCa({ trustDomain: TD });
  const c = await issueCertificate(t.ctx, { profile: 'client', clientId: 'a' });
  await assert.rejects(verifyClientCertificate([c.der, der(t.intPem)], opts(t, { at: c.notBefore - 1000 })), { code: 'cert.not-yet-valid' });
});

test('attack: revoked client certificate, CRL path → cert.revoked', async () => {
  const t = await makeCa({ trustDomain: TD });
  const crl = new CrlPublisher(t.store, t.clock, signingView(t.ca));
  const c = await issueCertificate(t.ctx, { profile: 'client', clientId: 'a' });
  const before = await crl.get();
  const lookupBefore = crlRevocationLookup([before.der], () => t.clock.now());
  const intOnly = async (cert: Parameters<typeof lookupBefore>[0], issuer: Parameters<typeof lookupBefore>[1]) =>
    cert.serial === c.serial ? lookupBefore(cert, issuer) : ('good' as const);
  await verifyClientCertificate([c.der, der(t.intPem)], opts(t, { revocation: intOnly }));
  await revokeCertificate({ store: t.store, clock: t.clock, crls: new Map([[t.ca.record.id, crl]]) }, c.serial, 'keyCompromise');
  const lookup = crlRevocationLookup([(await crl.get()).der], () => t.clock.now());
  const rev = async (cert: Parameters<typeof lookup>[0], issuer: Parameters<typeof lookup>[1]) => (cert.serial === c.serial ? lookup(cert, issuer) : ('good' as const));
  await assert.rejects(verifyClientCertificate([c.der, der(t.intPem)], opts(t, { revocation: rev })), { code: 'cert.revoked' });
});

test('attack: CRL of another CA does not vouch for a certificate (status unknown → cert.revocation-unknown, fail closed)', async () => {
  const t = await makeCa({ trustDomain: TD });
  const other = await makeCa({ trustDomain: TD });
  const foreignCrl = await new CrlPublisher(other.store, other.clock, signingView(other.ca)).get();
  const c = await issueCertificate(t.ctx, { profile: 'client', clientId: 'a' });
  const lookup = crlRevocationLookup([foreignCrl.der], () => t.clock.now());
  const rev = async (cert: Parameters<typeof lookup>[0], issuer: Parameters<typeof lookup>[1]) => (cert.serial === c.serial ? lookup(cert, issuer) : ('good' as const));
  await assert.rejects(verifyClientCertificate([c.der, der(t.intPem)], opts(t, { revocation: rev })), { code: 'cert.revocation-unknown' });
});

test('attack: revoked client certificate, inventory path (the status the OCSP responder serves) → cert.revoked', async () => {
  const t = await makeCa({ trustDomain: TD });
  const c = await issueCertificate(t.ctx, { profile: 'client', clientId: 'a' });
  await revokeCertificate({ store: t.store, clock: t.clock }, c.serial, 'keyCompromise');
  await assert.rejects(verifyClientCertificate([c.der, der(t.intPem)], opts(t)), { code: 'cert.revoked' });
});

test('attack: server certificate presented as a client certificate → cert.wrong-usage', async () => {
  const t = await makeCa({ trustDomain: TD });
  const s = await issueCertificate(t.ctx, { profile: 'server', dnsNames: ['api.example.org'] });
  await assert.rejects(verifyClientCertificate([s.der, der(t.intPem)], opts(t)), { code: 'cert.wrong-usage' });
});

test('attack: client certificate from another CA → cert.untrusted', async () => {
  const t = await makeCa({ trustDomain: TD });
  const other = await makeCa({ trustDomain: TD });
  const c = await issueCertificate(other.ctx, { profile: 'client', clientId: 'billing' });
  await assert.rejects(verifyClientCertificate([c.der, der(other.intPem)], opts(t)), { code: 'cert.untrusted' });
  // Even with our own intermediate sent along, a foreign signature does not chain.
  await assert.rejects(verifyClientCertificate([c.der, der(t.intPem)], opts(t)), { code: 'cert.untrusted' });
});

test('attack: self-signed client certificate carrying the right SPIFFE id → cert.untrusted', async () => {
  const t = await makeCa({ trustDomain: TD });
  const dir = tmp();
  const r = openssl(['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', `${dir}/k.pem`, '-out', `${dir}/c.pem`, '-subj', '/CN=billing', '-days', '3650',
    '-addext', 'extendedKeyUsage=clientAuth', '-addext', `subjectAltName=URI:spiffe://${TD}/app/billing`]);
  assert.equal(r.status, 0, r.out);
  const self = der(readFileSync(`${dir}/c.pem`, 'utf8'));
  await assert.rejects(verifyClientCertificate([self], opts(t, { at: Date.now() })), { code: 'cert.untrusted' });
});

test('attack: missing intermediate → cert.untrusted', async () => {
  const t = await makeCa({ trustDomain: TD });
  const c = await issueCertificate(t.ctx, { profile: 'client', clientId: 'a' });
  await assert.rejects(verifyClientCertificate([c.der], opts(t)), { code: 'cert.untrusted' });
});

test('attack: name-constraint violation (a leaf for another trust domain signed by the constrained intermediate) → cert.name-constraint', async () => {
  const t = await makeCa({ trustDomain: TD });
  // What a compromised or buggy issuance path would produce: the constrained CA signs a foreign URI.
  const { publicKey } = await import('node:crypto').then((m) => m.generateKeyPairSync('ec', { namedCurve: 'P-256' }));
  const spki = new Uint8Array(publicKey.export({ format: 'der', type: 'spki' }));
  const forged = await signedClientLeaf(t, spki, ['spiffe://evil.org/app/billing', `spiffe://${TD}/app/billing`]);
  await assert.rejects(verifyClientCertificate([forged, der(t.intPem)], opts(t, { revocation: () => 'good' })), { code: 'cert.name-constraint' });
});

test('attack: tampered certificate (one byte of the SAN changed) → cert.untrusted', async () => {
  const t = await makeCa({ trustDomain: TD });
  const c = await issueCertificate(t.ctx, { profile: 'client', clientId: 'aaaa' });
  const bad = Uint8Array.from(c.der);
  const at = Buffer.from(bad).indexOf('app/aaaa');
  bad[at + 4] = 'b'.charCodeAt(0);
  await assert.rejects(verifyClientCertificate([bad, der(t.intPem)], opts(t)), { code: 'cert.untrusted' });
});
