/**
 * The set-up the partner-CRL attack files share: this node's CA, a partner CA with one
 * client leaf (both on the partner's frozen clock), the TLS socket that presents the leaf
 * and the partner intermediate, and a CRL the partner signs from its usual one with an
 * edit (a field removed, an extension added).
 */
import assert from 'node:assert/strict';
import { AsnConvert } from '@peculiar/asn1-schema';
import { CertificateList, type TBSCertList } from '@peculiar/asn1-x509';
import { clientCertificateStep } from '../../src/gateway/client-certificate-policy.js';
import type { RequestContext } from '../../src/gateway/context.js';
import { crlFilesRevocationLookup } from '../../src/gateway/partner-revocation.js';
import { CertificateAuthority } from '../../src/pki/authority.js';
import { buildCrl } from '../../src/pki/crl.js';
import { issueCertificate } from '../../src/pki/issue.js';
import { signingView } from '../../src/pki/issuing-ca.js';
import { fromPem } from '../../src/pki/pem.js';
import { isCrl } from '../../src/pki/revocation-lookup.js';
import { makeCa } from '../pki/helpers.js';

const TD = 'example.org';

export type Partner = Awaited<ReturnType<typeof makeCa>>;

/** This node's loaded CA, and a partner CA with a client leaf issued for `partner-app`. */
export async function nodeAndPartner() {
  const node = await makeCa({ trustDomain: TD });
  const pki = new CertificateAuthority({ store: node.store, signers: node.signers, clock: node.clock, urlBase: 'https://id.example', trustDomain: TD, serverLifetimeMs: 864e5, clientLifetimeMs: 864e5, crlLifetimeMs: 864e5, ocspLifetimeMs: 36e5 });
  assert.ok(await pki.load());
  const partner = await makeCa({ trustDomain: TD });
  const leaf = await issueCertificate(partner.ctx, { profile: 'client', clientId: 'partner-app' });
  // the node and the partner share one frozen time
  return { pki, partner, clock: partner.clock, leaf, anchors: [fromPem(partner.rootPem, 'CERTIFICATE')] };
}

/** One TLS connection's socket: the peer sent `leaf` and the partner intermediate. */
export function partnerSocket(partner: Partner, leaf: { der: Uint8Array }) {
  const intDer = fromPem(partner.intPem, 'CERTIFICATE');
  return {
    encrypted: true,
    getPeerCertificate: () => ({ raw: Buffer.from(leaf.der) }),
    getPeerX509Certificate: () => ({ raw: Buffer.from(leaf.der), issuerCertificate: { raw: Buffer.from(intDer), issuerCertificate: undefined } }),
  };
}

/** A request's context on `socket`, as the gateway gives a step. */
export const requestOn = (socket: object): RequestContext => ({ req: { socket }, headers: { forward: [] as string[] } }) as unknown as RequestContext;

/** The partner's usual CRL (lifetime one day), edited by `edit` and signed again by the partner: DER. */
export async function resignedCrl(partner: Partner, edit: (tbs: TBSCertList) => void): Promise<Uint8Array> {
  const view = signingView(partner.ca);
  const usual = AsnConvert.parse((await buildCrl(partner.store, partner.clock, view, 864e5)).der, CertificateList);
  const tbs = usual.tbsCertList;
  edit(tbs);
  const signature = await view.signer.sign(new Uint8Array(AsnConvert.serialize(tbs)));
  const der = new Uint8Array(AsnConvert.serialize(new CertificateList({ tbsCertList: tbs, signatureAlgorithm: usual.signatureAlgorithm, signature: new Uint8Array(signature).buffer })));
  assert.equal(isCrl(der), true, 'it is a CRL (the file is not "no CRL")');
  return der;
}

/**
 * The client-certificate step of a `caBundle` route that trusts the partner and checks the
 * leaf against the CRL file `file`, and the warnings its CRL lookup logs.
 */
export function partnerCrlStep(setup: Awaited<ReturnType<typeof nodeAndPartner>>, file: string) {
  const { pki, clock, anchors } = setup;
  const warnings: unknown[] = [];
  const logger = { warn: (o: unknown, m: string) => void warnings.push([o, m]) } as unknown as Parameters<typeof crlFilesRevocationLookup>[3];
  const step = clientCertificateStep(
    { mapToApp: false, caBundle: 'partner.pem', crls: [file], revocation: 'leaf' },
    { pki, clock, findApp: () => undefined, anchors, anchorsKey: 'bundle:partner.pem', revocation: crlFilesRevocationLookup([{ name: 'partner.crl', path: file }], 'leaf', () => clock.now(), logger) },
  );
  return { step, warnings };
}
