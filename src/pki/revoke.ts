/**
 * Revocation: marks a certificate revoked in the inventory, then regenerates the
 * CRL and drops cached OCSP answers so both report it at once. `onRevoked` is
 * where the lead publishes the fan-out event to other nodes; it runs even when the
 * CRL cannot be rebuilt then (that CRL is rebuilt when it is next asked for).
 */
import type { Clock } from '../core/clock.js';
import { PortcullisError } from '../core/errors.js';
import type { CrlPublisher } from './crl.js';
import type { OcspResponder } from './ocsp.js';
import { LEAF_REVOCATION_REASONS, type CertificateRecord, type CertificateStore, type LeafRevocationReason } from './store.js';

export interface RevokeContext {
  store: CertificateStore;
  clock: Clock;
  /** CRL publishers by issuing CA id. */
  crls?: Map<string, CrlPublisher>;
  ocsp?: OcspResponder[];
  onRevoked?: (rec: CertificateRecord) => void | Promise<void>;
}

/**
 * @example await revokeCertificate(ctx, serial, 'keyCompromise');
 */
export async function revokeCertificate(ctx: RevokeContext, serial: string, reason: LeafRevocationReason = 'unspecified'): Promise<CertificateRecord> {
  if (!(LEAF_REVOCATION_REASONS as readonly string[]).includes(reason)) {
    throw new PortcullisError('request.invalid', `revocation reason ${JSON.stringify(reason)} is not allowed for a certificate: use one of ${LEAF_REVOCATION_REASONS.join(', ')}`);
  }
  const s = serial.toLowerCase();
  if (!/^[0-9a-f]{2,40}$/.test(s)) throw new PortcullisError('request.invalid', 'serial must be hex');
  const rec = await ctx.store.revokeCertificate(s, Math.floor(ctx.clock.now() / 1000) * 1000, reason);
  if (!rec) {
    const existing = await ctx.store.getCertificate(s);
    if (!existing) throw new PortcullisError('not-found', 'no certificate with that serial');
    throw new PortcullisError('conflict', 'the certificate is already revoked');
  }
  for (const r of ctx.ocsp ?? []) r.invalidate(s);
  try {
    await ctx.crls?.get(rec.issuerId)?.regenerate();
  } catch {
    // The revocation is stored and must still reach every node; the publisher kept no
    // CRL, so the next one served is built afresh and lists it.
  }
  await ctx.onRevoked?.(rec);
  return rec;
}
