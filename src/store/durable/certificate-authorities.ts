/** Queries on the `certificate_authorities`, `crl_numbers` and `published_crls` tables (CertificateStore CA records and CRLs). */
import { sql, type Kysely, type Selectable } from 'kysely';
import { PortcullisError } from '../../core/errors.js';
import type { CaRecord, CaRole, PublishedCrl } from '../../pki/store.js';
import { fromDbBytes, toDbBytes } from './certificates.js';
import type { CertificateAuthoritiesTable, Database } from './schema.js';

function fromRow(r: Selectable<CertificateAuthoritiesTable>): CaRecord {
  return {
    id: r.id,
    role: r.role as CaRole,
    certDer: fromDbBytes(r.cert_der),
    signerKind: r.signer_kind,
    keyRef: r.key_ref,
    active: Number(r.active) === 1,
    createdAt: r.created_at,
  };
}

/** Throws PortcullisError('conflict') when the id exists. */
export async function insertCa(db: Kysely<Database>, ca: CaRecord): Promise<void> {
  const r = await db
    .insertInto('certificate_authorities')
    .values({
      id: ca.id,
      role: ca.role,
      cert_der: toDbBytes(ca.certDer),
      signer_kind: ca.signerKind,
      key_ref: ca.keyRef,
      active: ca.active ? 1 : 0,
      created_at: ca.createdAt,
    })
    .onConflict((oc) => oc.column('id').doNothing())
    .executeTakeFirst();
  if (Number(r.numInsertedOrUpdatedRows ?? 0) === 0) throw new PortcullisError('conflict', `a CA with id ${ca.id} exists`);
}

export async function getCa(db: Kysely<Database>, id: string): Promise<CaRecord | undefined> {
  const r = await db.selectFrom('certificate_authorities').selectAll().where('id', '=', id).executeTakeFirst();
  return r && fromRow(r);
}

/** Ordered by createdAt, then id. */
export async function listCas(db: Kysely<Database>): Promise<CaRecord[]> {
  const rows = await db.selectFrom('certificate_authorities').selectAll().orderBy('created_at').orderBy('id').execute();
  return rows.map(fromRow);
}

/**
 * One UPDATE over every CA of the target's role, so no reader ever sees two active
 * (or, once one was active, none). Throws PortcullisError('pki.ca-not-found') for an unknown id.
 */
export async function activateCa(db: Kysely<Database>, id: string): Promise<void> {
  const r = await db
    .updateTable('certificate_authorities')
    .set({ active: sql<number>`case when id = ${id} then 1 else 0 end` })
    .where('role', '=', (eb) => eb.selectFrom('certificate_authorities as target').select('target.role').where('target.id', '=', id))
    .executeTakeFirst();
  if (Number(r.numUpdatedRows) === 0) throw new PortcullisError('pki.ca-not-found', `no CA with id ${id}`);
}

/** Throws PortcullisError('pki.ca-not-found') for an unknown id. */
export async function setCaKeyRef(db: Kysely<Database>, id: string, keyRef: string | null): Promise<void> {
  const r = await db.updateTable('certificate_authorities').set({ key_ref: keyRef }).where('id', '=', id).executeTakeFirst();
  if (Number(r.numUpdatedRows) === 0) throw new PortcullisError('pki.ca-not-found', `no CA with id ${id}`);
}

/** One atomic upsert: concurrent callers on any node each get a distinct, increasing number. */
export async function nextCrlNumber(db: Kysely<Database>, issuerId: string): Promise<bigint> {
  const r = await db
    .insertInto('crl_numbers')
    .values({ issuer_id: issuerId, last_number: 1 })
    .onConflict((oc) => oc.column('issuer_id').doUpdateSet({ last_number: sql<number>`crl_numbers.last_number + 1` }))
    .returning('last_number')
    .executeTakeFirstOrThrow();
  return BigInt(r.last_number);
}

/**
 * The CA's CRL number counter (0 before any), its row locked until the transaction `db`
 * ends: an upsert that changes nothing still takes the row lock on PostgreSQL (and waits
 * on a concurrent first insert); SQLite transactions hold the write lock from BEGIN IMMEDIATE.
 */
export async function lockCrlNumber(db: Kysely<Database>, issuerId: string): Promise<bigint> {
  const r = await db
    .insertInto('crl_numbers')
    .values({ issuer_id: issuerId, last_number: 0 })
    .onConflict((oc) => oc.column('issuer_id').doUpdateSet({ last_number: sql<number>`crl_numbers.last_number` }))
    .returning('last_number')
    .executeTakeFirstOrThrow();
  return BigInt(r.last_number);
}

/** The CA's CRL number counter (0 before any), read without a lock. */
export async function readCrlNumber(db: Kysely<Database>, issuerId: string): Promise<bigint> {
  const r = await db.selectFrom('crl_numbers').select('last_number').where('issuer_id', '=', issuerId).executeTakeFirst();
  return BigInt(r?.last_number ?? 0);
}

/** The number of the CA's published CRL, without its bytes. */
export async function publishedCrlNumber(db: Kysely<Database>, issuerId: string): Promise<bigint | undefined> {
  const r = await db.selectFrom('published_crls').select('number').where('issuer_id', '=', issuerId).executeTakeFirst();
  return r && BigInt(r.number);
}

export async function getPublishedCrl(db: Kysely<Database>, issuerId: string): Promise<PublishedCrl | undefined> {
  const r = await db.selectFrom('published_crls').selectAll().where('issuer_id', '=', issuerId).executeTakeFirst();
  return r && { number: BigInt(r.number), thisUpdate: Number(r.this_update), nextUpdate: Number(r.next_update), entriesDigest: r.entries_digest, der: fromDbBytes(r.der) };
}

/** Stores `crl` as the CA's published CRL and moves its counter to the CRL's number (under `lockCrlNumber`). */
export async function putPublishedCrl(db: Kysely<Database>, issuerId: string, crl: PublishedCrl): Promise<void> {
  const row = { number: Number(crl.number), this_update: crl.thisUpdate, next_update: crl.nextUpdate, entries_digest: crl.entriesDigest, der: toDbBytes(crl.der) };
  await db.updateTable('crl_numbers').set({ last_number: Number(crl.number) }).where('issuer_id', '=', issuerId).execute();
  await db
    .insertInto('published_crls')
    .values({ issuer_id: issuerId, ...row })
    .onConflict((oc) => oc.column('issuer_id').doUpdateSet(row))
    .execute();
}
