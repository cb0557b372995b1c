/**
 * Creating a signature (RFC 9421 §3.1): choose components and parameters, build
 * the signature base, sign it with a WebCrypto key, and produce the Signature-Input
 * and Signature members to add to the message.
 */
import { serializeByteSequence } from 'structured-headers';
import { systemClock, type Clock } from '../core/clock.js';
import { PortcullisError } from '../core/errors.js';
import { keyFits, signBytes } from './algorithms.js';
import { fieldLines } from './components.js';
import { signatureBase } from './signature-base.js';
import { parseComponentId, parseSignatureInput, serializeSignatureParams, type ComponentId } from './signature-input.js';
import type { HttpMessageLike, HttpRequestLike, SignatureAlgorithm, SignatureParams } from './types.js';

export interface SignOptions {
  /** Signature label (dictionary key); default `sig1`. Must not already be used in the message. */
  label?: string;
  /** Private key (or HMAC key) imported once with `importParams(alg)` and usage `sign`. */
  key: CryptoKey;
  alg: SignatureAlgorithm;
  /** Covered components in order: `'@method'`, `'content-digest'`, `'@query-param;name="id"'`, `'"example-dict";key="a"'`, or parsed ids. */
  components: readonly (string | ComponentId)[];
  keyid?: string;
  nonce?: string;
  tag?: string;
  /** Seconds since the epoch; default the clock's now; `false` leaves `created` out. */
  created?: number | false;
  /** Absolute `expires` in seconds since the epoch. */
  expires?: number;
  /** `expires` as seconds after `created` (ignored when `expires` is given). */
  expiresIn?: number;
  /** Also send the `alg` parameter (the verifier's key decides the algorithm either way). */
  includeAlg?: boolean;
  clock?: Clock;
  /** The request a response answers, for components with `;req`. */
  request?: HttpRequestLike;
}

export interface SignedMessage {
  label: string;
  /** The member to add to Signature-Input: `sig1=("@method" …);created=…`. */
  signatureInput: string;
  /** The member to add to Signature: `sig1=:…:`. */
  signature: string;
  params: SignatureParams;
  /** The exact signature base that was signed. */
  base: string;
}

const LABEL = /^[a-z*][a-z0-9_\-.*]*$/;

/**
 * Signs `message` and returns the Signature-Input and Signature members; add them
 * with `headers.append` (several signatures on one message are several members).
 *
 * @example
 * const key = await crypto.subtle.importKey('raw', secret, importParams('hmac-sha256'), false, ['sign']);
 * const s = await signMessage({ method: 'POST', url: 'https://api.example/x', headers }, { key, alg: 'hmac-sha256', keyid: 'app-1', components: ['@method', '@target-uri', 'content-digest'] });
 * headers.append('Signature-Input', s.signatureInput);
 * headers.append('Signature', s.signature);
 */
export async function signMessage(message: HttpMessageLike, options: SignOptions): Promise<SignedMessage> {
  const label = options.label ?? 'sig1';
  if (!LABEL.test(label)) throw new PortcullisError('signature.malformed', `label ${JSON.stringify(label)} is not a structured-field key`);
  if (!keyFits(options.alg, options.key, 'sign')) throw new PortcullisError('signature.alg-mismatch', `the key is not a ${options.alg} signing key`);
  const existing = fieldLines(message.headers, 'signature-input');
  if (existing && parseSignatureInput(existing.join(', ')).has(label)) {
    throw new PortcullisError('signature.malformed', `the message already has a signature labelled "${label}"`);
  }
  const covered = options.components.map((c) => (typeof c === 'string' ? parseComponentId(c) : c));
  const params: SignatureParams = {};
  const now = Math.floor((options.clock ?? systemClock).now() / 1000);
  if (options.created !== false) params.created = options.created ?? now;
  if (options.expires !== undefined) params.expires = options.expires;
  else if (options.expiresIn !== undefined) params.expires = (params.created ?? now) + options.expiresIn;
  if (options.nonce !== undefined) params.nonce = options.nonce;
  if (options.includeAlg) params.alg = options.alg;
  if (options.keyid !== undefined) params.keyid = options.keyid;
  if (options.tag !== undefined) params.tag = options.tag;
  const serialized = serializeSignatureParams(covered, params);
  const base = signatureBase(message, covered, serialized, options.request);
  const sig = await signBytes(options.alg, options.key, new TextEncoder().encode(base));
  return { label, signatureInput: `${label}=${serialized}`, signature: `${label}=${serializeByteSequence(sig as Uint8Array<ArrayBuffer>)}`, params, base };
}
