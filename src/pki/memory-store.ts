/** In-memory CertificateStore, for tests and single-process trials. */
import { PortcullisError } from '../core/errors.js';
import type { CaRecord, CertificateFilter, CertificateRecord, CertificateStore, CrlPublication, PublishedCrl, RevocationReason } from './store.js';

export class MemoryCertificateStore implements CertificateStore {
  private readonly certs = new Map<string, CertificateRecord>();
  private readonly cas = new Map<string, CaRecord>();
  private readonly crlNumbers = new Map<string, bigint>();
  private readonly publishedCrls = new Map<string, PublishedCrl>();

  async insertCertificate(rec: CertificateRecord): Promise<void> {
    if (this.certs.has(rec.serial)) throw new PortcullisError('conflict', `a certificate with serial ${rec.serial} exists`);
    this.certs.set(rec.serial, { ...rec });
  }

  async getCertificate(serial: string): Promise<CertificateRecord | undefined> {
    const r = this.certs.get(serial);
    return r && { ...r };
  }

  /** Ordered by notBefore, then serial (as the durable adapters), so `limit` keeps the oldest. */
  async listCertificates(f: CertificateFilter = {}): Promise<CertificateRecord[]> {
    if (f.limit !== undefined && !(Number.isSafeInteger(f.limit) && f.limit >= 0)) throw new PortcullisError('request.invalid', 'limit must be a non-negative integer');
    const out = [...this.certs.values()].filter(
      (r) =>
        (f.owner === undefined || r.owner === f.owner) &&
        (f.status === undefined || r.status === f.status) &&
        (f.issuerId === undefined || r.issuerId === f.issuerId) &&
        (f.expiringBefore === undefined || r.notAfter < f.expiringBefore) &&
        (f.renewedFrom === undefined || r.renewedFrom === f.renewedFrom) &&
        (f.after === undefined || r.notBefore > f.after.notBefore || (r.notBefore === f.after.notBefore && r.serial > f.after.serial)),
    );
    out.sort((a, b) => a.notBefore - b.notBefore || (a.serial < b.serial ? -1 : a.serial > b.serial ? 1 : 0));
    return out.slice(0, f.limit).map((r) => ({ ...r }));
  }

  async revokeCertificate(serial: string, at: number, reason: RevocationReason): Promise<CertificateRecord | undefined> {
    const r = this.certs.get(serial);
    if (!r || r.status !== 'active') return undefined;
    r.status = 'revoked';
    r.revokedAt = at;
    r.reason = reason;
    return { ...r };
  }

  async listRevoked(issuerId: string): Promise<CertificateRecord[]> {
    return this.revokedOf(issuerId);
  }

  private revokedOf(issuerId: string): CertificateRecord[] {
    return [...this.certs.values()].filter((r) => r.issuerId === issuerId && r.status === 'revoked').map((r) => ({ ...r }));
  }

  async nextCrlNumber(issuerId: string): Promise<bigint> {
    const n = (this.crlNumbers.get(issuerId) ?? 0n) + 1n;
    this.crlNumbers.set(issuerId, n);
    return n;
  }

  async crlSnapshot(issuerId: string): Promise<{ number: bigint; revoked: CertificateRecord[] }> {
    const number = (this.crlNumbers.get(issuerId) ?? 0n) + 1n;
    this.crlNumbers.set(issuerId, number);
    return { number, revoked: this.revokedOf(issuerId) };
  }

  /** The number the next CRL of a CA takes: above the counter and the published CRL. */
  private nextCrl(issuerId: string): bigint {
    const published = this.publishedCrls.get(issuerId);
    const last = this.crlNumbers.get(issuerId) ?? 0n;
    return (published && published.number > last ? published.number : last) + 1n;
  }

  async readCrlPublication(issuerId: string): Promise<CrlPublication> {
    const published = this.publishedCrls.get(issuerId);
    return { published: published && { ...published }, next: this.nextCrl(issuerId), revoked: this.revokedOf(issuerId) };
  }

  async publishCrlIfUnchanged(issuerId: string, read: CrlPublication, crl: PublishedCrl): Promise<boolean> {
    if (crl.number !== read.next) throw new PortcullisError('internal', `a CRL must be published with number ${read.next}, not ${crl.number}`);
    // no await from the check to the write: of concurrent calls with one read, one publishes
    if (this.nextCrl(issuerId) !== read.next || this.revokedOf(issuerId).length !== read.revoked.length) return false;
    this.crlNumbers.set(issuerId, crl.number);
    this.publishedCrls.set(issuerId, { ...crl });
    return true;
  }

  async insertCa(rec: CaRecord): Promise<void> {
    if (this.cas.has(rec.id)) throw new PortcullisError('conflict', `a CA with id ${rec.id} exists`);
    this.cas.set(rec.id, { ...rec });
  }

  async getCa(id: string): Promise<CaRecord | undefined> {
    const r = this.cas.get(id);
    return r && { ...r };
  }

  /** Ordered by createdAt, then id. */
  async listCas(): Promise<CaRecord[]> {
    return [...this.cas.values()].sort((a, b) => a.createdAt - b.createdAt || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0)).map((r) => ({ ...r }));
  }

  async activateCa(id: string): Promise<void> {
    const target = this.cas.get(id);
    if (!target) throw new PortcullisError('pki.ca-not-found', `no CA with id ${id}`);
    for (const r of this.cas.values()) if (r.role === target.role) r.active = r.id === id;
  }

  async setCaKeyRef(id: string, keyRef: string | null): Promise<void> {
    const r = this.cas.get(id);
    if (!r) throw new PortcullisError('pki.ca-not-found', `no CA with id ${id}`);
    r.keyRef = keyRef;
  }
}
