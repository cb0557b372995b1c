/**
 * Queries on the `certificates` table (CertificateStore inventory). Revocation is
 * one conditional UPDATE, so under concurrent calls on any node exactly one finds
 * the row still active.
 */
import type { Kysely, Selectable } from 'kysely';
import { PortcullisError } from '../../core/errors.js';
import type { CertificateFilter, CertificateRecord, CertificateStatus, RevocationReason } from '../../pki/store.js';
import { after } from './keyset.js';
import type { CertificatesTable, Database } from './schema.js';

/** A Buffer view of the bytes, which both drivers bind as a blob/bytea. */
export function toDbBytes(b: Uint8Array): Buffer {
  return Buffer.from(b.buffer, b.byteOffset, b.byteLength);
}

/** A plain Uint8Array copy (drivers return Buffers). */
export function fromDbBytes(b: Uint8Array): Uint8Array {
  return new Uint8Array(b);
}

function fromRow(r: Selectable<CertificatesTable>): CertificateRecord {
  return {
    serial: r.serial,
    issuerId: r.issuer_id,
    subject: r.subject,
    owner: r.owner,
    profile: r.profile,
    notBefore: r.not_before,
    notAfter: r.not_after,
    status: r.status as CertificateStatus,
    revokedAt: r.revoked_at,
    reason: r.reason as RevocationReason | null,
    der: fromDbBytes(r.der),
    ...(r.renewed_from !== null ? { renewedFrom: r.renewed_from } : {}),
  };
}

/** Throws PortcullisError('conflict') when the serial exists. */
export async function insertCertificate(db: Kysely<Database>, c: CertificateRecord): Promise<void> {
  const r = await db
    .insertInto('certificates')
    .values({
      serial: c.serial,
      issuer_id: c.issuerId,
      subject: c.subject,
      owner: c.owner,
      profile: c.profile,
      not_before: c.notBefore,
      not_after: c.notAfter,
      status: c.status,
      revoked_at: c.revokedAt,
      reason: c.reason,
      der: toDbBytes(c.der),
      renewed_from: c.renewedFrom ?? null,
    })
    .onConflict((oc) => oc.column('serial').doNothing())
    .executeTakeFirst();
  if (Number(r.numInsertedOrUpdatedRows ?? 0) === 0) throw new PortcullisError('conflict', `a certificate with serial ${c.serial} exists`);
}

export async function getCertificate(db: Kysely<Database>, serial: string): Promise<CertificateRecord | undefined> {
  const r = await db.selectFrom('certificates').selectAll().where('serial', '=', serial).executeTakeFirst();
  return r && fromRow(r);
}

/** Ordered by notBefore, then serial, so `limit` keeps the oldest. A limit that is not a non-negative integer is request.invalid. */
export async function listCertificates(db: Kysely<Database>, f: CertificateFilter = {}): Promise<CertificateRecord[]> {
  if (f.limit !== undefined && !(Number.isSafeInteger(f.limit) && f.limit >= 0)) throw new PortcullisError('request.invalid', 'limit must be a non-negative integer');
  let q = db.selectFrom('certificates').selectAll();
  if (f.owner !== undefined) q = q.where('owner', '=', f.owner);
  if (f.status !== undefined) q = q.where('status', '=', f.status);
  if (f.issuerId !== undefined) q = q.where('issuer_id', '=', f.issuerId);
  if (f.expiringBefore !== undefined) q = q.where('not_after', '<', f.expiringBefore);
  if (f.renewedFrom !== undefined) q = q.where('renewed_from', '=', f.renewedFrom);
  if (f.after !== undefined) q = q.where(after('not_before', 'serial', f.after.notBefore, f.after.serial));
  q = q.orderBy('not_before').orderBy('serial');
  if (f.limit !== undefined) q = q.limit(f.limit);
  return (await q.execute()).map(fromRow);
}

export async function revokeCertificate(db: Kysely<Database>, serial: string, at: number, reason: RevocationReason): Promise<CertificateRecord | undefined> {
  const r = await db
    .updateTable('certificates')
    .set({ status: 'revoked', revoked_at: at, reason })
    .where('serial', '=', serial)
    .where('status', '=', 'active')
    .returningAll()
    .executeTakeFirst();
  return r && fromRow(r);
}

/** Ordered by serial. */
export async function listRevoked(db: Kysely<Database>, issuerId: string): Promise<CertificateRecord[]> {
  const rows = await db.selectFrom('certificates').selectAll().where('issuer_id', '=', issuerId).where('status', '=', 'revoked').orderBy('serial').execute();
  return rows.map(fromRow);
}

/** How many certificates of one issuer are revoked (an index scan, no rows read). */
export async function countRevoked(db: Kysely<Database>, issuerId: string): Promise<number> {
  const r = await db
    .selectFrom('certificates')
    .select((eb) => eb.fn.countAll<number | string | bigint>().as('n'))
    .where('issuer_id', '=', issuerId)
    .where('status', '=', 'revoked')
    .executeTakeFirstOrThrow();
  return Number(r.n);
}
