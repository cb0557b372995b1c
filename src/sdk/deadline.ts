/**
 * An overall deadline for one SDK exchange (request and body), so a peer that accepts the
 * connection and then stalls cannot hold the caller forever. The work gets an
 * `AbortSignal` to pass to `fetch`; the deadline also settles the promise itself, so a
 * `fetch` given in the options that ignores the signal is still cut off.
 */

/** The default deadline of the SDK's own requests (JWKS, token endpoint, transit). */
export const DEFAULT_TIMEOUT_MS = 10_000;

/** Thrown (as the `cause` of the SDK's typed errors) when an exchange ran out of time. */
export class DeadlineExceeded extends Error {
  constructor(readonly ms: number) {
    super(`no complete answer within ${ms} ms`);
    this.name = 'DeadlineExceeded';
  }
}

/**
 * Runs `work` under a deadline of `ms` milliseconds (not positive or not finite: refused,
 * so a misconfigured 0 never means "wait forever").
 */
export async function withDeadline<T>(ms: number | undefined, work: (signal: AbortSignal) => Promise<T>): Promise<T> {
  const limit = ms ?? DEFAULT_TIMEOUT_MS;
  if (!(limit > 0) || !Number.isFinite(limit)) throw new RangeError(`timeoutMs must be a positive number of milliseconds, not ${String(ms)}`);
  const ctl = new AbortController();
  let timer: ReturnType<typeof setTimeout> | undefined;
  const expired = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      const e = new DeadlineExceeded(limit);
      ctl.abort(e);
      reject(e);
    }, limit);
  });
  try {
    return await Promise.race([work(ctl.signal), expired]);
  } finally {
    clearTimeout(timer);
  }
}
