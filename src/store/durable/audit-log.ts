/**
 * Queries on the `audit_log` table (AuditStore): one linear hash chain.
 * Appends run inside the dialect's serialised transaction, so the head read and
 * the insert of the next rows cannot interleave with another appender on any node.
 */
import { CompiledQuery, sql, type Kysely, type Selectable } from 'kysely';
import type { AuditHeadKey, RecordedHead } from '../../audit/head-key.js';
import type { AuditEventInput, AuditRow } from '../../audit/store.js';
import { PortcullisError } from '../../core/errors.js';
import type { AuditTable, Database } from './schema.js';

/** prevHash of row 1. */
export const GENESIS_HASH = '0'.repeat(64);

/**
 * Rows per INSERT, largest first, well under the bound-parameter limits of SQLite and
 * PostgreSQL. A batch is cut into these sizes, so only five statement texts ever exist
 * per dialect: each is compiled by Kysely once and prepared by the driver once. Building
 * and compiling a fresh multi-row INSERT for every batch cost more than writing it.
 */
const CHUNKS = [256, 64, 16, 4, 1] as const;

/** The columns in the order of the compiled statements' parameters. */
const COLUMNS = ['seq', 'time', 'type', 'actor', 'client_id', 'route', 'reason', 'data', 'prev_hash', 'hash'] as const satisfies ReadonlyArray<keyof AuditTable>;

const PLACEHOLDER_ROW = Object.fromEntries(COLUMNS.map((c) => [c, null])) as unknown as AuditTable;

/** Compiled INSERT texts by dialect adapter and row count. */
const insertSql = new Map<string, string>();

function insertText(db: Kysely<Database>, rows: number): string {
  const key = `${db.getExecutor().adapter.constructor.name}:${rows}`;
  let text = insertSql.get(key);
  if (text === undefined) {
    text = db.insertInto('audit_log').values(Array.from({ length: rows }, () => PLACEHOLDER_ROW)).compile().sql;
    insertSql.set(key, text);
  }
  return text;
}

type ChainHash = (prevHash: string, seq: number, e: AuditEventInput) => string;

/**
 * A text column as every adapter stores it: NUL (which PostgreSQL `text` refuses) and
 * lone UTF-16 surrogates (which both drivers turn into U+FFFD on their own) become
 * U+FFFD here, before the row is hashed, so the hash covers exactly what is stored and
 * `audit verify` recomputes it from what it reads. `data` needs none of this: JSON text
 * escapes both.
 */
export function storableText(v: string): string {
  return UNSTORABLE.test(v) ? v.replace(UNSTORABLE_ALL, '\ufffd') : v;
}

/** NUL, a high surrogate not followed by a low one, a low surrogate not preceded by a high one (UTF-16 code units). */
const UNSTORABLE_SOURCE = '\\u0000|[\\ud800-\\udbff](?![\\udc00-\\udfff])|(?<![\\ud800-\\udbff])[\\udc00-\\udfff]';
const UNSTORABLE = new RegExp(UNSTORABLE_SOURCE);
const UNSTORABLE_ALL = new RegExp(UNSTORABLE_SOURCE, 'g');

const storableOpt = (v: string | null | undefined): string | null => (v == null ? null : storableText(v));

/**
 * The event exactly as it reads back from the table (absent optionals become null, text
 * columns go through `storableText` and `data` through JSON), with that JSON text for
 * the row. The chain hash is computed over this form, so a verifier that recomputes it
 * from `listAudit` rows gets the same bytes.
 */
function canonicalWithJson(e: AuditEventInput): { event: AuditEventInput; json: string | null } {
  const json = e.data == null ? null : JSON.stringify(e.data);
  return {
    json,
    event: {
      time: e.time,
      type: storableText(e.type),
      actor: storableText(e.actor),
      clientId: storableOpt(e.clientId),
      route: storableOpt(e.route),
      reason: storableOpt(e.reason),
      data: json === null ? null : (JSON.parse(json) as Record<string, unknown>),
    },
  };
}

/** A row as read: `seq` and `time` null when beyond 2^53 (see `ROW`). */
type ReadRow = Omit<Selectable<AuditTable>, 'seq' | 'time'> & { seq: number | null; time: number | null };

/** `column` of `table` when it is within ±(2^53 − 1), else null. */
const safe = (column: 'seq' | 'time', table: 'audit_log' | 'audit_head' = 'audit_log') =>
  sql<number | null>`case when ${sql.ref(`${table}.${column}`)} between ${sql.lit(-Number.MAX_SAFE_INTEGER)} and ${sql.lit(Number.MAX_SAFE_INTEGER)} then ${sql.ref(`${table}.${column}`)} end`.as(column);

/**
 * The columns of a row. The PostgreSQL driver refuses a bigint beyond 2^53 for the whole
 * read, so one row whose `seq` or `time` was edited that way made every listing and
 * `audit verify` fail as `store.unavailable`, naming no row; read as null instead, such
 * a value is refused here, for its row alone.
 */
const ROW = [safe('seq'), safe('time'), 'type', 'actor', 'client_id', 'route', 'reason', 'data', 'prev_hash', 'hash'] as const;

/**
 * A row edited outside Portcullis so that it no longer reads back (data that is not
 * JSON, a number beyond 2^53): `audit.chain-broken` naming the row (`details.seq`, NaN
 * when the seq itself is the value), so that verify reports that row, never a store outage.
 */
function altered(seq: number, column: string, cause?: unknown): PortcullisError {
  return new PortcullisError('audit.chain-broken', `audit row ${seq} was altered: its ${column} does not read back`, { cause, details: { seq, column } });
}

function fromRow(r: ReadRow): AuditRow {
  if (r.seq === null) throw altered(Number.NaN, 'seq');
  const seq = r.seq;
  if (r.time === null) throw altered(seq, 'time');
  const time = r.time;
  let data: Record<string, unknown> | null = null;
  if (r.data !== null) {
    try {
      data = JSON.parse(r.data) as Record<string, unknown>;
    } catch (e) {
      throw altered(seq, 'data', e);
    }
  }
  return {
    seq,
    time,
    type: r.type,
    actor: r.actor,
    clientId: r.client_id,
    route: r.route,
    reason: r.reason,
    data,
    prevHash: r.prev_hash,
    hash: r.hash,
  };
}

/**
 * The recorded head, its `seq` null when beyond 2^53. No append reaches that (2^53 events);
 * an edit of the row does, and the PostgreSQL driver would refuse the whole read (as for
 * `ROW`), failing every append and verify as `store.unavailable`.
 */
const readHead = (db: Kysely<Database>) => db.selectFrom('audit_head').select([safe('seq', 'audit_head'), 'hash', 'mac']).where('audit_head.id', '=', 1).executeTakeFirst();

/**
 * The recorded head of the chain (`audit_head`), or, where none is recorded or its seq was
 * edited beyond 2^53, the newest row (`recorded: false`). Appends continue from the
 * recorded head even if rows after it were deleted, so later appends leave a gap that
 * verify reports instead of hiding the deletion.
 */
async function chainHead(db: Kysely<Database>): Promise<{ seq: number; hash: string; mac: string | null; recorded: boolean } | undefined> {
  const head = await readHead(db);
  if (head !== undefined && head.seq !== null) return { seq: head.seq, hash: head.hash, mac: head.mac, recorded: true };
  const newest = await db.selectFrom('audit_log').select(['seq', 'hash']).orderBy('seq', 'desc').limit(1).executeTakeFirst();
  return newest && { ...newest, mac: null, recorded: false };
}

/**
 * Must run inside the serialised transaction (see Dialect.serialized). The new head gets
 * its MAC under `headKey` only when the head it extends authenticates under it: a head
 * rewritten by someone without the key is never vouched for by the appends that follow
 * (their head is recorded without a MAC, and verify keeps reporting it). Without a key
 * (a store no envelope opened) the head is recorded without a MAC.
 */
export async function appendAuditLocked(db: Kysely<Database>, events: AuditEventInput[], chainHash: ChainHash, headKey?: AuditHeadKey): Promise<void> {
  if (events.length === 0) return;
  const head = await chainHead(db);
  let seq = head?.seq ?? 0;
  let prevHash = head?.hash ?? GENESIS_HASH;
  const params: unknown[] = new Array(events.length * COLUMNS.length);
  let p = 0;
  for (const input of events) {
    const { event: e, json } = canonicalWithJson(input);
    seq += 1;
    const hash = chainHash(prevHash, seq, e);
    // in COLUMNS order
    params[p++] = seq;
    params[p++] = e.time;
    params[p++] = e.type;
    params[p++] = e.actor;
    params[p++] = e.clientId ?? null;
    params[p++] = e.route ?? null;
    params[p++] = e.reason ?? null;
    params[p++] = json;
    params[p++] = prevHash;
    params[p++] = hash;
    prevHash = hash;
  }
  let row = 0;
  for (const size of CHUNKS) {
    while (events.length - row >= size) {
      const from = row * COLUMNS.length;
      await db.executeQuery(CompiledQuery.raw(insertText(db, size), params.slice(from, from + size * COLUMNS.length)));
      row += size;
    }
  }
  // No recorded head: it was removed (every store records one from the start, migrations 0009 and 0012), perhaps
  // with the rows, or edited so that it does not read back. Recording a new one would re-anchor the cut chain, or start a new chain that passes for the whole
  // trail, and verify would pass again; so it stays missing and verify keeps reporting it.
  if (head === undefined || !head.recorded) return;
  // in the same transaction as the rows: the head never runs ahead of or behind them
  const mac = headKey !== undefined && headKey.authenticates(head) ? headKey.mac(seq, prevHash) : null;
  await db.updateTable('audit_head').set({ seq, hash: prevHash, mac }).where('id', '=', 1).execute();
}

/**
 * Tables whose every row was made by a change that is audited (`app.created`, `user.created`,
 * `app.signing-key-added`, …), by the name verify reports. Not the node's own signing keys,
 * CA and server certificates: a node started on a new store makes those without an event.
 */
const AUDITED_OBJECTS = [
  ['apps', 'apps', sql``],
  ['users', 'users', sql``],
  ['app_signing_keys', 'app signing keys', sql``],
  ['app_encryption_keys', 'app encryption keys', sql``],
  ['transit_keys', 'transit keys', sql``],
  ['webhooks', 'webhooks', sql``],
  // issued to an app (admin issue, renewal); the node's own server certificates have no owner
  ['certificates', 'certificates issued to apps', sql`where owner is not null`],
] as const;

/** The kinds of object in the store whose creation is audited (AuditStore.auditedObjects). */
export async function auditedObjects(db: Kysely<Database>): Promise<string[]> {
  const held: string[] = [];
  for (const [table, label, where] of AUDITED_OBJECTS) {
    const { rows } = await sql<{ one: number }>`select 1 as one from ${sql.table(table)} ${where} limit 1`.execute(db);
    if (rows.length > 0) held.push(label);
  }
  return held;
}

/**
 * Rows before row 1 (AuditStore.auditRowsBeforeChain). SQLite lets a primary key that is not
 * `INTEGER PRIMARY KEY` hold NULL, which no `seq >` comparison reaches.
 */
export async function auditRowsBeforeChain(db: Kysely<Database>): Promise<number> {
  const { n } = await db
    .selectFrom('audit_log')
    .select((eb) => eb.fn.countAll<number | string | bigint>().as('n'))
    .where((eb) => eb.or([eb('seq', 'is', null), eb('seq', '<', 1)]))
    .executeTakeFirstOrThrow();
  return Number(n);
}

/** The recorded head of the chain, or null when none is; `audit.chain-broken` when its seq was edited beyond 2^53. */
export async function auditHead(db: Kysely<Database>): Promise<RecordedHead | null> {
  const head = await readHead(db);
  if (head === undefined) return null;
  if (head.seq === null) throw new PortcullisError('audit.chain-broken', 'the recorded head of the audit chain (audit_head) was altered: its seq does not read back', { details: { table: 'audit_head', column: 'seq' } });
  return { seq: head.seq, hash: head.hash, mac: head.mac };
}

export async function listAudit(db: Kysely<Database>, afterSeq: number, limit: number): Promise<AuditRow[]> {
  const rows = await db.selectFrom('audit_log').select(ROW).where('audit_log.seq', '>', afterSeq).orderBy('audit_log.seq').limit(limit).execute();
  return rows.map(fromRow);
}

export async function tailAudit(db: Kysely<Database>, limit: number): Promise<AuditRow[]> {
  const rows = await db.selectFrom('audit_log').select(ROW).orderBy('audit_log.seq', 'desc').limit(limit).execute();
  return rows.reverse().map(fromRow);
}
