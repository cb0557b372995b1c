/** The keyset condition of a page (core/page.ts), the same SQL on SQLite and PostgreSQL. */
import { sql, type RawBuilder, type SqlBool } from 'kysely';

/**
 * Rows after the cursor `(time, id)` in the order `timeColumn, idColumn`, spelled out
 * rather than as a row comparison so both dialects and their indexes read it alike.
 *
 * @example
 * q.where(after('created_at', 'id', page.after.createdAt, page.after.id)).orderBy('created_at').orderBy('id')
 */
/**
 * Rows before the cursor `(time, id)`: the next page of a list ordered newest first
 * (`timeColumn desc, idColumn desc`).
 *
 * @example
 * q.where(before('created_at', 'id', cursor.createdAt, cursor.id)).orderBy('created_at', 'desc').orderBy('id', 'desc')
 */
export function before(timeColumn: string, idColumn: string, time: number, id: string): RawBuilder<SqlBool> {
  const t = sql.ref(timeColumn);
  return sql<SqlBool>`(${t} < ${time} or (${t} = ${time} and ${sql.ref(idColumn)} < ${id}))`;
}

export function after(timeColumn: string, idColumn: string, time: number, id: string): RawBuilder<SqlBool> {
  const t = sql.ref(timeColumn);
  return sql<SqlBool>`(${t} > ${time} or (${t} = ${time} and ${sql.ref(idColumn)} > ${id}))`;
}
