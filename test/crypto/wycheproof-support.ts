/** Loading Wycheproof files and building JWEs around their vectors (test-side only). */
import { createCipheriv, createHash, randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import type { FlattenedJWE } from 'jose';

export const WYCHEPROOF = new URL('../../../shared/vectors/wycheproof/', import.meta.url);

export interface Vector {
  tcId: number;
  comment: string;
  flags: string[];
  result: 'valid' | 'invalid' | 'acceptable';
  [k: string]: unknown;
}
export interface Group {
  tests: Vector[];
  [k: string]: unknown;
}

export function load(file: string): { numberOfTests: number; testGroups: Group[] } {
  return JSON.parse(readFileSync(new URL(file, WYCHEPROOF), 'utf8'));
}

export const hex = (s: unknown) => Buffer.from(s as string, 'hex');

/** RFC 7518 §4.6.2 Concat KDF (single round: 256-bit output), for `ECDH-ES` with `enc` = A256GCM and empty apu/apv. */
export function concatKdf(z: Uint8Array, enc = 'A256GCM'): Buffer {
  const u32 = (n: number) => {
    const b = Buffer.alloc(4);
    b.writeUInt32BE(n);
    return b;
  };
  const alg = Buffer.from(enc);
  return createHash('sha256')
    .update(Buffer.concat([u32(1), z, u32(alg.length), alg, u32(0), u32(0), u32(256)]))
    .digest();
}

/**
 * A flattened JWE whose content is A256GCM under `cek` (the content key the vector says the
 * key management yields), so the JWE decrypts exactly when Portcullis's key management
 * reproduces that key (RFC 7516 §5.1 steps 13–15).
 */
export function buildJwe(header: Record<string, unknown>, encryptedKey: Uint8Array | undefined, cek: Uint8Array | undefined, plaintext: Uint8Array): FlattenedJWE {
  const protectedB64 = Buffer.from(JSON.stringify(header)).toString('base64url');
  const iv = randomBytes(12);
  const c = createCipheriv('aes-256-gcm', cek && cek.length === 32 ? cek : randomBytes(32), iv);
  c.setAAD(Buffer.from(protectedB64, 'ascii'));
  const ct = Buffer.concat([c.update(plaintext), c.final()]);
  const jwe: FlattenedJWE = { protected: protectedB64, iv: iv.toString('base64url'), ciphertext: ct.toString('base64url'), tag: c.getAuthTag().toString('base64url') };
  if (encryptedKey !== undefined) jwe.encrypted_key = Buffer.from(encryptedKey).toString('base64url');
  return jwe;
}

/** The code of a PortcullisError a promise rejects with, or 'ok' when it resolves. */
export async function outcome<T>(p: Promise<T>): Promise<{ code: string; value?: T }> {
  try {
    return { code: 'ok', value: await p };
  } catch (e) {
    return { code: (e as { code?: string }).code ?? `uncoded: ${(e as Error).message}` };
  }
}
