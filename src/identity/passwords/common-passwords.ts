/**
 * The list of common and breached passwords that ships in `data/common-passwords.txt`
 * (source and licence in data/README.md). Loaded once, kept as a Set of NFKC,
 * lower-cased entries.
 */
import { readFile } from 'node:fs/promises';

export interface PasswordBlocklist {
  /** Whether `password` (any case, after NFKC) is on the list. */
  has(password: string): boolean;
  readonly size: number;
}

/** Where the shipped list lives, from src/ (tsx) and from dist/ alike. */
export const COMMON_PASSWORDS_FILE = new URL('../../../data/common-passwords.txt', import.meta.url);

const fold = (s: string): string => s.normalize('NFKC').toLowerCase();

/** A blocklist over the given entries. */
export function blocklistOf(entries: Iterable<string>): PasswordBlocklist {
  const set = new Set<string>();
  for (const e of entries) if (e.length > 0) set.add(fold(e));
  return { has: (p) => set.has(fold(p)), size: set.size };
}

let shipped: Promise<PasswordBlocklist> | undefined;

/**
 * Loads the list (memoised for the default file).
 *
 * @example
 * const list = await loadCommonPasswords();
 * list.has('Password1'); // true
 */
export function loadCommonPasswords(file: URL | string = COMMON_PASSWORDS_FILE): Promise<PasswordBlocklist> {
  const load = async () => blocklistOf((await readFile(file, 'utf8')).split(/\r?\n/));
  if (file !== COMMON_PASSWORDS_FILE) return load();
  shipped ??= load().catch((e: unknown) => {
    shipped = undefined;
    throw e;
  });
  return shipped;
}
