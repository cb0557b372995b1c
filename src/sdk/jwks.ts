/**
 * Fetching the identity plane's JWK Set (`<issuer>/jwks`) for the SDK, per URL: concurrent
 * callers share one request, and after a failed one, later callers fail fast with
 * `unavailable` (no request) for a back-off of 1 s doubling to 30 s; a success resets it.
 * So a failing or slow identity plane gets at most one JWKS request per back-off from a
 * client, not one per API call. Each request has a deadline (`timeoutMs`, default 10 s),
 * so a plane that accepts and then stalls fails like one that refuses. A redirect is not
 * followed: a 3xx (or, in a browser, an opaque redirect) is a failed fetch, as is an answer
 * a caller's own `fetch` reached by following one, since whoever controls a redirect would
 * otherwise choose the keys that verify responses and webhooks and that requests are
 * encrypted to. At most `maxJwksBytes` of an answer are read (default 1 MiB, hundreds of
 * keys); a larger one is a failed fetch, its body cancelled.
 */
import { PortcullisError } from '../core/errors.js';
import { byteLimit, readJson } from './body.js';
import { DeadlineExceeded, withDeadline } from './deadline.js';

export interface JwksFetchOptions {
  fetch?: typeof fetch;
  /** The clock (milliseconds), for tests. */
  now?: () => number;
  /** The deadline of one JWKS request, body included, in milliseconds (default 10 s); a miss counts as a failure. */
  timeoutMs?: number;
  /** Most bytes of the JWKS answer read (default 1 MiB); a larger one counts as a failure. */
  maxJwksBytes?: number;
}

/** The default of `maxJwksBytes`. */
export const JWKS_MAX_BYTES = 1024 * 1024;

export const JWKS_BACKOFF_MIN_MS = 1_000;
export const JWKS_BACKOFF_MAX_MS = 30_000;

interface State {
  inflight: Promise<{ keys: unknown[] }> | undefined;
  failures: number;
  retryAt: number;
  lastError: unknown;
}

const states = new Map<string, State>();

/** The JWKS URL answered a redirect, which is not followed. */
class JwksRedirected extends Error {}

/** The JWKS URL answered more than `maxJwksBytes`. */
class JwksTooLarge extends Error {}

function request(url: string, doFetch: typeof fetch, timeoutMs: number | undefined, maxBytes: number): Promise<{ keys: unknown[] }> {
  return withDeadline(timeoutMs, async (signal) => {
    const res = await doFetch(url, { headers: { accept: 'application/jwk-set+json, application/json' }, redirect: 'manual', signal });
    if (res.type === 'opaqueredirect' || (res.status >= 300 && res.status < 400) || res.redirected) {
      await res.body?.cancel();
      throw new JwksRedirected(`JWKS ${url} answered a redirect${res.status !== 0 ? ` (${res.status})` : ''}, which is not followed`);
    }
    if (!res.ok) throw new Error(`JWKS ${url} answered ${res.status}`);
    const jwks = (await readJson(res, maxBytes, () => new JwksTooLarge(`the answer is larger than ${maxBytes} bytes`), signal)) as { keys: unknown[] } | undefined;
    if (!Array.isArray(jwks?.keys)) throw new Error(`JWKS ${url} is not a JWK Set`);
    return jwks;
  });
}

/** The JWK Set at `url`; `unavailable` when it cannot be fetched, or failed to be within the back-off. */
export function fetchJwks<K>(url: string, opts: JwksFetchOptions = {}): Promise<{ keys: K[] }> {
  let maxBytes: number;
  try {
    maxBytes = byteLimit('maxJwksBytes', opts.maxJwksBytes, JWKS_MAX_BYTES);
  } catch (e) {
    return Promise.reject(e);
  }
  let s = states.get(url);
  if (!s) states.set(url, (s = { inflight: undefined, failures: 0, retryAt: -Infinity, lastError: undefined }));
  const state = s;
  if (state.inflight) return state.inflight as Promise<{ keys: K[] }>;
  const now = opts.now ?? Date.now;
  const wait = state.retryAt - now();
  if (wait > 0) {
    return Promise.reject(new PortcullisError('unavailable', `the JWKS at ${url} could not be fetched; next try in ${Math.ceil(wait / 1000)} s`, { cause: state.lastError }));
  }
  state.inflight = request(url, opts.fetch ?? fetch, opts.timeoutMs, maxBytes).then(
    (jwks) => {
      state.failures = 0;
      state.retryAt = -Infinity;
      state.lastError = undefined;
      return jwks;
    },
    (e: unknown) => {
      state.failures++;
      state.retryAt = now() + Math.min(JWKS_BACKOFF_MIN_MS * 2 ** (state.failures - 1), JWKS_BACKOFF_MAX_MS);
      state.lastError = e;
      // fail closed, with the SDK's typed error: nothing verifies or encrypts without the keys
      const why = e instanceof DeadlineExceeded || e instanceof JwksTooLarge ? ` (${e.message})` : e instanceof JwksRedirected ? ': it answered a redirect, which is not followed' : '';
      throw new PortcullisError('unavailable', `the JWKS at ${url} could not be fetched${why}`, { cause: e });
    },
  ).finally(() => (state.inflight = undefined));
  return state.inflight as Promise<{ keys: K[] }>;
}
