/**
 * A `caBundle` route's CRLs decide on every request, not only when a connection's chain
 * is first verified: a partner certificate its CA revokes (the CRL file updated) is
 * refused on a keep-alive connection that already passed, as a revoked Portcullis
 * certificate is; and a CRL gone stale fails closed there too.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { CrlPublisher } from '../../src/pki/crl.js';
import { signingView } from '../../src/pki/issuing-ca.js';
import { revokeCertificate } from '../../src/pki/revoke.js';
import { clientCertificateStep } from '../../src/gateway/client-certificate-policy.js';
import { crlFilesRevocationLookup } from '../../src/gateway/partner-revocation.js';
import { tmp } from '../pki/helpers.js';
import { nodeAndPartner, partnerSocket, requestOn } from './partner-crl-fixture.js';

async function setup() {
  const { pki, partner, clock, leaf, anchors } = await nodeAndPartner();
  const crl = new CrlPublisher(partner.store, clock, signingView(partner.ca), 2 * 3_600_000);
  const file = join(tmp(), 'partner.crl');
  writeFileSync(file, (await crl.get()).pem);
  // one TLS connection for every request
  const socket = partnerSocket(partner, leaf);
  const step = clientCertificateStep(
    { mapToApp: false, caBundle: 'partner.pem', crls: [file], revocation: 'leaf' },
    { pki, clock, findApp: () => undefined, anchors, anchorsKey: 'bundle:partner.pem', revocation: crlFilesRevocationLookup([{ name: 'partner.crl', path: file }], 'leaf', () => clock.now()) },
  );
  const request = async (): Promise<void> => {
    await step(requestOn(socket));
  };
  return { partner, clock, crl, file, leaf, request };
}

test('attack: a partner certificate revoked by its CA (CRL file updated) is refused on a keep-alive connection that already passed → cert.revoked', async () => {
  const { partner, clock, crl, file, leaf, request } = await setup();
  await request();
  clock.advance(1000);
  await revokeCertificate({ store: partner.store, clock, crls: new Map([[partner.ca.record.id, crl]]) }, leaf.serial, 'keyCompromise');
  writeFileSync(file, (await crl.get()).pem);
  // past the files' recheck interval
  clock.advance(11_000);
  await assert.rejects(request(), { code: 'cert.revoked' });
});

test('attack: the partner CRL goes past its nextUpdate during a keep-alive connection → cert.revocation-unknown (fail closed)', async () => {
  const { clock, request } = await setup();
  await request();
  clock.advance(2 * 3_600_000 + 1000);
  await assert.rejects(request(), { code: 'cert.revocation-unknown' });
});
