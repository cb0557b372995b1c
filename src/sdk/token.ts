/**
 * OAuth 2.0 client credentials (RFC 6749 §4.4) against the Portcullis token endpoint,
 * with `client_secret_basic` and the token cached until shortly before it expires.
 * Concurrent callers share one request, which has a deadline (`timeoutMs`).
 */
import { byteLimit, readJson } from './body.js';
import { DeadlineExceeded, withDeadline } from './deadline.js';

export interface GetTokenOptions {
  tokenUrl: string;
  clientId: string;
  clientSecret: string;
  /** Space-separated scopes. */
  scope?: string;
  /** RFC 8707 resource indicator (the API audience). */
  resource?: string;
  /** Renew this many seconds before expiry (default 30, at most half the lifetime). */
  refreshBeforeSeconds?: number;
  fetch?: typeof fetch;
  /** Milliseconds since the epoch (tests). */
  now?: () => number;
  /**
   * The deadline of the token request, answer included, in milliseconds (default 10 s).
   * A miss is a `TokenError` with status 0 and error `timeout`.
   */
  timeoutMs?: number;
  /**
   * Most bytes of the token endpoint's answer read (default 1 MiB); a larger answer is a
   * `TokenError` with error `response_too_large`, its body cancelled.
   */
  maxResponseBytes?: number;
}

/** The default of `maxResponseBytes`. */
export const TOKEN_MAX_RESPONSE_BYTES = 1024 * 1024;

export class TokenError extends Error {
  constructor(
    readonly status: number,
    readonly error: string,
    message: string,
  ) {
    super(message);
    this.name = 'TokenError';
  }
}

interface Cached {
  token: string;
  /** When to fetch a new one (epoch ms). */
  renewAt: number;
}

const cache = new Map<string, Cached>();
const inflight = new Map<string, Promise<Cached>>();
/** Counts clearTokenCache() calls, so a request begun before one is not cached after it. */
let generation = 0;

function cacheKey(o: GetTokenOptions): string {
  return JSON.stringify([o.tokenUrl, o.clientId, o.clientSecret, o.scope ?? '', o.resource ?? '']);
}

/** RFC 6749 §2.3.1: client id and secret are form-urlencoded before Basic encoding. */
function basic(id: string, secret: string): string {
  const enc = (s: string) => encodeURIComponent(s).replace(/%20/g, '+');
  const bytes = new TextEncoder().encode(`${enc(id)}:${enc(secret)}`);
  let bin = '';
  for (const b of bytes) bin += String.fromCharCode(b);
  return `Basic ${btoa(bin)}`;
}

async function request(o: GetTokenOptions, now: () => number): Promise<Cached> {
  const form = new URLSearchParams({ grant_type: 'client_credentials' });
  if (o.scope) form.set('scope', o.scope);
  if (o.resource) form.set('resource', o.resource);
  const maxBytes = byteLimit('maxResponseBytes', o.maxResponseBytes, TOKEN_MAX_RESPONSE_BYTES);
  const started = now();
  type Answer = { access_token?: string; expires_in?: number; error?: string; error_description?: string };
  const { res, json } = await withDeadline(o.timeoutMs, async (signal) => {
    const res = await (o.fetch ?? fetch)(o.tokenUrl, {
      method: 'POST',
      headers: { authorization: basic(o.clientId, o.clientSecret), 'content-type': 'application/x-www-form-urlencoded', accept: 'application/json' },
      body: form.toString(),
      signal,
    });
    // a body that stalls past the deadline is a timeout, not an empty answer
    const tooLarge = () => new TokenError(res.status, 'response_too_large', `the token endpoint answered ${res.status} with a body larger than ${maxBytes} bytes`);
    const answer = await readJson(res, maxBytes, tooLarge, signal);
    const json = (typeof answer === 'object' && answer !== null ? answer : {}) as Answer;
    return { res, json };
  }).catch((e: unknown) => {
    if (e instanceof DeadlineExceeded) throw new TokenError(0, 'timeout', `the token endpoint gave no complete answer within ${e.ms} ms`);
    throw e;
  });
  if (!res.ok || typeof json.access_token !== 'string') {
    throw new TokenError(res.status, json.error ?? 'invalid_response', json.error_description ?? `the token endpoint answered ${res.status}`);
  }
  const lifetime = typeof json.expires_in === 'number' && json.expires_in > 0 ? json.expires_in : 60;
  const margin = Math.min(o.refreshBeforeSeconds ?? 30, lifetime / 2);
  return { token: json.access_token, renewAt: started + (lifetime - margin) * 1000 };
}

/**
 * An access token for the app, from the cache while it has more than the margin left.
 *
 * @example
 * const token = await getToken({ tokenUrl: 'https://id.example/token', clientId, clientSecret, resource: 'https://api.example' });
 */
export async function getToken(o: GetTokenOptions): Promise<string> {
  const now = o.now ?? Date.now;
  const key = cacheKey(o);
  const hit = cache.get(key);
  if (hit && now() < hit.renewAt) return hit.token;
  let p = inflight.get(key);
  if (!p) {
    const asked = generation;
    const fresh: Promise<Cached> = request(o, now)
      .then((t) => {
        // asked for before a clearTokenCache(): answers its callers, never a later one
        if (asked === generation) cache.set(key, t);
        return t;
      })
      .finally(() => {
        if (inflight.get(key) === fresh) inflight.delete(key);
      });
    inflight.set(key, (p = fresh));
  }
  return (await p).token;
}

/**
 * Forgets cached tokens (after a 401, a revocation, a changed secret, or on sign-out). A
 * token request in flight is forgotten too: what it brings back is not cached, and the
 * next call asks again.
 */
export function clearTokenCache(): void {
  generation++;
  cache.clear();
  inflight.clear();
}
