/** What password sign-in needs from durable storage (the users table holds the column). */

export interface PasswordStore {
  /** The stored hash of the user's password, or undefined when the user has none. */
  getPasswordHash(userId: string): Promise<string | undefined>;
  /**
   * Replaces the hash only if it is still `expected` (compare-and-set), so a rehash at
   * sign-in never overwrites a password changed meanwhile. Returns whether it replaced.
   * `expected` null means "only if the user has no password yet".
   */
  replacePasswordHash(userId: string, expected: string | null, next: string): Promise<boolean>;
}
