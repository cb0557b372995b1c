/**
 * RFC 5280 §5.2.5 and §5.2.4: the issuing distribution point and the delta CRL indicator
 * MUST be marked critical, since each says the CRL is not a complete CRL of its issuer (it
 * covers only some certificates or reasons, or only the changes since a base CRL).
 * Portcullis uses complete CRLs only and refused these extensions when critical, but a
 * partner CRL carrying one marked non-critical was read as complete, so it said `good` for
 * a certificate outside its scope (OpenSSL reads the IDP whatever its criticality). Such a
 * CRL is refused by name (unusable: non-critical ...), the partner certificate's status is
 * unknown and the gateway refuses it (`cert.revocation-unknown`), with a warning naming the
 * file and the reason.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { BaseCRLNumber, IssuingDistributionPoint, id_ce_deltaCRLIndicator, id_ce_issuingDistributionPoint } from '@peculiar/asn1-x509';
import { extensionOf, serialize } from '../../src/pki/certificate.js';
import { toPem } from '../../src/pki/pem.js';
import { crlUnusable } from '../../src/pki/revocation-lookup.js';
import { tmp } from '../pki/helpers.js';
import { nodeAndPartner, partnerCrlStep, partnerSocket, requestOn, resignedCrl } from './partner-crl-fixture.js';

/**
 * A partner leaf, revoked by its CA after the CRL in the file was built, and a CRL the CA
 * signs from its usual one with `extension` added (non-critical) and no entries: the gateway
 * asked with that CRL must refuse the leaf.
 */
async function refusedWith([id, value]: [string, Uint8Array], reason: string): Promise<void> {
  const setup = await nodeAndPartner();
  const { partner, clock, leaf } = setup;
  await partner.store.revokeCertificate(leaf.serial, clock.now(), 'keyCompromise');
  const der = await resignedCrl(partner, (tbs) => {
    assert.equal(tbs.revokedCertificates?.length, 1, 'the complete CRL lists the leaf');
    delete tbs.revokedCertificates;
    tbs.crlExtensions = [...(tbs.crlExtensions ?? []), extensionOf(id, false, value)];
  });
  const file = join(tmp(), 'partner.crl');
  writeFileSync(file, toPem(der, 'X509 CRL'));
  const { step, warnings } = partnerCrlStep(setup, file);
  await assert.rejects(Promise.resolve().then(() => step(requestOn(partnerSocket(partner, leaf)))), { code: 'cert.revocation-unknown' });
  assert.equal(crlUnusable(der), reason);
  assert.match(JSON.stringify(warnings), new RegExp(`partner\\.crl.*${reason}`), 'the operator is told which file and why');
}

test('attack: a partner CRL with a NON-critical issuing distribution point (CA certificates only) does not vouch for a revoked leaf → cert.revocation-unknown', async () => {
  await refusedWith([id_ce_issuingDistributionPoint, serialize(new IssuingDistributionPoint({ onlyContainsCACerts: true }))], 'non-critical issuing distribution point');
});

test('attack: a partner delta CRL whose delta CRL indicator is NON-critical (no entries since its base) does not vouch for a revoked leaf → cert.revocation-unknown', async () => {
  await refusedWith([id_ce_deltaCRLIndicator, serialize(new BaseCRLNumber(1))], 'non-critical delta CRL indicator');
});
