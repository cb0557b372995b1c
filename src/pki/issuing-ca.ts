/**
 * The issuing CA loaded for signing: its certificate, signer and the constant parts
 * of every leaf it issues (issuer name, AKI, CRL DP, AIA), serialized once with the
 * asn1-x509 structures and carried pre-encoded into each TBSCertificate.
 */
import type { CrlSigningCa } from './crl.js';
import type { OcspCa } from './ocsp.js';
import { EXT, aiaValue, akiValue, crlDistributionPointsValue, extension, keyIdentifier } from './certificate.js';
import { nameConstraintsOf, type NameConstraints } from './extensions.js';
import { activeCa, loadSigner } from './hierarchy.js';
import { parseCertificate, type ParsedCertificate } from './parse.js';
import { toPem } from './pem.js';
import { pkiUrls, type PkiUrls } from './profiles.js';
import type { CaSigner, SignerRegistry } from './signer.js';
import type { CaRecord, CertificateStore } from './store.js';

export interface IssuingCa {
  record: CaRecord;
  cert: ParsedCertificate;
  signer: CaSigner;
  keyId: Uint8Array;
  urls: PkiUrls;
  nameConstraints: NameConstraints | null;
  /** The root that anchors it. */
  root: ParsedCertificate;
  /** PEM of the intermediate followed by the root. */
  chainPem: string;
  template: { aki: Uint8Array; crlDp: Uint8Array; aia: Uint8Array };
}

/**
 * Loads the active intermediate and the active root.
 * @example const ca = await openIssuingCa(store, signers, 'https://id.example.org');
 */
export async function openIssuingCa(store: CertificateStore, signers: SignerRegistry, urlBase: string): Promise<IssuingCa> {
  const rec = await activeCa(store, 'intermediate');
  const rootRec = await activeCa(store, 'root');
  return issuingCaFrom(rec, await loadSigner(rec, signers), rootRec, urlBase);
}

export function issuingCaFrom(rec: CaRecord, signer: CaSigner, rootRec: CaRecord, urlBase: string): IssuingCa {
  const cert = parseCertificate(rec.certDer);
  const root = parseCertificate(rootRec.certDer);
  const keyId = keyIdentifier(cert.spki);
  const urls = pkiUrls(urlBase, rec.id);
  return {
    record: rec,
    cert,
    signer,
    keyId,
    urls,
    nameConstraints: nameConstraintsOf(cert),
    root,
    chainPem: toPem(cert.der, 'CERTIFICATE') + toPem(root.der, 'CERTIFICATE'),
    template: {
      aki: extension(EXT.authorityKeyIdentifier, false, akiValue(keyId)),
      crlDp: extension(EXT.crlDistributionPoints, false, crlDistributionPointsValue([urls.crl])),
      aia: extension(EXT.authorityInfoAccess, false, aiaValue(urls.ocsp, urls.caIssuers)),
    },
  };
}

/** The view of an issuing CA that CRL building and the OCSP responder need. */
export function signingView(ca: IssuingCa): CrlSigningCa & OcspCa {
  return { id: ca.record.id, subject: ca.cert.subject, spki: ca.cert.spki, publicKeyBits: ca.cert.publicKeyBits, certDer: ca.cert.der, signer: ca.signer };
}
