/**
 * Keyset pages of a list: the rows after a cursor (the position of the previous page's
 * last row in the list's order), at most `limit` of them. A cursor stays valid when its
 * row is deleted meanwhile, and a page never skips or repeats a row that stays.
 */

/** A row's position in a list ordered by creation time, then id (ties). */
export interface CreatedCursor {
  createdAt: number;
  id: string;
}

/**
 * One page of a list: the rows strictly after `after` (from the first when absent), at most `limit`.
 *
 * @example
 * await store.listWebhooks({ after: { createdAt: 1764000000000, id: 'wh_x' }, limit: 100 });
 */
export interface PageRequest<C = CreatedCursor> {
  after?: C;
  limit: number;
}
