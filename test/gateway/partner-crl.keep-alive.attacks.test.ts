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
import { CertificateAuthority } from '../../src/pki/authority.js';
import { CrlPublisher } from '../../src/pki/crl.js';
import { issueCertificate } from '../../src/pki/issue.js';
import { signingView } from '../../src/pki/issuing-ca.js';
import { fromPem } from '../../src/pki/pem.js';
import { revokeCertificate } from '../../src/pki/revoke.js';
import { clientCertificateStep } from '../../src/gateway/client-certificate-policy.js';
import { crlFilesRevocationLookup } from '../../src/gateway/partner-revocation.js';
import type { RequestContext } from '../../src/gateway/context.js';
import { makeCa, tmp } from '../pki/helpers.js';

const TD = 'example.org';

async function setup() {
  const node = await makeCa({ trustDomain: TD });
  const pki = new CertificateAuthority({ store: node.store, signers: node.signers, clock: node.clock, urlBase: 'https://id.example', trustDomain: TD, serverLifetimeMs: 864e5, clientLifetimeMs: 864e5, crlLifetimeMs: 864e5, ocspLifetimeMs: 36e5 });
  assert.ok(await pki.load());
  const partner = await makeCa({ trustDomain: TD });
  // the node and the partner share one frozen time
  const clock = partner.clock;
  const crl = new CrlPublisher(partner.store, clock, signingView(partner.ca), 2 * 3_600_000);
  const file = join(tmp(), 'partner.crl');
  writeFileSync(file, (await crl.get()).pem);
  const leaf = await issueCertificate(partner.ctx, { profile: 'client', clientId: 'partner-app' });
  const intDer = fromPem(partner.intPem, 'CERTIFICATE');
  // one TLS connection: the peer sent its leaf and the partner intermediate
  const socket = {
    encrypted: true,
    getPeerCertificate: () => ({ raw: Buffer.from(leaf.der) }),
    getPeerX509Certificate: () => ({ raw: Buffer.from(leaf.der), issuerCertificate: { raw: Buffer.from(intDer), issuerCertificate: undefined } }),
  };
  const step = clientCertificateStep(
    { mapToApp: false, caBundle: 'partner.pem', crls: [file], revocation: 'leaf' },
    {
      pki,
      clock,
      findApp: () => undefined,
      anchors: [fromPem(partner.rootPem, 'CERTIFICATE')],
      anchorsKey: 'bundle:partner.pem',
      revocation: crlFilesRevocationLookup([{ name: 'partner.crl', path: file }], 'leaf', () => clock.now()),
    },
  );
  const request = async (): Promise<void> => {
    const ctx = { req: { socket }, headers: { forward: [] as string[] } } as unknown as RequestContext;
    await step(ctx);
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
