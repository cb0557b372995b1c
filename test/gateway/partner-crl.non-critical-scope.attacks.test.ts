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
import { AsnConvert } from '@peculiar/asn1-schema';
import { BaseCRLNumber, CertificateList, IssuingDistributionPoint, id_ce_deltaCRLIndicator, id_ce_issuingDistributionPoint } from '@peculiar/asn1-x509';
import { CertificateAuthority } from '../../src/pki/authority.js';
import { extensionOf, serialize } from '../../src/pki/certificate.js';
import { buildCrl } from '../../src/pki/crl.js';
import { issueCertificate } from '../../src/pki/issue.js';
import { signingView } from '../../src/pki/issuing-ca.js';
import { fromPem, toPem } from '../../src/pki/pem.js';
import { crlUnusable, isCrl } from '../../src/pki/revocation-lookup.js';
import { clientCertificateStep } from '../../src/gateway/client-certificate-policy.js';
import { crlFilesRevocationLookup } from '../../src/gateway/partner-revocation.js';
import type { RequestContext } from '../../src/gateway/context.js';
import { makeCa, tmp } from '../pki/helpers.js';

const TD = 'example.org';

/**
 * A partner leaf, revoked by its CA after the CRL in the file was built, and a CRL the CA
 * signs from its usual one with `extension` added (non-critical) and no entries: the gateway
 * asked with that CRL must refuse the leaf.
 */
async function refusedWith([id, value]: [string, Uint8Array], reason: string): Promise<void> {
  const node = await makeCa({ trustDomain: TD });
  const pki = new CertificateAuthority({ store: node.store, signers: node.signers, clock: node.clock, urlBase: 'https://id.example', trustDomain: TD, serverLifetimeMs: 864e5, clientLifetimeMs: 864e5, crlLifetimeMs: 864e5, ocspLifetimeMs: 36e5 });
  assert.ok(await pki.load());
  const partner = await makeCa({ trustDomain: TD });
  const clock = partner.clock;
  const leaf = await issueCertificate(partner.ctx, { profile: 'client', clientId: 'partner-app' });
  await partner.store.revokeCertificate(leaf.serial, clock.now(), 'keyCompromise');
  const view = signingView(partner.ca);
  const usual = AsnConvert.parse((await buildCrl(partner.store, clock, view, 864e5)).der, CertificateList);
  const tbs = usual.tbsCertList;
  assert.equal(tbs.revokedCertificates?.length, 1, 'the complete CRL lists the leaf');
  delete tbs.revokedCertificates;
  tbs.crlExtensions = [...(tbs.crlExtensions ?? []), extensionOf(id, false, value)];
  const tbsDer = new Uint8Array(AsnConvert.serialize(tbs));
  const signature = await view.signer.sign(tbsDer);
  const der = new Uint8Array(AsnConvert.serialize(new CertificateList({ tbsCertList: tbs, signatureAlgorithm: usual.signatureAlgorithm, signature: new Uint8Array(signature).buffer })));
  assert.equal(isCrl(der), true, 'it is a CRL (the file is not "no CRL")');
  const file = join(tmp(), 'partner.crl');
  writeFileSync(file, toPem(der, 'X509 CRL'));
  const intDer = fromPem(partner.intPem, 'CERTIFICATE');
  const socket = {
    encrypted: true,
    getPeerCertificate: () => ({ raw: Buffer.from(leaf.der) }),
    getPeerX509Certificate: () => ({ raw: Buffer.from(leaf.der), issuerCertificate: { raw: Buffer.from(intDer), issuerCertificate: undefined } }),
  };
  const warnings: unknown[] = [];
  const logger = { warn: (o: unknown, m: string) => void warnings.push([o, m]) } as unknown as Parameters<typeof crlFilesRevocationLookup>[3];
  const step = clientCertificateStep(
    { mapToApp: false, caBundle: 'partner.pem', crls: [file], revocation: 'leaf' },
    {
      pki,
      clock,
      findApp: () => undefined,
      anchors: [fromPem(partner.rootPem, 'CERTIFICATE')],
      anchorsKey: 'bundle:partner.pem',
      revocation: crlFilesRevocationLookup([{ name: 'partner.crl', path: file }], 'leaf', () => clock.now(), logger),
    },
  );
  const ctx = { req: { socket }, headers: { forward: [] as string[] } } as unknown as RequestContext;
  await assert.rejects(Promise.resolve().then(() => step(ctx)), { code: 'cert.revocation-unknown' });
  assert.equal(crlUnusable(der), reason);
  const said = JSON.stringify(warnings);
  assert.match(said, new RegExp(`partner\\.crl.*${reason}`), 'the operator is told which file and why');
}

test('attack: a partner CRL with a NON-critical issuing distribution point (CA certificates only) does not vouch for a revoked leaf → cert.revocation-unknown', async () => {
  await refusedWith([id_ce_issuingDistributionPoint, serialize(new IssuingDistributionPoint({ onlyContainsCACerts: true }))], 'non-critical issuing distribution point');
});

test('attack: a partner delta CRL whose delta CRL indicator is NON-critical (no entries since its base) does not vouch for a revoked leaf → cert.revocation-unknown', async () => {
  await refusedWith([id_ce_deltaCRLIndicator, serialize(new BaseCRLNumber(1))], 'non-critical delta CRL indicator');
});
