/**
 * JWE content encryption with an app's symmetric key on node:crypto, for `alg` `dir`
 * (RFC 7518 §4.5) and `A256KW` (§4.4) with `enc` A256GCM (§5.3): the gateway's hot path.
 * jose 6 runs on WebCrypto, whose every call hops to the thread pool; these two modes
 * need no more than one AES-GCM operation (and an AES key unwrap), done here in place.
 * Everything else (ECDH-ES, RSA-OAEP, CryptoKey inputs) stays on jose.
 *
 * Only the last step of decryption is here: `decrypt.ts` has already applied every
 * structural and policy check and found the key. The outcomes follow jose's exactly
 * (docs/decisions/0005-jwe-symmetric-fast-path.md): a structural fault is
 * `jwe.malformed`, a key or tag that does not verify is `jwe.decrypt-failed`, and a
 * structural fault wins over a failed key unwrap, as in jose.
 */
import { createCipheriv, createDecipheriv, createSecretKey, KeyObject, randomBytes } from 'node:crypto';
import { randomGcmIv } from '../iv.js';
import type { FlattenedJWE } from 'jose';
import { PortcullisError } from '../../core/errors.js';

/** The default initial value of AES Key Wrap (RFC 3394 §2.2.3.1). */
const KW_IV = Buffer.from('A6A6A6A6A6A6A6A6', 'hex');
const CEK_BYTES = 32;
const IV_BYTES = 12;
const TAG_BYTES = 16;

export type SymmetricAlg = 'dir' | 'A256KW';

const malformed = (msg: string) => new PortcullisError('jwe.malformed', msg);
const failed = () => new PortcullisError('jwe.decrypt-failed', 'the JWE did not decrypt');

const imported = new WeakMap<Uint8Array, KeyObject>();

/** A 256-bit secret as a KeyObject (raw bytes imported once per array). */
export function secretKeyObject(key: KeyObject | Uint8Array): KeyObject {
  if (key instanceof KeyObject) return key;
  let k = imported.get(key);
  if (k === undefined) imported.set(key, (k = createSecretKey(key)));
  return k;
}

/**
 * base64url as jose decodes it (forgiving-base64 after the URL alphabet is mapped): the
 * alphabet was checked by the caller, so the only other failure is a length of 4n+1.
 */
export function decodeB64url(s: string): Buffer | undefined {
  if (s.length % 4 === 1) return undefined;
  return Buffer.from(s, 'base64url');
}

/**
 * Decrypts one checked recipient of a JWE whose `alg` is `dir` or `A256KW` and `enc` A256GCM.
 * Throws `jwe.malformed` or `jwe.decrypt-failed`. `decoded` is the ciphertext member's
 * bytes when the caller has them already.
 *
 * @example
 * const plaintext = decryptSymmetric(flat, appKey, 'dir');
 */
export function decryptSymmetric(jwe: FlattenedJWE, key: KeyObject | Uint8Array, alg: SymmetricAlg, decoded?: Buffer): Buffer {
  // RFC 7516 §5.2 steps 2, 9–10, 14 and RFC 7518 §5.3: the members decode, the IV is 96 bits,
  // the tag 128 bits; with `dir` the Encrypted Key MUST be empty.
  const ciphertext = jwe.ciphertext.length % 4 === 1 ? undefined : (decoded ?? decodeB64url(jwe.ciphertext));
  if (ciphertext === undefined) throw malformed('the JWE ciphertext is not base64url');
  if (jwe.iv === undefined || jwe.iv === '') throw malformed('the JWE has no initialization vector');
  if (jwe.tag === undefined || jwe.tag === '') throw malformed('the JWE has no authentication tag');
  if (jwe.aad === '') throw malformed('the JWE aad member is empty');
  const iv = decodeB64url(jwe.iv);
  const tag = decodeB64url(jwe.tag);
  if (iv === undefined || tag === undefined) throw malformed('the JWE iv or tag is not base64url');
  if (alg === 'dir' && jwe.encrypted_key !== undefined) throw malformed('a dir JWE carries no encrypted key');
  if (tag.length !== TAG_BYTES) throw malformed('the JWE authentication tag is not 128 bits');
  if (iv.length !== IV_BYTES) throw malformed('the JWE initialization vector is not 96 bits');

  let cek: KeyObject | Buffer;
  if (alg === 'dir') cek = secretKeyObject(key);
  else {
    const wrapped = jwe.encrypted_key === undefined ? undefined : decodeB64url(jwe.encrypted_key);
    // A wrapped 256-bit key is 40 bytes (RFC 3394 §2.2.1); anything else cannot unwrap to a CEK.
    if (wrapped === undefined || wrapped.length !== CEK_BYTES + 8) throw failed();
    try {
      const d = createDecipheriv('id-aes256-wrap', secretKeyObject(key), KW_IV);
      cek = Buffer.concat([d.update(wrapped), d.final()]);
    } catch {
      throw failed();
    }
    if (cek.length !== CEK_BYTES) throw failed();
  }
  // RFC 7516 §5.2 step 14: AAD = ASCII(Encoded Protected Header), plus '.' BASE64URL(JWE AAD).
  try {
    return gcmOpen(cek, iv, ciphertext, tag, jwe.aad === undefined ? jwe.protected! : `${jwe.protected!}.${jwe.aad}`);
  } finally {
    if (cek instanceof Buffer) cek.fill(0);
  }
}

/**
 * AES-256-GCM decryption with a 128-bit tag (RFC 7518 §5.3); `aad` is taken byte for byte
 * (latin1), as the ASCII of a JWE's AAD. Throws `jwe.decrypt-failed`.
 */
export function gcmOpen(cek: KeyObject | Buffer, iv: Buffer, ciphertext: Buffer, tag: Buffer, aad: string): Buffer {
  try {
    const d = createDecipheriv('aes-256-gcm', cek, iv, { authTagLength: TAG_BYTES });
    d.setAuthTag(tag);
    d.setAAD(Buffer.from(aad, 'latin1'));
    const head = d.update(ciphertext);
    d.final();
    return head;
  } catch {
    throw failed();
  }
}

/** AES-256-GCM encryption with a 128-bit tag (RFC 7518 §5.3); `aad` byte for byte (latin1). */
export function gcmSeal(cek: KeyObject | Buffer, iv: Buffer, plaintext: Uint8Array, aad: string): { ciphertext: Buffer; tag: Buffer } {
  const c = createCipheriv('aes-256-gcm', cek, iv, { authTagLength: TAG_BYTES });
  c.setAAD(Buffer.from(aad, 'latin1'));
  const ciphertext = c.update(plaintext);
  c.final();
  return { ciphertext, tag: c.getAuthTag() };
}

/**
 * Encrypts `plaintext` as a JWE with `dir` or `A256KW` and A256GCM under the already
 * serialized protected header (RFC 7516 §5.1), compact or flattened JSON.
 *
 * @example
 * const jwe = encryptSymmetric(body, JSON.stringify({ alg: 'dir', enc: 'A256GCM', aud }), appKey, 'dir', 'compact');
 */
export function encryptSymmetric(plaintext: Uint8Array, headerJson: string, key: KeyObject | Uint8Array, alg: SymmetricAlg, serialization: 'compact' | 'json'): string {
  const protectedB64 = Buffer.from(headerJson, 'utf8').toString('base64url');
  let encryptedKey = '';
  let cek: KeyObject | Buffer;
  if (alg === 'dir') cek = secretKeyObject(key);
  else {
    cek = randomBytes(CEK_BYTES);
    const w = createCipheriv('id-aes256-wrap', secretKeyObject(key), KW_IV);
    encryptedKey = Buffer.concat([w.update(cek), w.final()]).toString('base64url');
  }
  const iv = randomGcmIv();
  const sealed = gcmSeal(cek, iv, plaintext, protectedB64);
  if (cek instanceof Buffer) cek.fill(0);
  const ct = sealed.ciphertext;
  const tag = sealed.tag.toString('base64url');
  if (serialization === 'json') {
    const flat: FlattenedJWE = { protected: protectedB64, iv: iv.toString('base64url'), ciphertext: ct.toString('base64url'), tag };
    if (encryptedKey !== '') flat.encrypted_key = encryptedKey;
    return JSON.stringify(flat);
  }
  return `${protectedB64}.${encryptedKey}.${iv.toString('base64url')}.${ct.toString('base64url')}.${tag}`;
}
