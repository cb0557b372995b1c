/**
 * Issuance of server and client certificates (RFC 5280 §4.2) from a CSR or with a
 * generated key. Names come from the authorised request, never from the CSR: the
 * CSR only carries the key and proves possession of it.
 */
import type { Clock } from '../core/clock.js';
import { PortcullisError } from '../core/errors.js';
import {
  EXT,
  KU,
  basicConstraintsValue,
  encodeName,
  encodeTbs,
  ekuValue,
  extension,
  extensionOf,
  ipBytes,
  keyIdentifier,
  keyUsageValue,
  randomSerial,
  sanValue,
  signStructure,
  skiValue,
  type GeneralName,
} from './certificate.js';
import { parseCsr } from './csr.js';
import type { ParsedGeneralName } from './extensions.js';
import { BACKDATE_MS } from './hierarchy.js';
import { generateLeafKey } from './leaf-key.js';
import type { IssuingCa } from './issuing-ca.js';
import { satisfiesNameConstraints } from './name-constraints.js';
import { toHex } from './parse.js';
import { toPem } from './pem.js';
import { toPkcs12 } from './pkcs12.js';
import { DEFAULT_PROFILES, assertDnsName, assertIpAddress, spiffeId, type Profile, type ProfileName } from './profiles.js';
import type { CertificateStore } from './store.js';

export interface IssueContext {
  store: CertificateStore;
  clock: Clock;
  ca: IssuingCa;
  /** Trust domain of client certificate URI SANs (`spiffe://<trustDomain>/app/<client_id>`). */
  trustDomain?: string;
  profiles?: Partial<Record<ProfileName, Profile>>;
}

export interface IssueRequest {
  profile: ProfileName;
  /** Server profile: DNS SANs. */
  dnsNames?: string[];
  /** Server profile: IP SANs. */
  ipAddresses?: string[];
  /** Client profile: the app the certificate is bound to. */
  clientId?: string;
  /** PKCS#10 PEM; without it a P-256 key is generated and returned. */
  csrPem?: string;
  lifetimeMs?: number;
  /** With a generated key: also return a PKCS#12 bundle protected by this password. */
  pkcs12Password?: string;
  /** Set by renewal only: the serial of the certificate this one replaces (its lineage). */
  renewedFrom?: string;
}

export interface IssuedCertificate {
  serial: string;
  der: Uint8Array;
  certPem: string;
  /** Leaf, intermediate, root. */
  chainPem: string;
  notBefore: number;
  notAfter: number;
  /** Only for a generated key. Never log it. */
  privateKeyPem?: string;
  /** Only for a generated key with `pkcs12Password`. */
  pkcs12?: Uint8Array;
}

const profileConstants = new WeakMap<IssuingCa, Map<string, Uint8Array[]>>();

function constantExtensions(ca: IssuingCa, p: Profile): Uint8Array[] {
  let m = profileConstants.get(ca);
  if (!m) profileConstants.set(ca, (m = new Map()));
  const key = p.eku.join(',');
  let ext = m.get(key);
  if (!ext) {
    ext = [
      extension(EXT.basicConstraints, true, basicConstraintsValue(false)),
      extension(EXT.keyUsage, true, keyUsageValue([KU.digitalSignature])),
      extension(EXT.extKeyUsage, false, ekuValue(p.eku)),
      ca.template.aki,
      ca.template.crlDp,
      ca.template.aia,
    ];
    m.set(key, ext);
  }
  return ext;
}

/** The SANs of a request, validated against the profile. */
function namesFor(ctx: IssueContext, req: IssueRequest): { names: GeneralName[]; cn: string; owner: string | null } {
  if (req.profile === 'client') {
    if (!ctx.trustDomain) throw new PortcullisError('pki.name-not-permitted', 'client certificates need a configured trust domain');
    if (!req.clientId) throw new PortcullisError('request.invalid', 'a client certificate needs clientId');
    if (req.dnsNames?.length || req.ipAddresses?.length) throw new PortcullisError('pki.name-not-permitted', 'client certificates carry only the app URI SAN');
    return { names: [{ uri: spiffeId(ctx.trustDomain, req.clientId) }], cn: req.clientId, owner: req.clientId };
  }
  if (req.clientId) throw new PortcullisError('pki.name-not-permitted', 'server certificates are not bound to an app');
  const dns = (req.dnsNames ?? []).map((d) => d.toLowerCase());
  const ips = req.ipAddresses ?? [];
  dns.forEach(assertDnsName);
  ips.forEach(assertIpAddress);
  if (dns.length + ips.length === 0) throw new PortcullisError('request.invalid', 'a server certificate needs at least one DNS name or IP address');
  if (dns.length + ips.length > 100) throw new PortcullisError('request.invalid', 'at most 100 names per certificate');
  return { names: [...dns.map((d) => ({ dns: d })), ...ips.map((ip) => ({ ip }))], cn: dns[0] ?? ips[0]!, owner: null };
}

function toParsed(n: GeneralName): ParsedGeneralName {
  if ('dns' in n) return { type: 'dns', value: n.dns };
  if ('ip' in n) return { type: 'ip', value: ipBytes(n.ip) };
  return { type: 'uri', value: n.uri };
}

/**
 * Issues a certificate and records it in the inventory.
 * @example const cert = await issueCertificate(ctx, { profile: 'server', dnsNames: ['api.example.org'] });
 */
export async function issueCertificate(ctx: IssueContext, req: IssueRequest): Promise<IssuedCertificate> {
  const profile = ctx.profiles?.[req.profile] ?? DEFAULT_PROFILES[req.profile];
  if (!profile) throw new PortcullisError('request.invalid', `unknown profile ${JSON.stringify(req.profile)}`);
  const { names, cn, owner } = namesFor(ctx, req);
  const ca = ctx.ca;
  if (ca.nameConstraints && !satisfiesNameConstraints(names.map(toParsed), ca.nameConstraints)) {
    throw new PortcullisError('pki.name-not-permitted', 'a requested name is outside the name constraints of the issuing CA');
  }
  const lifetime = req.lifetimeMs ?? profile.defaultLifetimeMs;
  if (!(lifetime > 0) || lifetime > profile.maxLifetimeMs) {
    throw new PortcullisError('request.invalid', `lifetime must be positive and at most ${profile.maxLifetimeMs / 1000}s for the ${profile.name} profile`);
  }
  const now = ctx.clock.now();
  // Back-dated for clock skew, never to before the issuer's own validity; a certificate never outlives its issuer.
  const notBefore = Math.max(Math.floor((now - BACKDATE_MS) / 1000) * 1000, ca.cert.notBefore);
  const notAfter = Math.min(Math.floor((now + lifetime) / 1000) * 1000, ca.cert.notAfter);
  if (notAfter <= now) throw new PortcullisError('pki.ca-not-found', 'the issuing CA has expired');

  let spki: Uint8Array;
  let keyId: Uint8Array;
  let privateKeyPem: string | undefined;
  if (req.csrPem !== undefined) {
    spki = parseCsr(req.csrPem).spki;
    keyId = keyIdentifier(spki);
  } else {
    ({ spki, keyId, privateKeyPem } = generateLeafKey());
  }

  const serial = randomSerial();
  // Subject CN is at most 64 characters (X.520 ub-common-name); longer names live only in the SAN.
  const subject = cn.length <= 64 ? encodeName([['CN', cn]]) : encodeName([]);
  const extensions = [
    ...constantExtensions(ca, profile),
    extensionOf(EXT.subjectKeyIdentifier, false, skiValue(keyId)),
    // RFC 5280 §4.2.1.6: with an empty subject the SAN MUST be critical.
    extensionOf(EXT.subjectAltName, cn.length > 64, sanValue(names)),
  ];
  const tbs = encodeTbs({ serial, signatureAlgorithm: ca.signer.signatureAlgorithm, issuer: ca.cert.subject, notBefore, notAfter, subject, spki, extensions });
  const der = await signStructure(tbs, ca.signer);
  const serialHex = toHex(serial);
  await ctx.store.insertCertificate({
    serial: serialHex,
    issuerId: ca.record.id,
    subject: cn.length <= 64 ? `CN=${cn}` : '',
    owner,
    profile: profile.name,
    notBefore,
    notAfter,
    status: 'active',
    revokedAt: null,
    reason: null,
    der,
    ...(req.renewedFrom !== undefined ? { renewedFrom: req.renewedFrom } : {}),
  });
  const certPem = toPem(der, 'CERTIFICATE');
  const out: IssuedCertificate = { serial: serialHex, der, certPem, chainPem: certPem + ca.chainPem, notBefore, notAfter };
  if (privateKeyPem) {
    out.privateKeyPem = privateKeyPem;
    if (req.pkcs12Password !== undefined) out.pkcs12 = await toPkcs12({ certPem, chainPem: ca.chainPem, privateKeyPem, password: req.pkcs12Password, friendlyName: cn });
  }
  return out;
}
