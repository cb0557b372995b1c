/**
 * Decrypts a JWE request body (RFC 7516) under Portcullis's policy, on `jose`.
 *
 * Accepts the compact serialization (`application/jose`) and the JSON serializations
 * (`application/jose+json`, flattened or general). Before any key is used it refuses
 * what the policy forbids, each with its own code: oversize input, malformed structure,
 * an `alg`/`enc` outside the allow-list, `zip`, `crit`, a protected header that does not
 * bind the expected context, an unknown `kid`, a key of the wrong use or bound to another
 * `alg`, an ephemeral key that is not a valid point of the recipient's curve. jose then
 * decrypts; every failure there (wrong key, changed tag, ciphertext, IV, encrypted key or
 * header) is one code, `jwe.decrypt-failed`, so the answer is no oracle.
 */
import { createPublicKey, diffieHellman, KeyObject, webcrypto } from 'node:crypto';
import { flattenedDecrypt, errors as joseErrors, type FlattenedJWE, type GeneralJWE, type JWEHeaderParameters } from 'jose';
import { PortcullisError } from '../../core/errors.js';
import { TCHAR_CLASS } from '../../core/http-token.js';
import { assertDecryptionUse, assertKeyFitsAlg, joseKey, keyFacts, type JweKeyMaterial, type KeyFacts } from './key-check.js';
import { decodeB64url, decryptSymmetric } from './symmetric.js';
import { CONTEXT_HEADERS, DEFAULT_MAX_JWE_BYTES, JWE_ALGS, MAX_RECIPIENTS, RESPONSE_DIRECTION, type JweAlg, type JweContext } from './policy.js';

/** A key that may decrypt, as the lookup returns it. */
export interface JweDecryptionKey {
  /** Private key (ECDH, RSA) or 256-bit secret (dir, A256KW). */
  key: JweKeyMaterial;
  /** The key's JWK `use`; anything but `enc` is refused. */
  use?: string;
  /** The key's JWK `key_ops`; must allow decryption when present. */
  keyOps?: readonly string[];
  /** The one algorithm the key is for (its published JWK `alg`); a JWE naming another is refused. */
  alg?: JweAlg;
}

/**
 * Finds the key a JWE names. Return undefined when `kid` names no key that may decrypt
 * here (unknown, expired); the JWE is then refused with `jwe.unknown-key`.
 */
export type JweKeyLookup = (
  kid: string | undefined,
  header: Readonly<JWEHeaderParameters>,
) => JweDecryptionKey | undefined | Promise<JweDecryptionKey | undefined>;

export interface DecryptBodyOptions {
  getKey: JweKeyLookup;
  /** What the protected header must bind (route audience, optionally app and request id). */
  context: JweContext;
  /** Narrows the accepted key-management algorithms (default: all of JWE_ALGS). */
  algorithms?: readonly JweAlg[];
  /** Largest accepted JWE in bytes (default 1 MiB). */
  maxBytes?: number;
  /**
   * Who decrypts `dir`/`A256KW` with a KeyObject or raw secret: node:crypto (`node`,
   * default) or jose (`jose`, the reference the node path is tested against).
   */
  engine?: 'node' | 'jose';
}

export interface DecryptedBody {
  plaintext: Uint8Array;
  /** The protected `cty` header: the media type of the plaintext, to forward upstream. */
  contentType: string | undefined;
  protectedHeader: JWEHeaderParameters;
  kid: string | undefined;
  alg: JweAlg;
}

type Flat = FlattenedJWE;
type Header = Record<string, unknown>;

const B64URL = /^[A-Za-z0-9_-]*$/;
const utf8 = new TextDecoder('utf-8', { fatal: true });
/** Parsed protected headers of symmetric-key JWEs, by their base64url text (bounded; frozen). */
const headerCache = new Map<string, Readonly<Header>>();
const HEADER_CACHE_SIZE = 1024;
const malformed = (msg: string) => new PortcullisError('jwe.malformed', msg);

/** RFC 9110 §8.3.1 media type: `type "/" subtype *( OWS ";" OWS parameter )`, visible ASCII only. */
const TOKEN = `${TCHAR_CLASS}+`;
const MEDIA_TYPE = new RegExp(`^${TOKEN}/${TOKEN}(?:[ \\t]*;[ \\t]*${TOKEN}=(?:${TOKEN}|"(?:[\\t \\x21\\x23-\\x5B\\x5D-\\x7E]|\\\\[\\t \\x21-\\x7E])*"))*$`);
const CTY_SHORT = new RegExp(`^${TOKEN}$`);

/**
 * The protected `cty` as a Content-Type: RFC 7515 §4.1.10, "a recipient using the media
 * type value MUST treat it as if 'application/' were prepended to any 'cty' value not
 * containing a '/'". Anything that is not a media type is `jwe.malformed`.
 */
function contentTypeOf(cty: unknown): string | undefined {
  if (cty === undefined) return undefined;
  if (typeof cty !== 'string') throw malformed('cty is not a string');
  if (CTY_SHORT.test(cty)) return `application/${cty}`;
  if (!MEDIA_TYPE.test(cty)) throw malformed('cty is not a media type (RFC 9110 §8.3.1)');
  return cty;
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function sizeOf(input: string | Uint8Array | Flat | GeneralJWE): number {
  if (typeof input === 'string') return Buffer.byteLength(input, 'utf8');
  if (input instanceof Uint8Array) return input.byteLength;
  try {
    return Buffer.byteLength(JSON.stringify(input), 'utf8');
  } catch {
    throw malformed('the JWE is not serializable JSON');
  }
}

/** Splits any accepted serialization into one flattened JWE per recipient. */
function recipientsOf(input: string | Uint8Array | Flat | GeneralJWE): Flat[] {
  let value: unknown = input;
  if (input instanceof Uint8Array) {
    try {
      value = utf8.decode(input);
    } catch {
      throw malformed('the JWE is not UTF-8 text');
    }
  }
  if (typeof value === 'string') {
    const text = value.trim();
    if (text.startsWith('{')) {
      try {
        value = JSON.parse(text);
      } catch {
        throw malformed('the JWE JSON serialization is not valid JSON');
      }
    } else {
      const parts = text.split('.');
      if (parts.length !== 5) throw malformed('a compact JWE has five base64url parts');
      const [p, k, iv, ct, tag] = parts as [string, string, string, string, string];
      return [{ protected: p, encrypted_key: k || undefined, iv: iv || undefined, ciphertext: ct, tag: tag || undefined } as Flat];
    }
  }
  if (!isObject(value)) throw malformed('the JWE JSON serialization must be an object');
  const v = value;
  if (!('recipients' in v)) return [v as unknown as Flat];
  const recipients = v.recipients;
  if ('header' in v || 'encrypted_key' in v) throw malformed('a general JWE carries header and encrypted_key per recipient only');
  if (!Array.isArray(recipients) || recipients.length === 0) throw malformed('recipients must be a non-empty array');
  if (recipients.length > MAX_RECIPIENTS) throw malformed(`at most ${MAX_RECIPIENTS} recipients are accepted`);
  return recipients.map((r: unknown) => {
    if (!isObject(r)) throw malformed('each recipient must be an object');
    const { recipients: _r, ...shared } = v;
    return { ...shared, header: r.header, encrypted_key: r.encrypted_key } as unknown as Flat;
  });
}

function decodeHeader(b64: unknown): Header {
  if (typeof b64 !== 'string' || b64 === '' || !B64URL.test(b64)) throw malformed('the protected header is not base64url');
  const cached = headerCache.get(b64);
  if (cached !== undefined) return cached;
  const raw = decodeB64url(b64);
  if (raw === undefined) throw malformed('the protected header is not base64url');
  let h: unknown;
  try {
    h = JSON.parse(utf8.decode(raw));
  } catch {
    throw malformed('the protected header is not JSON');
  }
  if (!isObject(h)) throw malformed('the protected header must be a JSON object');
  // A symmetric-key sender repeats the same protected header (no per-message members), so its
  // parse is kept; ECDH headers carry a fresh epk each time and are not.
  if (h.alg === 'dir' || h.alg === 'A256KW') {
    if (headerCache.size >= HEADER_CACHE_SIZE) headerCache.clear();
    headerCache.set(b64, Object.freeze(h));
  }
  return h;
}

interface Checked {
  jwe: Flat;
  protectedHeader: Header;
  joint: Header;
  alg: JweAlg;
  /** The ciphertext's bytes (decoded while its alphabet was checked). */
  ciphertext: Buffer;
}

/**
 * The bytes of base64url text, or undefined when the text leaves the alphabet. Text
 * that encodes back to itself is valid without a character scan (the usual case, and
 * ~2× faster on a 1 KiB body); other text is scanned.
 */
function base64urlBytes(v: string): Buffer | undefined {
  const bytes = Buffer.from(v, 'base64url');
  return bytes.toString('base64url') === v || B64URL.test(v) ? bytes : undefined;
}

/** Structure and policy checks that need no key (RFC 7516 §5.2 steps 1–6, plus Portcullis's policy). */
function checkRecipient(jwe: Flat, allowed: readonly JweAlg[], ctx: JweContext): Checked {
  const ct = jwe.ciphertext;
  const ciphertext = typeof ct === 'string' ? base64urlBytes(ct) : undefined;
  if (ciphertext === undefined) throw malformed('the JWE member ciphertext is not base64url');
  for (const m of ['iv', 'tag', 'encrypted_key', 'aad'] as const) {
    const val = jwe[m];
    if (val === undefined) continue;
    if (typeof val !== 'string' || !B64URL.test(val)) throw malformed(`the JWE member ${m} is not base64url`);
  }
  if (jwe.protected === undefined) throw new PortcullisError('jwe.context-mismatch', 'the JWE has no protected header, so it binds no context');
  const protectedHeader = decodeHeader(jwe.protected);
  for (const h of [jwe.unprotected, jwe.header]) if (h !== undefined && !isObject(h)) throw malformed('unprotected headers must be JSON objects');
  let joint: Header = protectedHeader;
  if (jwe.unprotected !== undefined || jwe.header !== undefined) {
    joint = {};
    for (const part of [protectedHeader, jwe.unprotected ?? {}, jwe.header ?? {}] as Header[]) {
      for (const [name, value] of Object.entries(part)) {
        // RFC 7516 §7.2.1: the header parameter names in the three locations MUST be disjoint.
        if (name in joint) throw malformed(`header parameter ${name} appears more than once`);
        joint[name] = value;
      }
    }
  }
  const alg = joint.alg;
  if (typeof alg !== 'string') throw malformed('the JWE header has no alg');
  if (!(JWE_ALGS as readonly string[]).includes(alg) || !allowed.includes(alg as JweAlg)) {
    throw new PortcullisError('jwe.alg-not-allowed', `alg ${alg.slice(0, 40)} is not accepted`);
  }
  if (joint.enc !== 'A256GCM') throw new PortcullisError('jwe.alg-not-allowed', `enc ${String(joint.enc).slice(0, 40)} is not accepted (A256GCM only)`);
  if ('zip' in joint) throw new PortcullisError('jwe.zip-not-allowed', 'compressed JWE (zip) is refused');
  // RFC 7516 §4.1.13 (RFC 7515 §4.1.11): a recipient that does not understand a crit extension MUST reject the JWE.
  if ('crit' in joint) throw new PortcullisError('jwe.crit-unsupported', 'the JWE lists critical extensions (crit), none is understood');
  if ('cty' in joint) contentTypeOf(joint.cty);
  checkContext(protectedHeader, ctx);
  return { jwe, protectedHeader, joint, alg: alg as JweAlg, ciphertext };
}

function checkContext(h: Header, ctx: JweContext): void {
  const expected: Array<[string, string | undefined]> = [
    [CONTEXT_HEADERS.aud, ctx.aud],
    [CONTEXT_HEADERS.app, ctx.app],
    [CONTEXT_HEADERS.requestId, ctx.requestId],
  ];
  for (const [name, want] of expected) {
    if (want === undefined) continue;
    if (h[name] !== want) {
      throw new PortcullisError('jwe.context-mismatch', `the protected header ${name} does not name this ${name === 'aud' ? 'route' : name === 'pc_app' ? 'app' : 'request'}`);
    }
  }
  // the direction is always checked: a response is not a request, whatever else it binds
  const dir = h[CONTEXT_HEADERS.response];
  if (ctx.response === true ? dir !== RESPONSE_DIRECTION : dir !== undefined) {
    throw new PortcullisError('jwe.context-mismatch', ctx.response === true ? 'the JWE is not a response' : 'the JWE is a response, not a request');
  }
}

const invalidPoint = (msg: string) => new PortcullisError('jwe.invalid-point', msg);

function b64Len(v: unknown, n: number): boolean {
  return typeof v === 'string' && B64URL.test(v) && Buffer.from(v, 'base64url').length === n;
}

/**
 * The ephemeral public key must lie on the recipient's curve (invalid-curve attack,
 * RFC 7518 §4.6 / NIST SP 800-56A §5.6.2.3), and an X25519 agreement must not yield the
 * all-zero secret of a small-order point (RFC 7748 §6.1).
 */
async function checkEphemeralKey(epk: unknown, facts: KeyFacts, privateKey: JweKeyMaterial): Promise<void> {
  if (!isObject(epk)) throw malformed('ECDH-ES needs an epk header');
  if (facts.kind === 'P-256') {
    if (epk.kty !== 'EC' || epk.crv !== 'P-256') throw invalidPoint('epk is not a P-256 key');
    if (!b64Len(epk.x, 32) || !b64Len(epk.y, 32)) throw invalidPoint('epk coordinates are not 32 bytes');
    try {
      createPublicKey({ key: { kty: 'EC', crv: 'P-256', x: epk.x as string, y: epk.y as string }, format: 'jwk' });
    } catch {
      throw invalidPoint('epk is not a point on P-256');
    }
    return;
  }
  if (epk.kty !== 'OKP' || epk.crv !== 'X25519') throw invalidPoint('epk is not an X25519 key');
  if (!b64Len(epk.x, 32)) throw invalidPoint('epk is not 32 bytes');
  let shared: Uint8Array;
  const jwk = { kty: 'OKP', crv: 'X25519', x: epk.x as string };
  try {
    if (privateKey instanceof KeyObject) shared = diffieHellman({ privateKey, publicKey: createPublicKey({ key: jwk, format: 'jwk' }) });
    else {
      // a CryptoKey stays on WebCrypto: KeyObject.from() of a non-extractable one is deprecated (DEP0204)
      const publicKey = await webcrypto.subtle.importKey('jwk', jwk, { name: 'X25519' }, false, []);
      shared = new Uint8Array(await webcrypto.subtle.deriveBits({ name: 'X25519', public: publicKey }, privateKey as webcrypto.CryptoKey, 256));
    }
  } catch {
    throw invalidPoint('epk is not a usable X25519 public key');
  }
  if (shared.every((b) => b === 0)) throw invalidPoint('epk is a small-order X25519 point');
}

function mapJoseError(e: unknown): PortcullisError {
  if (e instanceof PortcullisError) return e;
  if (e instanceof joseErrors.JWEDecryptionFailed) return new PortcullisError('jwe.decrypt-failed', 'the JWE did not decrypt', { cause: e });
  if (e instanceof joseErrors.JWEInvalid) return new PortcullisError('jwe.malformed', 'the JWE is malformed', { cause: e });
  if (e instanceof joseErrors.JOSEAlgNotAllowed || e instanceof joseErrors.JOSENotSupported) {
    return new PortcullisError('jwe.alg-not-allowed', 'the JWE algorithm is not accepted', { cause: e });
  }
  if (e instanceof TypeError) return new PortcullisError('jwe.alg-not-allowed', 'the key does not fit the JWE algorithm', { cause: e });
  return new PortcullisError('jwe.decrypt-failed', 'the JWE did not decrypt', { cause: e });
}

/**
 * Decrypts a JWE body bound to `opts.context`, with the key its `kid` names.
 *
 * @example
 * const { plaintext, contentType } = await decryptBody(body, {
 *   getKey: (kid) => encryptionKeys.decryptionKey(kid),
 *   context: { aud: route.audience, app: token.client_id },
 * });
 */
export async function decryptBody(input: string | Uint8Array | Flat | GeneralJWE, opts: DecryptBodyOptions): Promise<DecryptedBody> {
  const max = opts.maxBytes ?? DEFAULT_MAX_JWE_BYTES;
  if (sizeOf(input) > max) throw new PortcullisError('jwe.too-large', `the JWE is larger than ${max} bytes`);
  const allowed = opts.algorithms ?? JWE_ALGS;
  const candidates = recipientsOf(input);
  let firstError: PortcullisError | undefined;
  for (const candidate of candidates) {
    let checked: Checked;
    let found: JweDecryptionKey | undefined;
    let kid: string | undefined;
    try {
      checked = checkRecipient(candidate, allowed, opts.context);
      kid = typeof checked.joint.kid === 'string' ? checked.joint.kid : undefined;
      const got = opts.getKey(kid, checked.joint as JWEHeaderParameters);
      found = got instanceof Promise ? await got : got;
      if (!found) throw new PortcullisError('jwe.unknown-key', 'the JWE kid names no decryption key');
    } catch (e) {
      if (!(e instanceof PortcullisError)) throw e;
      firstError ??= e;
      continue;
    }
    // From here on the recipient is ours: no fallback to another recipient.
    const { alg } = checked;
    assertDecryptionUse(alg, found.use, found.keyOps);
    // RFC 7517 §4.4: `alg` identifies the algorithm intended for use with the key
    if (found.alg !== undefined && found.alg !== alg) throw new PortcullisError('jwe.alg-not-allowed', `the key is for ${found.alg}, not ${alg}`);
    const facts = keyFacts(found.key);
    assertKeyFitsAlg(facts, alg);
    if (facts.type === 'public') throw new PortcullisError('jwe.wrong-key-use', 'decryption needs the private key');
    if (alg === 'ECDH-ES' || alg === 'ECDH-ES+A256KW') await checkEphemeralKey(checked.joint.epk, facts, found.key);
    // Only a protected `cty` is authenticated; an unprotected one could be changed in transit.
    const contentType = contentTypeOf(checked.protectedHeader.cty);
    if ((alg === 'dir' || alg === 'A256KW') && opts.engine !== 'jose' && (found.key instanceof KeyObject || found.key instanceof Uint8Array)) {
      const plaintext = decryptSymmetric(candidate, found.key, alg, checked.ciphertext);
      return { plaintext, contentType, protectedHeader: checked.protectedHeader as JWEHeaderParameters, kid, alg };
    }
    try {
      const key = await joseKey(found.key, facts, alg, 'decrypt');
      const r = await flattenedDecrypt(candidate, key, { keyManagementAlgorithms: [alg], contentEncryptionAlgorithms: ['A256GCM'] });
      return {
        plaintext: r.plaintext,
        contentType,
        protectedHeader: checked.protectedHeader as JWEHeaderParameters,
        kid,
        alg,
      };
    } catch (e) {
      throw mapJoseError(e);
    }
  }
  throw firstError ?? malformed('the JWE has no recipient');
}
