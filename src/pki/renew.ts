/**
 * Renewal authenticated by the current certificate: the caller presents the
 * certificate (verified to the CA's root, unexpired, unrevoked — e.g. the mTLS peer
 * certificate whose key the TLS handshake proved) and gets a new certificate for
 * the same profile and names, with a new key (CSR or generated), from the active
 * intermediate (also for a certificate of a previous, rotated one under the same
 * root). It lives no longer than the certificate it renews was granted (nor than the
 * profile's configured lifetime): the lifetime an admin chose at issuance binds every
 * renewal, as step-ca renews for the old certificate's duration. The new certificate
 * records the one it renewed (`renewedFrom`), so that revoking a certificate for
 * keyCompromise also revokes every certificate renewed from it (authority.ts).
 *
 * A certificate has one successor: the authority revokes the certificate it renewed
 * (`superseded`) before the new one is handed out (authority.ts), and a certificate
 * with an active successor is refused `pki.already-renewed`. A client that lost the
 * answer retries with the old certificate and the same CSR: the key of the new
 * certificate is the proof it asked for it, and it gets the successor back (`replayed`),
 * nothing new is issued. `minIntervalMs` (self-renewal) holds a certificate to one
 * renewal per interval of its life, so a loop cannot grow the CRL without bound.
 */
import { PortcullisError } from '../core/errors.js';
import { EKU } from './certificate.js';
import { BACKDATE_MS } from './hierarchy.js';
import { issueCertificate, type IssueContext, type IssuedCertificate } from './issue.js';
import { storeRevocationLookup } from './revocation-lookup.js';
import { verifyCertificateChain } from './verify-chain.js';
import { ipToText } from './renew-names.js';
import { subjectAltNamesOf } from './extensions.js';
import { equalBytes, parseCertificate } from './parse.js';
import { parseCsr } from './csr.js';
import { toPem } from './pem.js';
import { DEFAULT_PROFILES, type ProfileName } from './profiles.js';
import type { CertificateRecord } from './store.js';

export interface RenewRequest {
  /** The current certificate, DER (as proven by the TLS handshake). */
  current: Uint8Array;
  /** Refuses the renewal (throws) for the record of the current certificate, e.g. when its app is disabled. */
  admit?: (current: CertificateRecord) => void;
  csrPem?: string;
  pkcs12Password?: string;
  /**
   * Refuses (`pki.renewal-too-early`) a certificate that has lived less than this (or half
   * its lifetime, if shorter) since it was issued: self-renewal's rate limit.
   */
  minIntervalMs?: number;
}

/** A renewal's answer: `previous` is the serial renewed; `replayed` when a retry got the successor issued before. */
export type RenewedCertificate = IssuedCertificate & { previous: string; replayed?: true };

/**
 * @example const next = await renewCertificate(ctx, { current: peerCertDer, csrPem });
 */
export async function renewCertificate(ctx: IssueContext, req: RenewRequest): Promise<RenewedCertificate> {
  const rec = await ctx.store.getCertificate(parseSerial(req.current));
  // issued by the active intermediate, or by a previous one (rotated) under the same root
  const issuer = !rec ? undefined : rec.issuerId === ctx.ca.record.id ? ctx.ca.record : await ctx.store.getCa(rec.issuerId);
  if (!rec || issuer?.role !== 'intermediate') throw new PortcullisError('pki.renewal-denied', 'the presented certificate was not issued by this CA');
  const children = await ctx.store.listCertificates({ renewedFrom: rec.serial });
  // superseded by its renewal: current but for that revocation, it is answered as renewed
  const superseded = rec.status === 'revoked' && rec.reason === 'superseded' && children.length > 0;
  const lookup = storeRevocationLookup(ctx.store);
  try {
    await verifyCertificateChain(req.current, {
      anchors: [ctx.ca.root.der],
      intermediates: [issuer.certDer],
      at: ctx.clock.now(),
      eku: rec.profile === 'client' ? EKU.clientAuth : EKU.serverAuth,
      revocation: superseded ? (cert, iss) => (cert.serial === rec.serial ? 'good' : lookup(cert, iss)) : lookup,
    });
  } catch (e) {
    throw new PortcullisError('pki.renewal-denied', 'the presented certificate is not current (expired, revoked or not from this CA)', { cause: e });
  }
  req.admit?.(rec);
  const successor = children.find((c) => c.status === 'active' && c.notAfter > ctx.clock.now());
  if (superseded || successor !== undefined) {
    // only once the old certificate is superseded: a successor beside an active one is a renewal in flight (or one undone)
    const replay = superseded && successor !== undefined && req.csrPem !== undefined && successor.issuerId === ctx.ca.record.id ? successor : undefined;
    if (replay && equalBytes(parseCsr(req.csrPem!).spki, parseCertificate(replay.der).spki)) {
      const certPem = toPem(replay.der, 'CERTIFICATE');
      return { serial: replay.serial, der: replay.der, certPem, chainPem: certPem + ctx.ca.chainPem, notBefore: replay.notBefore, notAfter: replay.notAfter, previous: rec.serial, replayed: true };
    }
    const last = successor ?? children[children.length - 1]!;
    throw new PortcullisError('pki.already-renewed', `the presented certificate was already renewed (successor ${last.serial}); a certificate renews once`, { details: { successor: last.serial } });
  }
  if (req.minIntervalMs !== undefined) {
    // issued at notBefore + BACKDATE_MS; a certificate shorter-lived than the interval renews after half its life
    const issuedAt = rec.notBefore + BACKDATE_MS;
    const wait = issuedAt + Math.min(req.minIntervalMs, Math.floor((rec.notAfter - issuedAt) / 2)) - ctx.clock.now();
    if (wait > 0) throw new PortcullisError('pki.renewal-too-early', `the presented certificate may renew in ${Math.ceil(wait / 1000)} s`, { details: { retryAfterMs: wait } });
  }
  const sans = subjectAltNamesOf(parseCertificate(req.current)) ?? [];
  const base = { renewedFrom: rec.serial, lifetimeMs: renewalLifetime(ctx, rec, parseCertificate(issuer.certDer).notAfter), ...(req.csrPem !== undefined ? { csrPem: req.csrPem } : {}), ...(req.pkcs12Password !== undefined ? { pkcs12Password: req.pkcs12Password } : {}) };
  let next: IssuedCertificate;
  if (rec.profile === 'client') {
    if (!rec.owner) throw new PortcullisError('pki.renewal-denied', 'the client certificate has no owner');
    next = await issueCertificate(ctx, { profile: 'client', clientId: rec.owner, ...base });
  } else {
    const dnsNames = sans.flatMap((n) => (n.type === 'dns' ? [n.value] : []));
    const ipAddresses = sans.flatMap((n) => (n.type === 'ip' ? [ipToText(n.value)] : []));
    next = await issueCertificate(ctx, { profile: 'server', dnsNames, ipAddresses, ...base });
  }
  // Revoked while this renewal ran: its lineage scan may have run before the new
  // certificate was stored, so it is revoked here, with the same reason, and never handed out.
  const after = await ctx.store.getCertificate(rec.serial);
  if (after?.status !== 'active') {
    await ctx.store.revokeCertificate(next.serial, Math.floor(ctx.clock.now() / 1000) * 1000, after?.reason ?? 'unspecified');
    throw new PortcullisError('pki.renewal-denied', 'the presented certificate was revoked during the renewal');
  }
  return { ...next, previous: rec.serial };
}

/**
 * The lifetime of a renewal of `rec`: what it was granted at issuance (its validity less
 * the back-dating), at most the profile's configured lifetime. A certificate cut short at
 * its issuer's notAfter does not show what it was granted: its renewal gets the configured
 * lifetime (the issuer was about to expire, so the cut was not the admin's choice).
 */
function renewalLifetime(ctx: IssueContext, rec: CertificateRecord, issuerNotAfter: number): number {
  const configured = (ctx.profiles?.[rec.profile as ProfileName] ?? DEFAULT_PROFILES[rec.profile as ProfileName])?.defaultLifetimeMs;
  if (configured === undefined) throw new PortcullisError('pki.renewal-denied', `the certificate has an unknown profile ${JSON.stringify(rec.profile)}`);
  if (rec.notAfter >= issuerNotAfter) return configured;
  return Math.min(configured, Math.max(1000, rec.notAfter - rec.notBefore - BACKDATE_MS));
}

function parseSerial(der: Uint8Array): string {
  try {
    return parseCertificate(der).serial;
  } catch {
    throw new PortcullisError('pki.renewal-denied', 'the presented certificate cannot be parsed');
  }
}
