/**
 * RFC 5280 §3.3: "An entry MUST NOT be removed from the CRL until it appears on one
 * regularly scheduled CRL issued beyond the revoked certificate's validity period." A
 * relying party validating at a time inside the validity period (a signature made then)
 * must still be able to learn of the revocation from a CRL issued after it expired.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { AsnConvert } from '@peculiar/asn1-schema';
import { CertificateList } from '@peculiar/asn1-x509';
import { CrlPublisher } from '../../src/pki/crl.js';
import { issueCertificate } from '../../src/pki/issue.js';
import { signingView } from '../../src/pki/issuing-ca.js';
import { revokeCertificate } from '../../src/pki/revoke.js';
import { makeCa } from './helpers.js';

const serialsOf = (der: Uint8Array): string[] =>
  (AsnConvert.parse(der, CertificateList).tbsCertList.revokedCertificates ?? []).map((r) => Buffer.from(r.userCertificate).toString('hex'));

test('a revoked certificate stays on the first CRL issued after it expired, and leaves the one after that', async () => {
  const t = await makeCa({ trustDomain: 'example.org' });
  const crl = new CrlPublisher(t.store, t.clock, signingView(t.ca));
  const c = await issueCertificate(t.ctx, { profile: 'client', clientId: 'app1', lifetimeMs: 3_600_000 });
  await revokeCertificate({ store: t.store, clock: t.clock, crls: new Map([[t.ca.record.id, crl]]) }, c.serial, 'keyCompromise');
  const revokedOn = await crl.get();
  assert.deepEqual(serialsOf(revokedOn.der), [c.serial]);
  // the first regularly scheduled CRL (half of the validity of the one before) is issued past the certificate's notAfter
  t.clock.set(revokedOn.thisUpdate + crl.validityMs / 2);
  const first = await crl.get();
  assert.ok(first.number > revokedOn.number);
  assert.ok(first.thisUpdate > c.notAfter);
  assert.deepEqual(serialsOf(first.der), [c.serial], 'listed on one CRL issued beyond its validity period');
  // a CRL issued once that one has been superseded by its nextUpdate
  t.clock.set(first.nextUpdate + 1000);
  const next = await crl.get();
  assert.ok(next.number > first.number);
  assert.deepEqual(serialsOf(next.der), []);
});
