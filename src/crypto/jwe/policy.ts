/**
 * What Portcullis accepts in a JWE (RFC 7516, algorithms RFC 7518 §4–5) and how a
 * JWE is bound to the route and app it was made for.
 *
 * Key management: ECDH-ES+A256KW and ECDH-ES (P-256, X25519), RSA-OAEP-256 (RSA ≥ 2048),
 * and for per-app symmetric keys `dir` and A256KW. Content encryption: A256GCM only.
 * Everything else (RSA1_5, PBES2-*, A128KW, CBC-HMAC, …) is refused before any key is used.
 */

export type JweAlg = 'ECDH-ES+A256KW' | 'ECDH-ES' | 'RSA-OAEP-256' | 'dir' | 'A256KW';
export type JweEnc = 'A256GCM';

export const JWE_ALGS: readonly JweAlg[] = ['ECDH-ES+A256KW', 'ECDH-ES', 'RSA-OAEP-256', 'dir', 'A256KW'];
export const JWE_ENCS: readonly JweEnc[] = ['A256GCM'];

/** The kinds of key a JWE can be decrypted with, and the algorithms each accepts. */
export type JweKeyKind = 'P-256' | 'X25519' | 'RSA' | 'oct';

export const ALGS_FOR_KIND: Readonly<Record<JweKeyKind, readonly JweAlg[]>> = {
  'P-256': ['ECDH-ES+A256KW', 'ECDH-ES'],
  X25519: ['ECDH-ES+A256KW', 'ECDH-ES'],
  RSA: ['RSA-OAEP-256'],
  oct: ['dir', 'A256KW'],
};

/** JWK `key_ops` values (RFC 7517 §4.3) that allow decrypting with `alg`. */
export const DECRYPT_OPS: Readonly<Record<JweAlg, readonly string[]>> = {
  dir: ['decrypt'],
  A256KW: ['unwrapKey', 'decrypt'],
  'RSA-OAEP-256': ['unwrapKey', 'decrypt'],
  'ECDH-ES': ['deriveBits', 'deriveKey', 'decrypt'],
  'ECDH-ES+A256KW': ['deriveBits', 'deriveKey', 'decrypt'],
};

/** Default upper bound on a JWE as received (compact string or JSON text). */
export const DEFAULT_MAX_JWE_BYTES = 1024 * 1024;
/** A general JSON JWE may list this many recipients at most. */
export const MAX_RECIPIENTS = 8;

/**
 * The context a JWE is bound to. Each member is a protected header parameter, so it is
 * covered by the AEAD tag (RFC 7516 §5.1 step 14): a ciphertext made for one route or app
 * does not decrypt as a message for another.
 */
export interface JweContext {
  /** Route audience (or route name): protected header `aud`. Always required. */
  aud: string;
  /** App id (client_id): protected header `pc_app`. */
  app?: string;
  /** Request id, e.g. to bind a response to its request: protected header `pc_rid`. */
  requestId?: string;
  /**
   * A response of the gateway: protected header `pc_dir: "response"`. A request carries no
   * `pc_dir`, so a response made with an app's symmetric key (same `aud` and `pc_app`) is
   * not taken back as a request body (reflection).
   */
  response?: boolean;
}

export const CONTEXT_HEADERS = { aud: 'aud', app: 'pc_app', requestId: 'pc_rid', response: 'pc_dir' } as const satisfies Record<keyof JweContext, string>;

/** The value of the direction member (`pc_dir`) of a response. */
export const RESPONSE_DIRECTION = 'response';

/** The protected header members that carry `ctx`. */
export function contextHeader(ctx: JweContext): Record<string, string> {
  const h: Record<string, string> = { [CONTEXT_HEADERS.aud]: ctx.aud };
  if (ctx.app !== undefined) h[CONTEXT_HEADERS.app] = ctx.app;
  if (ctx.requestId !== undefined) h[CONTEXT_HEADERS.requestId] = ctx.requestId;
  if (ctx.response === true) h[CONTEXT_HEADERS.response] = RESPONSE_DIRECTION;
  return h;
}
