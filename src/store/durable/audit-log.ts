/**
 * Queries on the `audit_log` table (AuditStore): one linear hash chain.
 * Appends run inside the dialect's serialised transaction, so the head read and
 * the insert of the next rows cannot interleave with another appender on any node.
 */
import type { Kysely, Selectable } from 'kysely';
import type { AuditEventInput, AuditRow } from '../../audit/store.js';
import type { AuditTable, Database } from './schema.js';

/** prevHash of row 1. */
export const GENESIS_HASH = '0'.repeat(64);

/** Rows per INSERT, well under the bound-parameter limits of SQLite and PostgreSQL. */
const INSERT_CHUNK = 500;

type ChainHash = (prevHash: string, seq: number, e: AuditEventInput) => string;

/**
 * The event exactly as it reads back from the table: absent optionals become null and
 * `data` goes through JSON. The chain hash is computed over this form, so a verifier
 * that recomputes it from `listAudit` rows gets the same bytes.
 */
export function canonicalEvent(e: AuditEventInput): AuditEventInput {
  return {
    time: e.time,
    type: e.type,
    actor: e.actor,
    clientId: e.clientId ?? null,
    route: e.route ?? null,
    reason: e.reason ?? null,
    data: e.data == null ? null : (JSON.parse(JSON.stringify(e.data)) as Record<string, unknown>),
  };
}

function fromRow(r: Selectable<AuditTable>): AuditRow {
  return {
    seq: r.seq,
    time: r.time,
    type: r.type,
    actor: r.actor,
    clientId: r.client_id,
    route: r.route,
    reason: r.reason,
    data: r.data === null ? null : (JSON.parse(r.data) as Record<string, unknown>),
    prevHash: r.prev_hash,
    hash: r.hash,
  };
}

/** Must run inside the serialised transaction (see Dialect.serialized). */
export async function appendAuditLocked(db: Kysely<Database>, events: AuditEventInput[], chainHash: ChainHash): Promise<void> {
  const head = await db.selectFrom('audit_log').select(['seq', 'hash']).orderBy('seq', 'desc').limit(1).executeTakeFirst();
  let seq = head?.seq ?? 0;
  let prevHash = head?.hash ?? GENESIS_HASH;
  const rows: AuditTable[] = events.map((input) => {
    const e = canonicalEvent(input);
    seq += 1;
    const hash = chainHash(prevHash, seq, e);
    const row: AuditTable = {
      seq,
      time: e.time,
      type: e.type,
      actor: e.actor,
      client_id: e.clientId ?? null,
      route: e.route ?? null,
      reason: e.reason ?? null,
      data: e.data == null ? null : JSON.stringify(e.data),
      prev_hash: prevHash,
      hash,
    };
    prevHash = hash;
    return row;
  });
  for (let i = 0; i < rows.length; i += INSERT_CHUNK) {
    await db.insertInto('audit_log').values(rows.slice(i, i + INSERT_CHUNK)).execute();
  }
}

export async function listAudit(db: Kysely<Database>, afterSeq: number, limit: number): Promise<AuditRow[]> {
  const rows = await db.selectFrom('audit_log').selectAll().where('seq', '>', afterSeq).orderBy('seq').limit(limit).execute();
  return rows.map(fromRow);
}

export async function tailAudit(db: Kysely<Database>, limit: number): Promise<AuditRow[]> {
  const rows = await db.selectFrom('audit_log').selectAll().orderBy('seq', 'desc').limit(limit).execute();
  return rows.reverse().map(fromRow);
}
