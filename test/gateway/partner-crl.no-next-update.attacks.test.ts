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
import { AsnConvert } from '@peculiar/asn1-schema';
import { CertificateList } from '@peculiar/asn1-x509';
import { CertificateAuthority } from '../../src/pki/authority.js';
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

test('attack: a partner CRL without nextUpdate (valid forever) is refused by name → cert.revocation-unknown', async () => {
  const node = await makeCa({ trustDomain: TD });
  const pki = new CertificateAuthority({ store: node.store, signers: node.signers, clock: node.clock, urlBase: 'https://id.example', trustDomain: TD, serverLifetimeMs: 864e5, clientLifetimeMs: 864e5, crlLifetimeMs: 864e5, ocspLifetimeMs: 36e5 });
  assert.ok(await pki.load());
  const partner = await makeCa({ trustDomain: TD });
  const clock = partner.clock;
  const leaf = await issueCertificate(partner.ctx, { profile: 'client', clientId: 'partner-app' });
  // the partner CA signs a CRL like its usual one, but without nextUpdate
  const view = signingView(partner.ca);
  const usual = AsnConvert.parse((await buildCrl(partner.store, clock, view, 864e5)).der, CertificateList);
  const tbs = usual.tbsCertList;
  delete tbs.nextUpdate;
  const tbsDer = new Uint8Array(AsnConvert.serialize(tbs));
  const signature = await view.signer.sign(tbsDer);
  const der = new Uint8Array(AsnConvert.serialize(new CertificateList({ tbsCertList: tbs, signatureAlgorithm: usual.signatureAlgorithm, signature: new Uint8Array(signature).buffer })));
  assert.equal(isCrl(der), true, 'it is a CRL (the file is not "no CRL")');
  assert.equal(crlUnusable(der), 'no nextUpdate');
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
  assert.match(JSON.stringify(warnings), /partner\.crl.*no nextUpdate/, 'the operator is told which file and why');
});
