/**
 * Keyset pagination for admin lists shown oldest first (apps, users): rows are ordered by
 * creation time, then id; a page ends with `next_after`, the cursor `<createdAt>.<id>` of
 * its last row, which stays valid when that row is deleted meanwhile.
 */
import { z } from 'zod';

export const PageQuery = z.strictObject({
  after: z
    .string()
    .regex(/^\d{1,16}\.[\x21-\x7E]{1,200}$/, 'expected the next_after of the previous page')
    .optional()
    .describe('The `next_after` of the previous page; absent for the first page.'),
  limit: z.coerce.number().int().min(1).max(1000).default(100).describe('At most this many rows.'),
});
export type PageQuery = z.infer<typeof PageQuery>;

export const nextAfter = z.string().nullable().describe('Pass as `after` for the next page; null on the last page.');

/**
 * One page of `rows` (any order) after the cursor.
 *
 * @example
 * const { rows, next_after } = page(await store.listApps(), (a) => [a.createdAt, a.clientId], { limit: 100 });
 */
export function page<T>(rows: readonly T[], key: (row: T) => readonly [number, string], query: PageQuery): { rows: T[]; next_after: string | null } {
  const keyed = rows.map((row) => ({ row, k: key(row) }));
  keyed.sort((a, b) => a.k[0] - b.k[0] || (a.k[1] < b.k[1] ? -1 : a.k[1] > b.k[1] ? 1 : 0));
  let start = 0;
  if (query.after !== undefined) {
    const dot = query.after.indexOf('.');
    const t = Number(query.after.slice(0, dot));
    const id = query.after.slice(dot + 1);
    start = keyed.findIndex(({ k }) => k[0] > t || (k[0] === t && k[1] > id));
    if (start === -1) start = keyed.length;
  }
  const slice = keyed.slice(start, start + query.limit);
  const last = slice.at(-1);
  const more = start + slice.length < keyed.length;
  return { rows: slice.map((x) => x.row), next_after: more && last ? `${last.k[0]}.${last.k[1]}` : null };
}
