/**
 * An in-memory copy of store records that a stale read can never roll back. Every store
 * read is numbered when it begins and every store write when it ends (`stamp`); each
 * entry (and each removal) keeps the number it came from, and a value from an older
 * number never replaces one from a newer number. A read begun after a write ended sees
 * that write, so the entry from the highest number is the newest state: a full re-read
 * (reconcile) that began before a change cannot undo it, however late it installs.
 */
export class StampedMap<V> {
  private readonly entries = new Map<string, V>();
  /** For each key (present or removed), the number of the read or write it came from. */
  private readonly from = new Map<string, number>();
  private sequence = 0;

  /** Numbers a store read (take it just before the read begins) or write (just after it ends). */
  stamp(): number {
    return ++this.sequence;
  }

  /**
   * Keeps `value` for `key` (undefined: removes it) unless what is kept comes from a
   * newer number than `from`.
   *
   * @example
   * const from = cache.stamp();
   * cache.set(id, await store.get(id), from);
   */
  set(key: string, value: V | undefined, from: number): void {
    if ((this.from.get(key) ?? 0) > from) return;
    this.from.set(key, from);
    if (value === undefined) this.entries.delete(key);
    else this.entries.set(key, value);
  }

  /**
   * Installs a whole snapshot read at `from`: each entry as `set` does, and removes every
   * key it lacks whose entry is older than the snapshot.
   *
   * @example
   * const from = cache.stamp();
   * cache.replaceAll(new Map((await store.list()).map((r) => [r.id, r])), from);
   */
  replaceAll(snapshot: ReadonlyMap<string, V>, from: number): void {
    for (const [key, value] of snapshot) this.set(key, value, from);
    for (const [key, at] of [...this.from]) {
      if (snapshot.has(key) || at > from) continue;
      this.entries.delete(key);
      this.from.delete(key);
    }
  }

  get(key: string): V | undefined {
    return this.entries.get(key);
  }

  values(): IterableIterator<V> {
    return this.entries.values();
  }
}
