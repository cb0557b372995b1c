/**
 * Keyset pagination of admin lists: `limit` (default 100, at most 1000) and `after`, the
 * `next_after` of the previous page, a cursor naming the position of that page's last row
 * in the list's order, which stays valid when that row is deleted meanwhile. Lists ordered
 * by time, then id (apps, users, sessions, webhooks, an app's keys, certificates) use the
 * cursor `<time>.<id>`; a list of names (transit keys) uses the last name. Lists whose
 * store pages (core/page.ts) read one page from it (`storePage`); the others page what
 * they read (`page`).
 */
import { z } from 'zod';
import type { CreatedCursor, PageRequest } from '../../core/page.js';

/**
 * An integer query parameter (`limit`, `after`) between `min` and `max`: decimal digits only, so
 * what Number() would also read (`0x10`, `1e2`, `+5`, ` 5`, `5.0`) is refused, and so is a
 * leading zero (`05`; `0` itself aside), which some clients would read as octal.
 *
 * @example
 * z.strictObject({ limit: queryInteger(1, 1000).default(100) })
 */
export function queryInteger(min: number, max: number) {
  return z
    .string()
    .regex(/^(?:0|[1-9][0-9]*)$/, 'expected a decimal integer: digits only, without sign, spaces or leading zeros')
    .pipe(z.coerce.number<string>().int().min(min).max(max))
    // the document describes the value (an integer in a range); the pattern says how it is written
    .meta({ type: 'integer', minimum: min, maximum: max });
}

/**
 * A cursor `<time>.<id>` whose id matches `id` (a regex source, no anchors). A time past
 * Number.MAX_SAFE_INTEGER (16 digits allow it) would be read as another number, so a page
 * after another position: refused.
 *
 * @example
 * const serialCursor = timeIdCursor('[0-9a-f]{1,64}');
 */
export function timeIdCursor(id: string) {
  return z
    .string()
    .regex(new RegExp(`^\\d{1,16}\\.${id}$`), { message: 'expected the next_after of the previous page', abort: true })
    .refine((c) => Number.isSafeInteger(Number(c.slice(0, c.indexOf('.')))), 'expected the next_after of the previous page: its time is past 2^53-1');
}

/** The cursor `<time>.<id>` of lists ordered by time, then id. */
export const createdCursor = timeIdCursor('[\\x21-\\x7E]{1,200}');

/**
 * The query of a paged list whose cursor `after` matches `cursor`; unknown parameters are refused.
 *
 * @example
 * const TransitKeyListQuery = pageQuery(transitKeyName);
 */
export function pageQuery<C extends z.ZodType<string, string>>(cursor: C) {
  return z.strictObject({
    after: cursor.optional().describe('The `next_after` of the previous page; absent for the first page.'),
    limit: queryInteger(1, 1000).default(100).describe('At most this many rows.'),
  });
}

export const PageQuery = pageQuery(createdCursor);
export type PageQuery = z.infer<typeof PageQuery>;

export const nextAfter = z.string().nullable().describe('Pass as `after` for the next page; null on the last page.');

/** `<time>.<id>` (checked by `createdCursor`) as the position it names. */
export function parseCreatedCursor(after: string): CreatedCursor {
  const dot = after.indexOf('.');
  return { createdAt: Number(after.slice(0, dot)), id: after.slice(dot + 1) };
}

/**
 * One page from a store that pages: it is asked for one row more than the page holds,
 * so the page knows whether another follows.
 *
 * @example
 * const { rows, next_after } = await storePage(query, (p) => transit.listKeys(p), (after: string) => after, (name) => name);
 */
export async function storePage<T, C>(
  query: { after?: string | undefined; limit: number },
  read: (page: PageRequest<C>) => Promise<T[]>,
  parse: (after: string) => C,
  cursorOf: (row: T) => string,
): Promise<{ rows: T[]; next_after: string | null }> {
  const rows = await read({ ...(query.after !== undefined ? { after: parse(query.after) } : {}), limit: query.limit + 1 });
  const shown = rows.slice(0, query.limit);
  const last = shown.at(-1);
  return { rows: shown, next_after: rows.length > query.limit && last !== undefined ? cursorOf(last) : null };
}

/**
 * `storePage` for a list ordered by time, then id (`key`).
 *
 * @example
 * const { rows, next_after } = await createdPage(query, (p) => webhooks.list(p), (w) => [w.createdAt, w.id]);
 */
export function createdPage<T>(query: { after?: string | undefined; limit: number }, read: (page: PageRequest) => Promise<T[]>, key: (row: T) => readonly [number, string]): Promise<{ rows: T[]; next_after: string | null }> {
  return storePage(query, read, parseCreatedCursor, (row) => key(row).join('.'));
}

/**
 * One page of `rows` (any order) after the cursor, oldest first, or newest first when
 * `newestFirst` (then `after` names a row and the page holds the older ones after it).
 *
 * @example
 * const { rows, next_after } = page(await oidc.listSessions(userId), (x) => [x.createdAt, x.handle], { limit: 100 }, true);
 */
export function page<T>(rows: readonly T[], key: (row: T) => readonly [number, string], query: PageQuery, newestFirst = false): { rows: T[]; next_after: string | null } {
  const dir = newestFirst ? -1 : 1;
  const cmp = (a: readonly [number, string], b: readonly [number, string]): number => dir * (a[0] - b[0] || (a[1] < b[1] ? -1 : a[1] > b[1] ? 1 : 0));
  const keyed = rows.map((row) => ({ row, k: key(row) }));
  keyed.sort((a, b) => cmp(a.k, b.k));
  let start = 0;
  if (query.after !== undefined) {
    const c = parseCreatedCursor(query.after);
    start = keyed.findIndex(({ k }) => cmp(k, [c.createdAt, c.id]) > 0);
    if (start === -1) start = keyed.length;
  }
  const slice = keyed.slice(start, start + query.limit);
  const last = slice.at(-1);
  const more = start + slice.length < keyed.length;
  return { rows: slice.map((x) => x.row), next_after: more && last ? `${last.k[0]}.${last.k[1]}` : null };
}
