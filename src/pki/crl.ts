/**
 * Certificate revocation lists (RFC 5280 §5): v2 CRLs with CRL number and AKI,
 * one per issuing CA, regenerated on revoke and before they go stale. One CRL per CA is
 * published in the store and served by every node of a cluster, so the CRL number only
 * goes up whichever node a client asks, and across restarts. Served as DER and PEM
 * (label `X509 CRL`, which OpenSSL expects).
 */
import { AlgorithmIdentifier, CRLNumber, CertificateList, CRLReason, Name, RevokedCertificate, TBSCertList, Time, Version } from '@peculiar/asn1-x509';
import { createHash } from 'node:crypto';
import type { Clock } from '../core/clock.js';
import { PortcullisError } from '../core/errors.js';
import { EXT, akiValue, bufferOf, extensionOf, keyIdentifier, preEncoded, serialize } from './certificate.js';
import { toPem } from './pem.js';
import type { CaSigner } from './signer.js';
import { REVOCATION_REASONS, type CertificateRecord, type CertificateStore, type PublishedCrl } from './store.js';

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

/** The revoked certificates a CRL built at `now` lists, by serial. */
function crlEntries(revoked: CertificateRecord[], now: number, validityMs: number): CertificateRecord[] {
  // RFC 5280 §3.3: "An entry MUST NOT be removed from the CRL until it appears on one regularly
  // scheduled CRL issued beyond the revoked certificate's validity period": kept for one CRL validity past notAfter.
  return revoked.filter((r) => r.notAfter + validityMs >= now).sort((a, b) => a.serial.localeCompare(b.serial));
}

/** What a CRL's entries say (serial, date, reason), as a digest: equal digests, equal lists. */
function entriesDigest(entries: CertificateRecord[]): string {
  return createHash('sha256')
    .update(JSON.stringify(entries.map((r) => [r.serial, r.revokedAt, r.reason])))
    .digest('base64url');
}

/** Signs a CRL numbered `number` issued at `now` listing `entries` (from `crlEntries`). */
async function signCrl(ca: CrlSigningCa, number: bigint, now: number, validityMs: number, entries: CertificateRecord[]): Promise<Crl> {
  const nextUpdate = now + validityMs;
  const revoked = entries.map(
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
      ...(revoked.length ? { revokedCertificates: revoked } : {}),
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

/** Whether a CRL is past half of its validity: time a new one was issued, so a client never holds one past nextUpdate. */
function due(crl: { thisUpdate: number; nextUpdate: number }, now: number): boolean {
  return now >= crl.thisUpdate + (crl.nextUpdate - crl.thisUpdate) / 2;
}

/**
 * Builds and signs a fresh CRL for `ca` with the next CRL number, for this caller alone (a
 * one-off CRL: nodes serve the published one, `publishCrl`).
 * @example const crl = await buildCrl(store, clock, ca, 86_400_000);
 */
export async function buildCrl(store: CertificateStore, clock: Clock, ca: CrlSigningCa, validityMs: number): Promise<Crl> {
  const now = Math.floor(clock.now() / 1000) * 1000;
  // One snapshot: a CRL with a higher number is never built from an older read of the
  // revocations than a lower-numbered one (RFC 5280 §5.2.3: the number shows supersession).
  const snapshot = await store.crlSnapshot(ca.id);
  return signCrl(ca, snapshot.number, now, validityMs, crlEntries(snapshot.revoked, now, validityMs));
}

/** How many times a CRL is built and signed before giving up, each try having found the store changed since its read. */
const PUBLISH_TRIES = 5;

/**
 * The CRL of `ca` every node serves (RFC 5280 §5.2.3: one number sequence per issuer): the
 * published one while it lists what a CRL built now would list and is not past half of its
 * validity; otherwise a new one, numbered above every CRL published before, is signed and
 * published. It is built and signed holding no store lock (a long list or a slow signer
 * delays no other write) and published only if no CRL number was taken and no certificate
 * revoked meanwhile; else it is built again from a new read. Of two nodes asking at once,
 * one publishes and the other, reading again, gets that CRL: the same number and bytes.
 * Throws `pki.crl-contended` when every try found the store changed.
 * @example const crl = await publishCrl(store, clock, ca, 86_400_000);
 */
export async function publishCrl(store: CertificateStore, clock: Clock, ca: CrlSigningCa, validityMs: number): Promise<Crl> {
  for (let i = 0; i < PUBLISH_TRIES; i++) {
    const read = await store.readCrlPublication(ca.id);
    const now = Math.floor(clock.now() / 1000) * 1000;
    const entries = crlEntries(read.revoked, now, validityMs);
    const digest = entriesDigest(entries);
    const p = read.published;
    if (p && p.entriesDigest === digest && !due(p, now)) return served(p);
    const fresh = await signCrl(ca, read.next, now, validityMs, entries);
    if (await store.publishCrlIfUnchanged(ca.id, read, { ...fresh, entriesDigest: digest })) return fresh;
  }
  throw new PortcullisError('pki.crl-contended', `no CRL of CA ${ca.id} could be published: the CA's revocations or CRL number changed while each of ${PUBLISH_TRIES} CRLs was signed`);
}

function served(p: PublishedCrl): Crl {
  return { der: p.der, pem: toPem(p.der, 'X509 CRL'), number: p.number, thisUpdate: p.thisUpdate, nextUpdate: p.nextUpdate };
}

/**
 * Keeps the current CRL of one CA in memory (no store access per request): the published
 * one (`publishCrl`), read again after a revocation (this node's or another's, told by the
 * `cert.revoked` event) and once half of its validity has passed, so a client never holds
 * one past nextUpdate.
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

  /** The CRL to serve; read again when the one in hand is past half of its validity. */
  async get(): Promise<Crl> {
    const c = this.current;
    if (c && !due(c, this.clock.now())) return c;
    return this.regenerate();
  }

  /**
   * Brings the CRL in hand up to date with the store now (after a revocation): the published
   * one, or a new one published when that one lacks a revocation or is due. Calls are
   * serialised so the newest one sees every stored revocation. A failure leaves no CRL in
   * hand, so `get()` retries.
   */
  async regenerate(): Promise<Crl> {
    const build = (this.pending ?? Promise.resolve())
      .catch(() => undefined)
      .then(() => publishCrl(this.store, this.clock, this.ca, this.validityMs))
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
