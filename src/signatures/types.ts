/**
 * The message shapes RFC 9421 signs: a request or a response, reduced to what the
 * signature base needs, so the gateway can pass node request data and the SDK a
 * fetch `Request` without building one from the other.
 */

/** A web `Headers` object (or anything with the same `get`). */
export interface HeaderGetter {
  get(name: string): string | null;
}

/** Node-style headers: lowercase names, one string or one string per field line. */
export type HeaderRecord = Readonly<Record<string, string | readonly string[] | number | undefined>>;

/**
 * Field lines by lowercase name, one string per line as received (a server reading
 * node's `rawHeaders` without building a header object); undefined when absent.
 */
export interface FieldLineSource {
  fieldLines(name: string): readonly string[] | undefined;
}

export type MessageHeaders = HeaderGetter | HeaderRecord | FieldLineSource;

export interface HttpRequestLike {
  method: string;
  /** The absolute target URI as the client sent it (`https://host/path?query`). */
  url: string;
  headers: MessageHeaders;
  /** Trailer fields, for components with the `tr` parameter. */
  trailers?: MessageHeaders;
  /** The request-target as it appeared on the request line, when it differs from origin-form (`*`, authority-form). */
  requestTarget?: string;
}

export interface HttpResponseLike {
  status: number;
  headers: MessageHeaders;
  trailers?: MessageHeaders;
}

export type HttpMessageLike = HttpRequestLike | HttpResponseLike;

export function isRequestLike(m: HttpMessageLike): m is HttpRequestLike {
  return typeof (m as HttpRequestLike).method === 'string';
}

/** RFC 9421 §6.2 registered algorithms. */
export type SignatureAlgorithm =
  | 'rsa-pss-sha512'
  | 'rsa-v1_5-sha256'
  | 'hmac-sha256'
  | 'ecdsa-p256-sha256'
  | 'ecdsa-p384-sha384'
  | 'ed25519';

/** The metadata parameters of one signature (RFC 9421 §2.3). Times are seconds since the epoch. */
export interface SignatureParams {
  created?: number;
  expires?: number;
  nonce?: string;
  alg?: string;
  keyid?: string;
  tag?: string;
}
