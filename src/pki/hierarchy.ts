/**
 * The CA hierarchy: a long-lived P-384 root (its key can be kept offline) and an
 * issuing P-256 intermediate, name-constrained to the trust domain when one is
 * configured. Either can be imported instead of created.
 */
import type { Clock } from '../core/clock.js';
import { PortcullisError } from '../core/errors.js';
import {
  EXT,
  KU,
  akiValue,
  aiaValue,
  bytesEqual,
  basicConstraintsValue,
  crlDistributionPointsValue,
  encodeName,
  encodeTbs,
  extension,
  keyIdentifier,
  keyUsageValue,
  nameConstraintsValue,
  randomSerial,
  signStructure,
  skiValue,
} from './certificate.js';
import { parseCertificate, toHex, type ParsedCertificate } from './parse.js';
import { fromPem, toPem } from './pem.js';
import { pkiUrls } from './profiles.js';
import { type CaSigner, type SignerKind, type SignerRegistry } from './signer.js';
import type { CaRecord, CertificateStore } from './store.js';
import { basicConstraintsOf, keyUsageOf } from './extensions.js';
import { verifySignature } from './verify-signature.js';

const YEAR = 365 * 86_400_000;
/** Certificates are back-dated this much to tolerate clock skew between nodes and clients. */
export const BACKDATE_MS = 60_000;

export interface CreateHierarchyOptions {
  store: CertificateStore;
  /** The signer kind that holds the new keys (e.g. `fileSignerKind(box)`). */
  signerKind: SignerKind;
  clock: Clock;
  /** Base URL of the identity plane; CRL/OCSP/CA URLs are derived from it. */
  urlBase: string;
  organization?: string;
  /** SPIFFE-style trust domain; when set the intermediate is name-constrained to it. */
  trustDomain?: string;
  /** DNS subtrees the intermediate may issue for (default: the trust domain). */
  permittedDns?: string[];
  /** IP ranges (CIDR) the intermediate may issue for (default: none constrained). */
  permittedIps?: string[];
  rootLifetimeMs?: number;
  intermediateLifetimeMs?: number;
  /** Do not store the root key: it is returned once (PKCS#8 PEM) to be kept offline. */
  rootKeyOffline?: boolean;
  /**
   * With `rootKeyOffline`: called with the root key (PKCS#8 PEM) before anything is
   * stored; when it throws, nothing is stored, so the key is never lost half-way.
   */
  saveRootKey?: (pem: string) => Promise<void> | void;
}

export interface Hierarchy {
  root: CaRecord;
  intermediate: CaRecord;
  /** Only when `rootKeyOffline`: the root private key, to be stored offline. Never log it. */
  rootKeyPem?: string;
}

async function caCertificate(a: {
  signer: CaSigner;
  issuerName: Uint8Array;
  issuerSpki: Uint8Array;
  subjectName: Uint8Array;
  spki: Uint8Array;
  notBefore: number;
  notAfter: number;
  pathLen: number;
  selfSigned: boolean;
  urls?: { crl?: string; caIssuers: string };
  nameConstraints?: Uint8Array;
}): Promise<Uint8Array> {
  const ext = [
    extension(EXT.basicConstraints, true, basicConstraintsValue(true, a.pathLen)),
    extension(EXT.keyUsage, true, keyUsageValue([KU.digitalSignature, KU.keyCertSign, KU.cRLSign])),
    extension(EXT.subjectKeyIdentifier, false, skiValue(keyIdentifier(a.spki))),
  ];
  if (!a.selfSigned) ext.push(extension(EXT.authorityKeyIdentifier, false, akiValue(keyIdentifier(a.issuerSpki))));
  if (a.urls) {
    if (a.urls.crl !== undefined) ext.push(extension(EXT.crlDistributionPoints, false, crlDistributionPointsValue([a.urls.crl])));
    ext.push(extension(EXT.authorityInfoAccess, false, aiaValue(undefined, a.urls.caIssuers)));
  }
  if (a.nameConstraints) ext.push(extension(EXT.nameConstraints, true, a.nameConstraints));
  const tbs = encodeTbs({
    serial: randomSerial(),
    signatureAlgorithm: a.signer.signatureAlgorithm,
    issuer: a.issuerName,
    notBefore: a.notBefore,
    notAfter: a.notAfter,
    subject: a.subjectName,
    spki: a.spki,
    extensions: ext,
  });
  return signStructure(tbs, a.signer);
}

/**
 * Creates a root and an issuing intermediate and stores both (the intermediate active).
 * @example const { root, intermediate } = await createHierarchy({ store, signerKind: fileSignerKind(box), clock, urlBase: 'https://id.example.org', trustDomain: 'example.org' });
 */
export async function createHierarchy(o: CreateHierarchyOptions): Promise<Hierarchy> {
  const now = o.clock.now();
  const org = o.organization ?? 'Portcullis';
  const rootId = `root-${now.toString(36)}-${toHex(randomSerial().subarray(0, 4))}`;
  const intId = `int-${now.toString(36)}-${toHex(randomSerial().subarray(0, 4))}`;
  const root = await o.signerKind.generate('P-384', rootId);
  const rootName = encodeName([['O', org], ['CN', `${org} Root CA`]]);
  const rootNotAfter = now + (o.rootLifetimeMs ?? 20 * YEAR);
  const rootDer = await caCertificate({
    signer: root.signer,
    issuerName: rootName,
    issuerSpki: root.signer.spki,
    subjectName: rootName,
    spki: root.signer.spki,
    notBefore: now - BACKDATE_MS,
    notAfter: rootNotAfter,
    pathLen: 1,
    selfSigned: true,
  });
  const inter = await o.signerKind.generate('P-256', intId);
  const urls = pkiUrls(o.urlBase, rootId);
  let nc: Uint8Array | undefined;
  if (o.trustDomain) {
    nc = nameConstraintsValue({ uri: [o.trustDomain], dns: o.permittedDns ?? [o.trustDomain], ip: o.permittedIps ?? [] });
  }
  const intDer = await caCertificate({
    signer: root.signer,
    issuerName: rootName,
    issuerSpki: root.signer.spki,
    subjectName: encodeName([['O', org], ['CN', `${org} Issuing CA`]]),
    spki: inter.signer.spki,
    notBefore: now - BACKDATE_MS,
    notAfter: Math.min(now + (o.intermediateLifetimeMs ?? 5 * YEAR), rootNotAfter),
    pathLen: 0,
    selfSigned: false,
    // The root's CRL is served while its key is online (authority.ts); an offline root
    // cannot keep one current, so its intermediate names no CRL distribution point
    // (RFC 5280 §4.2.1.13 makes it optional) rather than one that would go stale.
    urls: o.rootKeyOffline ? { caIssuers: urls.caIssuers } : { crl: urls.crl, caIssuers: urls.caIssuers },
    ...(nc ? { nameConstraints: nc } : {}),
  });
  const rootRec: CaRecord = { id: rootId, role: 'root', certDer: rootDer, signerKind: o.signerKind.kind, keyRef: o.rootKeyOffline ? null : root.keyRef, active: true, createdAt: now };
  const intRec: CaRecord = { id: intId, role: 'intermediate', certDer: intDer, signerKind: o.signerKind.kind, keyRef: inter.keyRef, active: true, createdAt: now };
  if (o.rootKeyOffline && o.saveRootKey) {
    try {
      await o.saveRootKey(toPem(root.pkcs8, 'PRIVATE KEY'));
    } catch (e) {
      root.pkcs8.fill(0);
      inter.pkcs8.fill(0);
      throw e;
    }
  }
  await o.store.insertCa(rootRec);
  await o.store.insertCa(intRec);
  await o.store.activateCa(rootId);
  await o.store.activateCa(intId);
  const out: Hierarchy = { root: rootRec, intermediate: intRec };
  if (o.rootKeyOffline) out.rootKeyPem = toPem(root.pkcs8, 'PRIVATE KEY');
  root.pkcs8.fill(0);
  inter.pkcs8.fill(0);
  return out;
}

export interface ImportCaOptions {
  store: CertificateStore;
  signerKind: SignerKind;
  clock: Clock;
  role: 'root' | 'intermediate';
  certPem: string;
  /** PKCS#8 PEM; optional for a root kept offline, required for an intermediate. */
  keyPem?: string;
}

/**
 * Checks that a certificate can act as a CA (cA=TRUE, keyCertSign, EC P-256/P-384, currently valid);
 * `signsCrls` (a CA whose key is kept here) also asks for cRLSign.
 */
function assertCaCertificate(c: ParsedCertificate, now: number, signsCrls: boolean): void {
  const bc = basicConstraintsOf(c);
  if (!bc?.ca) throw new PortcullisError('pki.ca-invalid', 'the certificate is not a CA (basicConstraints cA is not TRUE)');
  const ku = keyUsageOf(c);
  if (ku && !ku.has(KU.keyCertSign)) throw new PortcullisError('pki.ca-invalid', 'the CA certificate lacks keyUsage keyCertSign');
  // RFC 5280 §6.3.3 (f): a CRL is only valid when its issuer's keyUsage (if present) has cRLSign;
  // every CA whose key is here publishes one (crl.ts), which would otherwise fail every -crl_check
  if (signsCrls && ku && !ku.has(KU.cRLSign)) throw new PortcullisError('pki.ca-invalid', 'the CA certificate lacks keyUsage cRLSign: the CRLs it signs would be refused');
  if (now < c.notBefore || now > c.notAfter) throw new PortcullisError('pki.ca-invalid', 'the CA certificate is not currently valid');
}

/**
 * Imports an existing root or intermediate (an intermediate must chain to the active root) and activates it.
 * @example await importCa({ store, signerKind, clock, role: 'intermediate', certPem, keyPem });
 */
export async function importCa(o: ImportCaOptions): Promise<CaRecord> {
  const now = o.clock.now();
  let cert: ParsedCertificate;
  try {
    cert = parseCertificate(fromPem(o.certPem, 'CERTIFICATE'));
  } catch (e) {
    if (e instanceof PortcullisError) throw e;
    throw new PortcullisError('pki.ca-invalid', 'the CA certificate cannot be parsed');
  }
  assertCaCertificate(cert, now, o.role === 'intermediate' || o.keyPem !== undefined);
  const id = `${o.role === 'root' ? 'root' : 'int'}-${now.toString(36)}-${cert.serial.slice(0, 8)}`;
  if (o.role === 'root') {
    if (!bytesEqual(cert.issuer, cert.subject) || !verifySignature(cert.spki, cert.signatureOid, cert.tbs, cert.signature)) {
      throw new PortcullisError('pki.ca-invalid', 'a root must be self-signed');
    }
  } else {
    const root = await activeCa(o.store, 'root');
    const rc = parseCertificate(root.certDer);
    if (!bytesEqual(cert.issuer, rc.subject) || !verifySignature(rc.spki, cert.signatureOid, cert.tbs, cert.signature)) {
      throw new PortcullisError('pki.ca-invalid', 'the intermediate is not signed by the active root');
    }
    if (!o.keyPem) throw new PortcullisError('pki.ca-invalid', 'an issuing intermediate needs its private key');
  }
  let keyRef: string | null = null;
  if (o.keyPem) {
    const imported = await o.signerKind.importPkcs8(fromPem(o.keyPem, 'PRIVATE KEY'), id);
    if (!bytesEqual(imported.signer.spki, cert.spki)) throw new PortcullisError('pki.ca-invalid', 'the private key does not match the certificate');
    keyRef = imported.keyRef;
  }
  const rec: CaRecord = { id, role: o.role, certDer: cert.der, signerKind: o.signerKind.kind, keyRef, active: true, createdAt: now };
  await o.store.insertCa(rec);
  await o.store.activateCa(id);
  return rec;
}

/** The active CA of a role. */
export async function activeCa(store: CertificateStore, role: 'root' | 'intermediate'): Promise<CaRecord> {
  const ca = (await store.listCas()).find((c) => c.role === role && c.active);
  if (!ca) throw new PortcullisError('pki.ca-not-found', `no active ${role} CA; run portcullis init`);
  return ca;
}

/** Loads the signer of a CA record (fails when its key is offline). */
export async function loadSigner(ca: CaRecord, signers: SignerRegistry): Promise<CaSigner> {
  if (!ca.keyRef) throw new PortcullisError('pki.ca-not-found', `the key of CA ${ca.id} is offline`);
  const s = await signers.get(ca.signerKind).load(ca.keyRef, ca.id);
  if (!bytesEqual(s.spki, parseCertificate(ca.certDer).spki)) throw new PortcullisError('pki.ca-invalid', `the key of CA ${ca.id} does not match its certificate`);
  return s;
}
