/**
 * Encrypted bodies for apps (JWE, RFC 7516), on web standards only: encrypt a request
 * body to the `use: enc` key Portcullis publishes in its JWKS, and decrypt a response
 * Portcullis encrypted to the app's own key. The policy is the server's: A256GCM content
 * encryption; ECDH-ES+A256KW, ECDH-ES, RSA-OAEP-256 to published keys; dir or A256KW
 * with an app's AES key; the context (route audience, app, request id) in the protected
 * header so a ciphertext cannot be replayed to another route or app.
 */
import { compactDecrypt, CompactEncrypt, flattenedDecrypt, importJWK, type CompactJWEHeaderParameters, type FlattenedJWE, type JWK, type JWEHeaderParameters } from 'jose';
import { PortcullisError } from '../core/errors.js';
import { ALGS_FOR_KIND, contextHeader, CONTEXT_HEADERS, DECRYPT_OPS, JWE_ALGS, RESPONSE_DIRECTION, type JweAlg } from '../crypto/jwe/policy.js';
import { base64urlDecode } from './base64url.js';
import { fetchJwks } from './jwks.js';
import { verifiedResponseBody, type VerifiedBody } from './verify-response.js';

export type PortcullisJweAlg = 'ECDH-ES+A256KW' | 'ECDH-ES' | 'RSA-OAEP-256';

/** What the protected header binds: `aud` (route audience), `pc_app` (client_id), `pc_rid` (request id). */
export interface JweContext {
  aud: string;
  app?: string;
  requestId?: string;
}

export interface EncryptForPortcullisOptions {
  /**
   * The identity plane JWKS (`<issuer>/jwks`); fetched once and cached for `cacheMs`. After a
   * failed fetch, calls fail fast with `unavailable` for a back-off (1 s doubling to 30 s).
   */
  jwksUrl?: string;
  /** Or the JWKS itself. */
  jwks?: { keys: JWK[] };
  /** Default: ECDH-ES+A256KW. Only a key published with this `alg` is used (RFC 7517 §4.4): Portcullis publishes its EC/OKP keys for ECDH-ES+A256KW only. */
  alg?: PortcullisJweAlg;
  /** For ECDH: the curve to use when several are published (default: the first published). */
  crv?: 'P-256' | 'X25519';
  context: JweContext;
  /** Media type of the plaintext (protected `cty`), e.g. `application/json`. */
  cty?: string;
  fetch?: typeof fetch;
  cacheMs?: number;
  /** The deadline of the JWKS request, body included, in milliseconds (default 10 s). */
  timeoutMs?: number;
  /** Most bytes of the JWKS answer read (default 1 MiB); a larger one is `unavailable`. */
  maxJwksBytes?: number;
  /** The clock (milliseconds), for tests. */
  now?: () => number;
}

const cache = new Map<string, { at: number; jwks: { keys: JWK[] } }>();

async function discover(opts: EncryptForPortcullisOptions): Promise<{ keys: JWK[] }> {
  if (opts.jwks) return opts.jwks;
  if (!opts.jwksUrl) throw new PortcullisError('request.invalid', 'give jwksUrl or jwks');
  const hit = cache.get(opts.jwksUrl);
  const now = opts.now ?? Date.now;
  if (hit && now() - hit.at < (opts.cacheMs ?? 300_000)) return hit.jwks;
  // shared with concurrent callers and with verification; fails fast within the back-off after a failure
  const jwks = await fetchJwks<JWK>(opts.jwksUrl, opts);
  cache.set(opts.jwksUrl, { at: now(), jwks });
  return jwks;
}

/** The published encryption key for `alg` (and `crv`): `use: enc`, published with that `alg`. */
export function selectEncryptionKey(jwks: { keys: JWK[] }, alg: PortcullisJweAlg = 'ECDH-ES+A256KW', crv?: string): JWK {
  const fits = (k: JWK) => (alg === 'RSA-OAEP-256' ? k.kty === 'RSA' && k.alg === 'RSA-OAEP-256' : (k.kty === 'EC' || k.kty === 'OKP') && k.alg === alg && (crv === undefined || k.crv === crv));
  const key = jwks.keys.find((k) => k.use === 'enc' && fits(k));
  if (!key) throw new PortcullisError('jwe.unknown-key', `the JWKS publishes no use:enc key for ${alg}${crv ? ` on ${crv}` : ''}`);
  return key;
}

/**
 * Encrypts `plaintext` to Portcullis's current published key; returns a compact JWE to
 * send as `application/jose`.
 *
 * @example
 * const body = await encryptForPortcullis(JSON.stringify(order), { jwksUrl: 'https://id.example/jwks', context: { aud: 'orders-api' }, cty: 'application/json' });
 * await fetch(url, { method: 'POST', headers: { 'content-type': 'application/jose', authorization }, body });
 */
export async function encryptForPortcullis(plaintext: Uint8Array | string, opts: EncryptForPortcullisOptions): Promise<string> {
  if (!opts.context || typeof opts.context.aud !== 'string' || opts.context.aud === '') throw new PortcullisError('jwe.context-mismatch', 'a JWE must bind an audience (context.aud)');
  const alg = opts.alg ?? 'ECDH-ES+A256KW';
  const jwk = selectEncryptionKey(await discover(opts), alg, opts.crv);
  const { kid, alg: _a, use: _u, key_ops: _o, ...material } = jwk;
  const key = await importJWK(material, alg);
  const { aud, app, requestId } = opts.context;
  // a request never carries pc_dir (the gateway refuses one that does), whatever else the context object holds
  const header: CompactJWEHeaderParameters = { alg, enc: 'A256GCM', ...contextHeader({ aud, ...(app !== undefined ? { app } : {}), ...(requestId !== undefined ? { requestId } : {}) }) };
  if (kid !== undefined) header.kid = kid;
  if (opts.cty !== undefined) header.cty = opts.cty;
  const data = typeof plaintext === 'string' ? new TextEncoder().encode(plaintext) : plaintext;
  return new CompactEncrypt(data).setProtectedHeader(header).encrypt(key);
}

const malformed = (msg: string) => new PortcullisError('jwe.malformed', msg);
const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/** The JWE (compact text, or the flattened JSON object) and its joint header (protected, shared and per-recipient). */
function parseJwe(jwe: string): { input: string | FlattenedJWE; header: Record<string, unknown> } {
  const text = jwe.trim();
  let input: string | FlattenedJWE = text;
  let protectedB64: unknown;
  const extra: unknown[] = [];
  if (text.startsWith('{')) {
    let v: unknown;
    try {
      v = JSON.parse(text);
    } catch {
      throw malformed('the JWE JSON serialization is not valid JSON');
    }
    if (!isObject(v)) throw malformed('the JWE JSON serialization must be an object');
    input = v as unknown as FlattenedJWE;
    protectedB64 = v.protected;
    extra.push(v.unprotected, v.header);
  } else {
    const parts = text.split('.');
    if (parts.length !== 5) throw malformed('a compact JWE has five base64url parts');
    protectedB64 = parts[0];
  }
  if (protectedB64 === undefined) throw new PortcullisError('jwe.context-mismatch', 'the JWE has no protected header, so it binds no context');
  let parsed: unknown;
  try {
    parsed = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(base64urlDecode(String(protectedB64))));
  } catch {
    throw malformed('the protected header is not base64url JSON');
  }
  if (!isObject(parsed)) throw malformed('the protected header must be a JSON object');
  let header = parsed;
  for (const h of extra) {
    if (h === undefined) continue;
    if (!isObject(h)) throw malformed('unprotected headers must be JSON objects');
    header = { ...h, ...header };
  }
  return { input, header };
}

/** The JWE algorithms a JWK type serves. */
const ALGS_FOR_KTY: Readonly<Record<string, readonly JweAlg[]>> = { oct: ALGS_FOR_KIND.oct, RSA: ALGS_FOR_KIND.RSA, EC: ALGS_FOR_KIND['P-256'], OKP: ALGS_FOR_KIND.X25519 };

/**
 * The key of a JWK for decrypting a JWE under `alg`, after the checks the server makes of
 * its own keys (RFC 7517 §4.2–4.4): `use` must be `enc`, `key_ops` must allow decrypting with
 * `alg` (`jwe.wrong-key-use`), and the JWK's `alg` and type must fit the JWE's (`jwe.alg-not-allowed`),
 * so an A256KW key does not open a `dir` JWE or the reverse.
 */
async function jwkFor(jwk: JWK, alg: JweAlg): Promise<CryptoKey | Uint8Array> {
  const { alg: jwkAlg, use, key_ops: keyOps, kid: _k, ...material } = jwk;
  if (use !== undefined && use !== 'enc') throw new PortcullisError('jwe.wrong-key-use', `the key has use "${String(use).slice(0, 40)}", not "enc"`);
  if (keyOps !== undefined && (!Array.isArray(keyOps) || !keyOps.some((op) => DECRYPT_OPS[alg].includes(op)))) {
    throw new PortcullisError('jwe.wrong-key-use', `the key_ops of the key do not allow decryption with ${alg}`);
  }
  if (jwkAlg !== undefined && jwkAlg !== alg) throw new PortcullisError('jwe.alg-not-allowed', `the key is for ${String(jwkAlg).slice(0, 40)}, the JWE is ${alg}`);
  if (!Object.hasOwn(ALGS_FOR_KTY, String(jwk.kty)) || !ALGS_FOR_KTY[String(jwk.kty)]!.includes(alg)) throw new PortcullisError('jwe.alg-not-allowed', `alg ${alg} does not fit a ${String(jwk.kty).slice(0, 10)} key`);
  try {
    return (await importJWK(material, alg === 'dir' ? 'A256GCM' : alg)) as CryptoKey | Uint8Array;
  } catch (cause) {
    throw new PortcullisError('jwe.alg-not-allowed', `the key is not a usable ${alg} key`, { cause });
  }
}

/** The JWE text `verifyResponse` verified, from its result and nothing else. */
function verifiedText(v: VerifiedBody): string {
  const body = typeof v === 'object' && v !== null ? verifiedResponseBody(v) : undefined;
  if (body === undefined) throw new TypeError('decryptFromPortcullis: give the JWE text, or the very object verifyResponse returned (not a copy, a look-alike or a verified webhook)');
  try {
    return new TextDecoder('utf-8', { fatal: true }).decode(body);
  } catch {
    throw malformed('the verified response body is not UTF-8 text');
  }
}

export interface DecryptedFromPortcullis {
  plaintext: Uint8Array;
  /** The protected `cty`. */
  contentType: string | undefined;
  protectedHeader: JWEHeaderParameters;
  /** The plaintext as UTF-8 text. */
  text(): string;
}

/**
 * Decrypts a JWE Portcullis encrypted to the app: `key` is the app's AES key (the JWK shown
 * once, or its bytes) or the private key matching its registered public key (JWK or CryptoKey).
 * The protected header must mark it as a response (`pc_dir: "response"`, which the gateway
 * sets and a request never carries), else `jwe.context-mismatch`; with `context` it must also
 * bind the same audience / app / request id.
 * The gateway binds each encrypted response to its request's `X-Request-Id` (`pc_rid`):
 * send a fresh, unpredictable one and pass it as `requestId`, so that a recorded
 * response replayed for another request is refused (`jwe.context-mismatch`).
 *
 * Who sent it: with the app's AES key (`dir`, `A256KW`) only Portcullis and the app can
 * make the JWE. With a public-key algorithm (`ECDH-ES+A256KW`, `ECDH-ES`, `RSA-OAEP-256`)
 * ANYONE can: the app's key is public, and the context headers are values anyone may
 * write. Decrypting then proves nothing about the sender. To know the response is
 * Portcullis's, have the route sign its responses (`signResponses: true`; the gateway signs
 * the JWE as sent) and pass `verifyResponse`'s result here instead of text: only that
 * object is accepted (a copy or look-alike is a TypeError), and its verified body is decrypted.
 *
 * @example
 * const requestId = crypto.randomUUID();
 * const res = await fetch(url, { headers: { authorization, 'x-request-id': requestId } });
 * const { text } = await decryptFromPortcullis(await res.text(), appAesJwk, { context: { aud: 'orders-api', app: clientId, requestId } });
 * // to the app's public key: verify Portcullis's signature first
 * const signedRes = await signedFetch(url, { headers: { 'x-request-id': requestId } });
 * const verified = await verifyResponse(signedRes, { jwksUrl: 'https://id.example/jwks' });
 * const { plaintext } = await decryptFromPortcullis(verified, appPrivateJwk, { context: { aud: 'orders-api', app: clientId, requestId } });
 */
export async function decryptFromPortcullis(jwe: string | VerifiedBody, key: JWK | CryptoKey | Uint8Array, opts: { context?: Partial<JweContext> } = {}): Promise<DecryptedFromPortcullis> {
  // the header first, so each refusal has its code (jose would refuse zip and crit as a failed decryption)
  const { input, header } = parseJwe(typeof jwe === 'string' ? jwe : verifiedText(jwe));
  const alg = header.alg;
  if (typeof alg !== 'string') throw malformed('the JWE header has no alg');
  if (!(JWE_ALGS as readonly string[]).includes(alg)) throw new PortcullisError('jwe.alg-not-allowed', `alg ${alg.slice(0, 40)} is not accepted`);
  if (header.enc !== 'A256GCM') throw new PortcullisError('jwe.alg-not-allowed', `enc ${String(header.enc).slice(0, 40)} is not accepted (A256GCM only)`);
  if ('zip' in header) throw new PortcullisError('jwe.zip-not-allowed', 'compressed JWEs are refused');
  if ('crit' in header) throw new PortcullisError('jwe.crit-unsupported', 'the JWE lists critical extensions (crit), none is understood');
  const k = key instanceof Uint8Array || (typeof CryptoKey !== 'undefined' && key instanceof CryptoKey) ? (key as CryptoKey | Uint8Array) : await jwkFor(key as JWK, alg as JweAlg);
  const options = { keyManagementAlgorithms: [alg], contentEncryptionAlgorithms: ['A256GCM'] };
  let plaintext: Uint8Array;
  let protectedHeader: JWEHeaderParameters;
  try {
    if (typeof input === 'string') ({ plaintext, protectedHeader } = await compactDecrypt(input, k, options));
    else ({ plaintext, protectedHeader } = (await flattenedDecrypt(input, k, options)) as { plaintext: Uint8Array; protectedHeader: JWEHeaderParameters });
  } catch (cause) {
    throw new PortcullisError('jwe.decrypt-failed', 'the JWE did not decrypt with this key', { cause });
  }
  const h = protectedHeader as Record<string, unknown>;
  // only a response of the gateway says so: a request body made with the app's own key (same
  // aud, pc_app, even pc_rid) and reflected back to it is not taken as the answer
  if (h[CONTEXT_HEADERS.response] !== RESPONSE_DIRECTION) throw new PortcullisError('jwe.context-mismatch', 'the JWE is not a response (no pc_dir: "response")');
  const c = opts.context;
  if (c && ((c.aud !== undefined && h[CONTEXT_HEADERS.aud] !== c.aud) || (c.app !== undefined && h[CONTEXT_HEADERS.app] !== c.app) || (c.requestId !== undefined && h[CONTEXT_HEADERS.requestId] !== c.requestId))) {
    throw new PortcullisError('jwe.context-mismatch', 'the JWE was made for another audience, app or request');
  }
  return { plaintext, contentType: typeof h.cty === 'string' ? h.cty : undefined, protectedHeader, text: () => new TextDecoder().decode(plaintext) };
}
