/** In-memory CertificateStore, for tests and single-process trials. */
import type { CaRecord, CertificateFilter, CertificateRecord, CertificateStore, RevocationReason } from './store.js';

export class MemoryCertificateStore implements CertificateStore {
  private readonly certs = new Map<string, CertificateRecord>();
  private readonly cas = new Map<string, CaRecord>();
  private readonly crlNumbers = new Map<string, bigint>();

  async insertCertificate(rec: CertificateRecord): Promise<void> {
    if (this.certs.has(rec.serial)) throw new Error(`duplicate serial ${rec.serial}`);
    this.certs.set(rec.serial, { ...rec });
  }

  async getCertificate(serial: string): Promise<CertificateRecord | undefined> {
    const r = this.certs.get(serial);
    return r && { ...r };
  }

  async listCertificates(f: CertificateFilter = {}): Promise<CertificateRecord[]> {
    const out: CertificateRecord[] = [];
    for (const r of this.certs.values()) {
      if (f.owner !== undefined && r.owner !== f.owner) continue;
      if (f.status !== undefined && r.status !== f.status) continue;
      if (f.issuerId !== undefined && r.issuerId !== f.issuerId) continue;
      if (f.expiringBefore !== undefined && r.notAfter >= f.expiringBefore) continue;
      out.push({ ...r });
      if (f.limit !== undefined && out.length >= f.limit) break;
    }
    return out;
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
    return [...this.certs.values()].filter((r) => r.issuerId === issuerId && r.status === 'revoked').map((r) => ({ ...r }));
  }

  async nextCrlNumber(issuerId: string): Promise<bigint> {
    const n = (this.crlNumbers.get(issuerId) ?? 0n) + 1n;
    this.crlNumbers.set(issuerId, n);
    return n;
  }

  async insertCa(rec: CaRecord): Promise<void> {
    if (this.cas.has(rec.id)) throw new Error(`duplicate CA ${rec.id}`);
    this.cas.set(rec.id, { ...rec });
  }

  async getCa(id: string): Promise<CaRecord | undefined> {
    const r = this.cas.get(id);
    return r && { ...r };
  }

  async listCas(): Promise<CaRecord[]> {
    return [...this.cas.values()].map((r) => ({ ...r }));
  }

  async activateCa(id: string): Promise<void> {
    const target = this.cas.get(id);
    if (!target) throw new Error(`unknown CA ${id}`);
    for (const r of this.cas.values()) if (r.role === target.role) r.active = r.id === id;
  }

  async setCaKeyRef(id: string, keyRef: string | null): Promise<void> {
    const r = this.cas.get(id);
    if (!r) throw new Error(`unknown CA ${id}`);
    r.keyRef = keyRef;
  }
}
