/**
 * RFC 5280 §5.1.2.5: "Conforming CRL issuers MUST include the nextUpdate field in all
 * CRLs." A partner CRL without one has no end: it would vouch for a certificate its CA
 * revoked later, forever. It is refused by name (unusable: no nextUpdate), so the
 * partner certificate's status is unknown and the gateway refuses it
 * (`cert.revocation-unknown`), whatever the ASN.1 parser makes of the missing field.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { toPem } from '../../src/pki/pem.js';
import { crlUnusable } from '../../src/pki/revocation-lookup.js';
import { tmp } from '../pki/helpers.js';
import { nodeAndPartner, partnerCrlStep, partnerSocket, requestOn, resignedCrl } from './partner-crl-fixture.js';

test('attack: a partner CRL without nextUpdate (valid forever) is refused by name → cert.revocation-unknown', async () => {
  const setup = await nodeAndPartner();
  const { partner, leaf } = setup;
  // the partner CA signs a CRL like its usual one, but without nextUpdate
  const der = await resignedCrl(partner, (tbs) => {
    delete tbs.nextUpdate;
  });
  assert.equal(crlUnusable(der), 'no nextUpdate');
  const file = join(tmp(), 'partner.crl');
  writeFileSync(file, toPem(der, 'X509 CRL'));
  const { step, warnings } = partnerCrlStep(setup, file);
  await assert.rejects(Promise.resolve().then(() => step(requestOn(partnerSocket(partner, leaf)))), { code: 'cert.revocation-unknown' });
  assert.match(JSON.stringify(warnings), /partner\.crl.*no nextUpdate/, 'the operator is told which file and why');
});
