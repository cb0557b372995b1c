/**
 * The change a request makes, as the audit trail sees it: events recorded while it runs
 * (in its async context) are its own, so a trail that drops one of them (queue full)
 * marks the change, and a `flush()` made inside it rejects for that drop and no other.
 * The planes run every route handler inside one (http/server.ts); a flush made outside
 * any change falls back to counting the drops since the last flush to finish began.
 */
import { AsyncLocalStorage } from 'node:async_hooks';

/** Per trail, the events of the change it dropped. */
export type Change = Map<object, number>;

const changes = new AsyncLocalStorage<Change>();

/**
 * Runs `fn` as one change: the drops of the events it records are answered to its own flushes.
 *
 * @example
 * app.post('/v1/apps', (req) => auditedChange(() => handler(req)));
 */
export function auditedChange<T>(fn: () => T): T {
  return changes.run(new Map(), fn);
}

/** The change under way, or undefined outside one. */
export function currentChange(): Change | undefined {
  return changes.getStore();
}
