/**
 * A `fetch` that signs every request (RFC 9421) with the app's key and adds a
 * Content-Digest (RFC 9530, sha-256) for bodies. Default coverage is what the
 * gateway requires by default: `@method`, `@target-uri`, and `content-digest` when
 * there is a body; parameters `created`, `nonce` (fresh per request) and `keyid`.
 *
 * Redirects are not followed: the signature covers one target URI, and fetch would
 * re-send it (with Content-Digest, and on the same origin the bearer token and a 307's
 * body) to the Location, where it can only fail or be captured. The 3xx comes back to
 * the app (in a browser as an `opaqueredirect`); to go on, call the signed fetch again
 * with the Location, which signs afresh for it. `redirect: 'error'` is kept.
 *
 * The caller's other fetch options, which the signature does not cover, are kept as
 * given: `signal`, `credentials`, `cache`, `integrity`, `keepalive`, `mode`, `referrer`,
 * `referrerPolicy` (on the init or on a Request given as input), and an init's `priority`.
 * `mode: 'no-cors'` is a TypeError: a browser sends such a request without its Signature,
 * Signature-Input, Content-Digest and Authorization headers.
 */
import { importParams } from '../signatures/algorithms.js';
import { contentDigest } from '../signatures/content-digest.js';
import { signMessage } from '../signatures/sign.js';
import { sentTargetUri } from '../signatures/target-uri.js';
import type { SignatureAlgorithm } from '../signatures/types.js';
import { base64urlDecode, randomToken } from './base64url.js';

export interface SignedFetchOptions {
  keyid: string;
  /** A private (or HMAC) WebCrypto key with usage `sign`… */
  key?: CryptoKey;
  /** …or the base64url HMAC secret Portcullis returned when the key was added (hmac-sha256). */
  hmacSecret?: string;
  /** Default `hmac-sha256` with `hmacSecret`; required with `key`. */
  alg?: SignatureAlgorithm;
  /** Covered components; default `@method`, `@target-uri` (+ `content-digest` with a body). `content-digest` is always added for a body. */
  components?: readonly string[];
  /** Send a fresh random nonce with every signature (default true). */
  nonce?: boolean;
  /** `expires` this many seconds after `created`. */
  expiresIn?: number;
  tag?: string;
  /** Signature label (default `sig1`). */
  label?: string;
  /** Adds `Authorization: Bearer <token>` before signing (e.g. `() => getToken({...})`). */
  token?: () => string | Promise<string>;
  fetch?: typeof fetch;
}

const sent = new WeakMap<Response, Request>();

/** The signed request a response from `createSignedFetch` answers (for `verifyResponse`). */
export function requestOf(response: Response): Request | undefined {
  return sent.get(response);
}

/**
 * @example
 * const signedFetch = createSignedFetch({ keyid: 'app1.k1', hmacSecret: process.env.SIGNING_SECRET! });
 * const res = await signedFetch('https://gateway.example/orders', { method: 'POST', body: JSON.stringify(order), headers: { 'content-type': 'application/json' } });
 */
export function createSignedFetch(options: SignedFetchOptions): typeof fetch {
  if ((options.key === undefined) === (options.hmacSecret === undefined)) throw new TypeError('createSignedFetch: give exactly one of key or hmacSecret');
  const alg = options.alg ?? (options.hmacSecret !== undefined ? 'hmac-sha256' : undefined);
  if (alg === undefined) throw new TypeError('createSignedFetch: alg is required with key');
  if (options.hmacSecret !== undefined && alg !== 'hmac-sha256') throw new TypeError('createSignedFetch: hmacSecret is for hmac-sha256');
  const keyPromise: Promise<CryptoKey> =
    options.key !== undefined ? Promise.resolve(options.key) : crypto.subtle.importKey('raw', base64urlDecode(options.hmacSecret!), importParams('hmac-sha256'), false, ['sign']);
  const doFetch = options.fetch ?? ((...a: Parameters<typeof fetch>) => fetch(...a));
  const base = options.components ?? ['@method', '@target-uri'];

  const signedFetch = async (input: RequestInfo | URL, init?: RequestInit): Promise<Response> => {
    const original = new Request(input, init);
    // browsers drop a no-cors request's non-safelisted headers (the signature with them) and fail its manual redirect mode
    if (original.mode === 'no-cors') throw new TypeError("createSignedFetch: mode 'no-cors' cannot carry a signature (its Signature headers would be dropped)");
    const headers = new Headers(original.headers);
    const body = original.body === null ? undefined : new Uint8Array(await original.arrayBuffer());
    const components = [...base];
    if (body !== undefined) {
      headers.set('content-digest', await contentDigest(body, ['sha-256']));
      if (!components.includes('content-digest')) components.push('content-digest');
    }
    if (options.token) headers.set('authorization', `Bearer ${await options.token()}`);
    // signed and sent alike: no fragment, no empty query (target-uri.ts)
    const url = sentTargetUri(original.url);
    const s = await signMessage(
      { method: original.method, url, headers },
      {
        key: await keyPromise,
        alg,
        keyid: options.keyid,
        components,
        ...(options.nonce === false ? {} : { nonce: randomToken(16) }),
        ...(options.expiresIn !== undefined ? { expiresIn: options.expiresIn } : {}),
        ...(options.tag !== undefined ? { tag: options.tag } : {}),
        ...(options.label !== undefined ? { label: options.label } : {}),
      },
    );
    headers.append('signature-input', s.signatureInput);
    headers.append('signature', s.signature);
    const request = new Request(url, {
      method: original.method,
      headers,
      ...(body !== undefined ? { body } : {}),
      // a signature made for this URI is never re-sent to another one
      redirect: original.redirect === 'error' ? 'error' : 'manual',
      // what the caller asked of fetch and the signature does not cover, kept as asked
      signal: original.signal,
      credentials: original.credentials,
      cache: original.cache,
      integrity: original.integrity,
      keepalive: original.keepalive,
      // a navigation (a service worker's FetchEvent.request) cannot be made by a constructor: same-origin, as the Fetch standard's Request constructor does
      mode: original.mode === 'navigate' ? 'same-origin' : original.mode,
      referrer: original.referrer,
      referrerPolicy: original.referrerPolicy,
      // an init member a Request does not expose
      ...(init?.priority !== undefined ? { priority: init.priority } : {}),
    });
    const response = await doFetch(request.clone());
    sent.set(response, request);
    return response;
  };
  return signedFetch as typeof fetch;
}
