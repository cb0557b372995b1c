/**
 * Encrypts a body as a JWE (RFC 7516) for responses and the SDK, on `jose`, with the
 * same policy decryption enforces: an accepted `alg` for the key, A256GCM, and the
 * context (route audience, app, request id) in the protected header. `dir` and `A256KW`
 * with a KeyObject or raw secret are encrypted on node:crypto (symmetric.ts); the rest on jose.
 */
import { CompactEncrypt, FlattenedEncrypt, type CompactJWEHeaderParameters } from 'jose';
import { PortcullisError } from '../../core/errors.js';
import { KeyObject } from 'node:crypto';
import { encryptSymmetric } from './symmetric.js';
import { assertKeyFitsAlg, joseKey, keyFacts, type JweKeyMaterial } from './key-check.js';
import { contextHeader, type JweAlg, type JweContext, type JweEnc } from './policy.js';

export interface EncryptBodyOptions {
  /** Recipient public key (ECDH-ES*, RSA-OAEP-256; a private KeyObject is reduced to its public key) or 256-bit secret (dir, A256KW). */
  key: JweKeyMaterial;
  alg: JweAlg;
  enc?: JweEnc;
  /** The recipient key id, so the recipient finds its key. */
  kid?: string;
  /** Media type of the plaintext (protected `cty`). */
  cty?: string;
  context: JweContext;
  /** `compact` (application/jose, default) or `json` (flattened, application/jose+json). */
  serialization?: 'compact' | 'json';
  /** Who encrypts `dir`/`A256KW` with a KeyObject or raw secret: node:crypto (default) or jose (for cross-checks). */
  engine?: 'node' | 'jose';
}

/**
 * @example
 * const jwe = await encryptBody(JSON.stringify(order), {
 *   key: publishedKey, kid: 'k1', alg: 'ECDH-ES+A256KW', cty: 'application/json',
 *   context: { aud: 'orders-api' },
 * });
 */
export async function encryptBody(plaintext: Uint8Array | string, opts: EncryptBodyOptions): Promise<string> {
  const enc = opts.enc ?? 'A256GCM';
  if (enc !== 'A256GCM') throw new PortcullisError('jwe.alg-not-allowed', 'enc must be A256GCM');
  const facts = keyFacts(opts.key);
  assertKeyFitsAlg(facts, opts.alg);
  if (facts.kind === 'oct' ? facts.type !== 'secret' : facts.type === 'secret') {
    throw new PortcullisError('jwe.alg-not-allowed', `alg ${opts.alg} does not fit the key`);
  }
  if (!opts.context || typeof opts.context.aud !== 'string' || opts.context.aud === '') {
    throw new PortcullisError('jwe.context-mismatch', 'a JWE must bind an audience (context.aud)');
  }
  const header: CompactJWEHeaderParameters = { alg: opts.alg, enc, ...contextHeader(opts.context) };
  if (opts.kid !== undefined) header.kid = opts.kid;
  if (opts.cty !== undefined) header.cty = opts.cty;
  const data = typeof plaintext === 'string' ? new TextEncoder().encode(plaintext) : plaintext;
  if ((opts.alg === 'dir' || opts.alg === 'A256KW') && opts.engine !== 'jose' && (opts.key instanceof KeyObject || opts.key instanceof Uint8Array)) {
    return encryptSymmetric(data, JSON.stringify(header), opts.key, opts.alg, opts.serialization ?? 'compact');
  }
  const key = await joseKey(opts.key, facts, opts.alg, 'encrypt');
  try {
    if (opts.serialization === 'json') {
      return JSON.stringify(await new FlattenedEncrypt(data).setProtectedHeader(header).encrypt(key));
    }
    return await new CompactEncrypt(data).setProtectedHeader(header).encrypt(key);
  } catch (cause) {
    throw new PortcullisError('jwe.alg-not-allowed', `the key cannot encrypt with ${opts.alg}`, { cause });
  }
}
