/**
 * Certificate revocation lists (RFC 5280 §5): v2 CRLs with CRL number and AKI,
 * one per issuing CA, regenerated on revoke and before they go stale. Served as
 * DER and PEM (label `X509 CRL`, which OpenSSL expects).
 */
import { AlgorithmIdentifier, CRLNumber, CertificateList, CRLReason, Name, RevokedCertificate, TBSCertList, Time, Version } from '@peculiar/asn1-x509';
import type { Clock } from '../core/clock.js';
import { EXT, akiValue, bufferOf, extensionOf, keyIdentifier, preEncoded, serialize } from './certificate.js';
import { toPem } from './pem.js';
import type { CaSigner } from './signer.js';
import { REVOCATION_REASONS, type CertificateStore } from './store.js';

export interface CrlSigningCa {
  id: string;
  /** Subject of the CA certificate (DER), the CRL issuer. */
  subject: Uint8Array;
  spki: Uint8Array;
  signer: CaSigner;
}

export interface Crl {
  der: Uint8Array;
  pem: string;
  number: bigint;
  thisUpdate: number;
  nextUpdate: number;
}

/**
 * Builds and signs a fresh CRL for `ca` with the next CRL number.
 * @example const crl = await buildCrl(store, clock, ca, 86_400_000);
 */
export async function buildCrl(store: CertificateStore, clock: Clock, ca: CrlSigningCa, validityMs: number): Promise<Crl> {
  const now = Math.floor(clock.now() / 1000) * 1000;
  const nextUpdate = now + validityMs;
  // One snapshot: a CRL with a higher number is never built from an older read of the
  // revocations than a lower-numbered one (RFC 5280 §5.2.3: the number shows supersession).
  const snapshot = await store.crlSnapshot(ca.id);
  const number = snapshot.number;
  // RFC 5280 §3.3: "An entry MUST NOT be removed from the CRL until it appears on one regularly
  // scheduled CRL issued beyond the revoked certificate's validity period": kept for one CRL validity past notAfter.
  const revoked = snapshot.revoked.filter((r) => r.notAfter + validityMs >= now).sort((a, b) => a.serial.localeCompare(b.serial));
  const entries = revoked.map(
    (r) =>
      new RevokedCertificate({
        // The inventory keeps a serial as the hex of its INTEGER content octets.
        userCertificate: bufferOf(new Uint8Array(Buffer.from(r.serial, 'hex'))),
        revocationDate: new Time(r.revokedAt ?? now),
        // RFC 5280 §5.3.1: the reason code unspecified SHOULD be absent.
        ...(r.reason && r.reason !== 'unspecified'
          ? { crlEntryExtensions: [extensionOf(EXT.reasonCode, false, serialize(new CRLReason(REVOCATION_REASONS[r.reason])))] }
          : {}),
      }),
  );
  const tbs = serialize(
    new TBSCertList({
      version: Version.v2,
      signature: preEncoded<AlgorithmIdentifier>(ca.signer.signatureAlgorithm),
      issuer: preEncoded<Name>(ca.subject),
      thisUpdate: new Time(now),
      nextUpdate: new Time(nextUpdate),
      ...(entries.length ? { revokedCertificates: entries } : {}),
      crlExtensions: [
        extensionOf(EXT.authorityKeyIdentifier, false, akiValue(keyIdentifier(ca.spki))),
        extensionOf(EXT.crlNumber, false, serialize(new CRLNumber(Number(number)))),
      ],
    }),
  );
  const der = serialize(
    new CertificateList({
      tbsCertList: preEncoded<TBSCertList>(tbs),
      signatureAlgorithm: preEncoded<AlgorithmIdentifier>(ca.signer.signatureAlgorithm),
      signature: bufferOf(await ca.signer.sign(tbs)),
    }),
  );
  return { der, pem: toPem(der, 'X509 CRL'), number, thisUpdate: now, nextUpdate };
}

/**
 * Keeps the current CRL of one CA: regenerates it after a revocation and once half
 * of its validity has passed, so a client never holds one past nextUpdate.
 */
export class CrlPublisher {
  private current: Crl | null = null;
  private pending: Promise<Crl> | null = null;
  constructor(
    private readonly store: CertificateStore,
    private readonly clock: Clock,
    private readonly ca: CrlSigningCa,
    readonly validityMs = 24 * 3_600_000,
  ) {}

  /** Whether a CRL is in hand or being built (one a later revocation must replace). */
  get built(): boolean {
    return this.current !== null || this.pending !== null;
  }

  /** The CRL to serve; fresh when the previous one is past half of its validity. */
  async get(): Promise<Crl> {
    const c = this.current;
    if (c && this.clock.now() < c.thisUpdate + this.validityMs / 2) return c;
    return this.regenerate();
  }

  /**
   * Builds a new CRL now (after a revocation); builds are serialised so the newest one
   * sees every stored revocation. A failed build leaves no CRL in hand, so `get()` retries.
   */
  async regenerate(): Promise<Crl> {
    const build = (this.pending ?? Promise.resolve())
      .catch(() => undefined)
      .then(() => buildCrl(this.store, this.clock, this.ca, this.validityMs))
      .then(
        (crl) => (this.current = crl),
        (e: unknown) => {
          // the CRL in hand may lack what this build was for (a revocation): the next get() builds anew
          this.current = null;
          throw e;
        },
      );
    this.pending = build;
    void build.finally(() => {
      if (this.pending === build) this.pending = null;
    }).catch(() => undefined);
    return build;
  }
}
