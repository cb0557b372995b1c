/**
 * Verifying what Portcullis signs: responses from a route that signs them (`@status`,
 * `content-digest`, and the request's signature through `req`), and what it POSTs to
 * receivers (`@method`, `@target-uri`, `content-digest`, `content-type`, a `nonce`,
 * and the tag of its purpose: `portcullis-webhook` for event webhooks,
 * `portcullis-otp` for one-time codes to the SMS gateway; and an event's
 * `portcullis-delivery` id). The body is read once and
 * checked against its Content-Digest (RFC 9530); keys come from the identity plane's
 * JWKS or are given.
 */
import { PortcullisError } from '../core/errors.js';
import { contentDigest, parseContentDigest } from '../signatures/content-digest.js';
import { fieldLines } from '../signatures/components.js';
import { parseComponentId, parseSignatureInput } from '../signatures/signature-input.js';
import { SignatureVerifier, readSignatures, type VerifiedSignature } from '../signatures/verify.js';
import type { HttpRequestLike } from '../signatures/types.js';
import { readBounded } from './body.js';
import { resolverFor, type KeySource } from './keys.js';
import { requestOf } from './signed-fetch.js';
import { sentTargetUri } from '../signatures/target-uri.js';
import { MemoryReplayStore, type ReplayStore } from './replay.js';
import { DELIVERY_HEADER, OTP_TAG, TAG_PURPOSE, WEBHOOK_TAG } from '../webhooks/tags.js';

export type VerifyOptions = KeySource & {
  /** Maximum age of `created` in seconds (default 300); a finite number, 0 or more (else RangeError). */
  maxAge?: number;
  /** Allowed clock difference in seconds (default 30); a finite number, 0 or more (else RangeError). */
  clockSkew?: number;
  /** Components the signature must cover besides the defaults. */
  requiredComponents?: readonly string[];
};

export type VerifyResponseOptions = VerifyOptions & {
  /** The request the response answers (default: the one `createSignedFetch` remembers for this Response). */
  request?: Request | HttpRequestLike;
  /**
   * `false` accepts a response when its request is unknown (none given, none remembered),
   * checking only its signature and digest: WEAKER, such a response may be a signed answer
   * to another request, replayed. Only for responses that no request can be known for; a
   * signature that covers request components still needs the request. A request that is
   * known is checked all the same. Default: a response whose request is unknown is
   * `signature.request-unknown`.
   */
  requestBinding?: false;
  /** Most body bytes read (default 32 MiB); `response.body-too-large` beyond. */
  maxBodyBytes?: number;
};

export interface VerifiedBody extends VerifiedSignature {
  /** The body bytes that were verified. */
  body: Uint8Array;
}

/**
 * A window option in seconds: a finite number, 0 or more, or `fallback` when not given. Every
 * comparison with NaN is false, so a NaN window (a missing environment variable through
 * Number()) would pass any age and, as the replay store's expiry, forget each nonce at once.
 */
function windowSeconds(name: string, value: number | undefined, fallback: number): number {
  if (value === undefined) return fallback;
  if (typeof value !== 'number' || !Number.isFinite(value) || value < 0) throw new RangeError(`${name} must be a finite number of seconds, 0 or more, not ${String(value)}`);
  return value;
}

function same(a: Uint8Array, b: Uint8Array): boolean {
  if (a.byteLength !== b.byteLength) return false;
  let d = 0;
  for (let i = 0; i < a.byteLength; i++) d |= a[i]! ^ b[i]!;
  return d === 0;
}

/** Checks `body` against the message's Content-Digest; a body needs one (`digest.missing`), a mismatch is `digest.mismatch`. */
async function checkDigest(headers: Headers, body: Uint8Array): Promise<boolean> {
  const header = headers.get('content-digest');
  if (header === null) {
    if (body.byteLength > 0) throw new PortcullisError('digest.missing', 'the message has a body but no Content-Digest');
    return false;
  }
  const want = parseContentDigest(header);
  if (want.size === 0) throw new PortcullisError('digest.missing', 'Content-Digest has no sha-256 or sha-512 member');
  for (const [alg, expected] of want) {
    const got = parseContentDigest(await contentDigest(body, [alg])).get(alg)!;
    if (!same(got, expected)) throw new PortcullisError('digest.mismatch', `the body does not match its ${alg} Content-Digest`);
  }
  return true;
}

/** The labels of the request's signatures, or undefined when it is not signed. */
function signatureLabels(req: HttpRequestLike): Set<string> | undefined {
  const lines = fieldLines(req.headers, 'signature-input');
  if (lines === undefined) return undefined;
  return new Set(parseSignatureInput(lines.join(', ')).keys());
}

function coversRequestSignature(component: string, labels: ReadonlySet<string>): boolean {
  const c = parseComponentId(component);
  const key = c.params.get('key');
  return c.name === 'signature' && c.params.get('req') === true && typeof key === 'string' && labels.has(key);
}

/** What a response to an unsigned request covers of it (the gateway's `REQUEST_BINDING`). */
const UNSIGNED_REQUEST_BINDING = ['"@method";req', '"@authority";req', '"@path";req', '"@query";req'];

function requestLike(r: Request | HttpRequestLike): HttpRequestLike {
  // the URL as fetch sent it: no fragment, no empty query (target-uri.ts)
  return r instanceof Request ? { method: r.method, url: sentTargetUri(r.url), headers: r.headers } : r;
}

/** The results of `verifyResponse` and the body each checked, so `decryptFromPortcullis` can tell one from a look-alike. */
const verifiedResponses = new WeakMap<VerifiedBody, Uint8Array>();

/** The body `verifyResponse` checked, when `v` is a result of it (not a copy, a look-alike, or `verifyWebhook`'s); else undefined. */
export function verifiedResponseBody(v: object): Uint8Array | undefined {
  return verifiedResponses.get(v as VerifiedBody);
}

/** Most body bytes `verifyResponse` reads by default: above the 16 MiB the gateway buffers to sign, once encrypted (4/3) too. */
const DEFAULT_MAX_RESPONSE_BODY = 32 * 1024 * 1024;

/**
 * Verifies a signed response and its Content-Digest; returns the signature facts and
 * the body. The signature must bind the response to its request (`;req`): cover its
 * signature, or for an unsigned request its `@method`, `@authority`, `@path` and `@query`.
 * The request is `request`, or the one `createSignedFetch` remembers for this Response
 * object (not for a clone: pass `request: requestOf(original)`). With neither, the
 * binding cannot be checked, and the call is refused (`signature.request-unknown`)
 * before anything is fetched or read, unless `requestBinding: false` (weaker, below).
 *
 * The signature (over the Content-Digest field) is checked before the body is read, so
 * an unsigned or forged response is refused without reading it; the body is then read
 * up to `maxBodyBytes` (default 32 MiB; `response.body-too-large` beyond) and checked
 * against the digest.
 *
 * @example
 * const res = await signedFetch(url, init);
 * const { body } = await verifyResponse(res, { jwksUrl: 'https://id.example/jwks' });
 * // a clone is not remembered: name its request
 * const copy = res.clone();
 * await verifyResponse(copy, { jwksUrl: 'https://id.example/jwks', request: requestOf(res) });
 */
export async function verifyResponse(response: Response, options: VerifyResponseOptions): Promise<VerifiedBody> {
  const maxAge = windowSeconds('maxAge', options.maxAge, 300);
  const clockSkew = windowSeconds('clockSkew', options.clockSkew, 30);
  const request = options.request ?? requestOf(response);
  if (request === undefined && options.requestBinding !== false) {
    throw new PortcullisError(
      'signature.request-unknown',
      'the request this response answers is unknown (none given as request, none remembered by createSignedFetch for this Response), so its binding to it cannot be checked; pass request, or requestBinding: false to accept a response bound to no request',
    );
  }
  // a response without the field may have no body (checked once it is read); one with it must cover it
  const hasDigest = response.headers.get('content-digest') !== null;
  const required = ['@status', ...(hasDigest ? ['content-digest'] : []), ...(options.requiredComponents ?? [])];
  const resolver = resolverFor(options);
  const verifier = new SignatureVerifier({ keyLookup: (kid) => resolver.get(kid), requiredComponents: required, maxAge, clockSkew });
  const req = request ? requestLike(request) : undefined;
  const v = await verifier.verify({ status: response.status, headers: response.headers }, req);
  const requestLabels = req === undefined ? undefined : signatureLabels(req);
  // RFC 9421 §2.4: bound only by covering the request's own signature ("signature";req;key="<label>"), not any ;req component
  if (requestLabels !== undefined && !v.components.some((c) => coversRequestSignature(c, requestLabels))) {
    throw new PortcullisError('signature.component-missing', 'the response signature is not bound to the request (it does not cover "signature";req;key=<the request signature label>)');
  }
  // an unsigned request: the response must cover what identifies it, or any signed response would pass as its answer
  if (req !== undefined && requestLabels === undefined) {
    const unbound = UNSIGNED_REQUEST_BINDING.find((c) => !v.components.includes(c));
    if (unbound !== undefined) throw new PortcullisError('signature.component-missing', `the response signature is not bound to the request (it does not cover ${unbound})`);
  }
  const max = options.maxBodyBytes ?? DEFAULT_MAX_RESPONSE_BODY;
  const body = await readBounded(response, max, () => new PortcullisError('response.body-too-large', `the response body is larger than ${max} bytes`), { keep: true });
  await checkDigest(response.headers, body);
  const verified: VerifiedBody = { ...v, body };
  verifiedResponses.set(verified, body);
  return verified;
}

export { DELIVERY_HEADER, OTP_TAG, WEBHOOK_TAG };

export type VerifyWebhookOptions = VerifyOptions & {
  /** The URL Portcullis posted to, when a proxy in front rewrote it (default `request.url`). */
  url?: string;
  /**
   * The tag the signature must carry (default `WEBHOOK_TAG`, event webhooks); the SMS
   * bridge that receives one-time codes passes `OTP_TAG`. A message signed with
   * another tag, or none, is `signature.wrong-tag`.
   */
  tag?: string;
  /**
   * Where accepted nonces are remembered (default: one bounded in-memory store per
   * process, shared by every call). Several instances of one receiver must share one.
   */
  replayStore?: ReplayStore;
  /**
   * Most body bytes read (default 1 MiB; events and one-time-code messages are a few
   * kilobytes). The body is read before the signature is checked, so a larger one, with
   * or without a Content-Length, is `request.body-too-large` once the limit is passed.
   */
  maxBodyBytes?: number;
};

const DEFAULT_MAX_WEBHOOK_BODY = 1024 * 1024;

let defaultReplayStore: MemoryReplayStore | undefined;

/** What messages with `tag` are, when it is one of Portcullis's tags. */
function purposeOf(tag: string): string | undefined {
  return Object.hasOwn(TAG_PURPOSE, tag) ? (TAG_PURPOSE as Readonly<Record<string, string>>)[tag] : undefined;
}

function describeTag(tag: string): string {
  const p = purposeOf(tag);
  return `${JSON.stringify(tag.length > 64 ? `${tag.slice(0, 64)}…` : tag)}${p !== undefined ? ` (${p})` : ''}`;
}

/**
 * Verifies a webhook from Portcullis: the signature (the expected tag, default
 * `portcullis-webhook`; key from the JWKS) over method, target URI, Content-Digest and
 * Content-Type (and, for an event webhook, the `Portcullis-Delivery` id), and the body
 * against its digest; then that its `nonce` was not seen
 * before (`signature.replayed`), recording it until the signature's window closes
 * (the end of second `created` + `maxAge` + `clockSkew`). Returns the parsed body. Behind a proxy that
 * rewrites the URL, pass the URL Portcullis posted to as `url`.
 *
 * Errors: a RangeError for a `maxAge` or `clockSkew` that is not a finite number of seconds,
 * 0 or more (before anything is read); `request.body-too-large` for a body over `maxBodyBytes` (read before anything
 * is verified, so bounded); `signature.wrong-tag` for a message signed for another purpose (an OTP
 * message at an event receiver, or the reverse); `signature.parameter-missing` for a
 * signature without `nonce`; `signature.replayed` for a nonce already accepted;
 * `signature.component-missing` for an event webhook whose signature does not cover its
 * `Portcullis-Delivery` id (or any message that carries that header uncovered: an id
 * added or changed outside the signature), `signature.invalid` for one whose id changed.
 *
 * @example
 * const { event } = await verifyWebhook(request, { jwksUrl: 'https://id.example/jwks' });
 * if (seen.has(event.id)) return new Response(null, { status: 200 }); // retries resend the same id (with a new signature)
 * // or de-duplicate on `deliveryId` (one event, one id per subscription; signed like the body)
 * // the SMS bridge: one-time codes carry their own tag
 * const { event: sms } = await verifyWebhook<{ to: string; text: string }>(request, { jwksUrl, tag: OTP_TAG });
 */
export async function verifyWebhook<E = { id: string; type: string; time: string; client_id: string | null; data: Record<string, unknown> }>(
  request: Request,
  options: VerifyWebhookOptions,
): Promise<VerifiedBody & { event: E; deliveryId: string | undefined }> {
  const tag = options.tag ?? WEBHOOK_TAG;
  const maxAge = windowSeconds('maxAge', options.maxAge, 300);
  const clockSkew = windowSeconds('clockSkew', options.clockSkew, 30);
  const message = { method: request.method, url: options.url ?? request.url, headers: request.headers };
  const parsed = readSignatures(message);
  // the same key signs every purpose: a message signed for another one is refused by name, before anything is verified
  const inputs = [...parsed.inputs.values()];
  if (inputs.length > 0 && !inputs.some((i) => i.params.tag === tag)) {
    const found = inputs[0]!.params.tag;
    throw new PortcullisError('signature.wrong-tag', `the message is signed ${typeof found === 'string' ? `with tag ${describeTag(found)}` : 'without a tag'}, not ${describeTag(tag)}`);
  }
  const maxBody = options.maxBodyBytes ?? DEFAULT_MAX_WEBHOOK_BODY;
  const body = await readBounded(request, maxBody, () => new PortcullisError('request.body-too-large', `the webhook body is larger than ${maxBody} bytes`), { keep: true });
  if (request.headers.get('content-digest') === null) throw new PortcullisError('digest.missing', 'the webhook has no Content-Digest');
  await checkDigest(request.headers, body);
  const resolver = resolverFor(options);
  const verifier = new SignatureVerifier({
    keyLookup: (kid) => resolver.get(kid),
    tag,
    // Portcullis covers the delivery id of every event it sends: a receiver that de-duplicates on it can trust it
    requiredComponents: ['@method', '@target-uri', 'content-digest', 'content-type', ...(tag === WEBHOOK_TAG || request.headers.has(DELIVERY_HEADER) ? [DELIVERY_HEADER] : []), ...(options.requiredComponents ?? [])],
    requireNonce: true,
    maxAge,
    clockSkew,
  });
  const v = await verifier.verify(message, undefined, parsed);
  // only a verified signature reaches the store: a forger can neither burn a nonce nor fill the store
  const store = options.replayStore ?? (defaultReplayStore ??= new MemoryReplayStore());
  // the verifier compares whole seconds: the signature verifies until the end of second created + maxAge + clockSkew
  if (await store.seen(v.params.nonce!, (v.params.created! + maxAge + clockSkew + 1) * 1000)) {
    throw new PortcullisError('signature.replayed', 'the message was already received (its signature nonce was seen before): a replay');
  }
  let event: E;
  try {
    event = JSON.parse(new TextDecoder().decode(body)) as E;
  } catch (e) {
    throw new PortcullisError('request.malformed', 'the webhook body is not JSON', { cause: e });
  }
  return { ...v, body, event, deliveryId: request.headers.get(DELIVERY_HEADER) ?? undefined };
}
