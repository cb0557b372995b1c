/**
 * Schemas for per-app encryption keys and transit (issue 5). Named in `schemas.ts`
 * (requestSchemas/responseSchemas) so the OpenAPI document describes them; the identity
 * plane's `/transit/v1/…` validates the same request schemas.
 */
import { z } from 'zod';
import { nextAfter, pageQuery } from './page.js';

const isoTime = z.string().describe('RFC 3339 time');
const kid = z.string().regex(/^[A-Za-z0-9._~:-]{1,100}$/, 'expected 1-100 letters, digits or . _ ~ : -').describe('The JWE kid; generated when absent. Unique across the deployment.');
const appEncAlg = z.enum(['dir', 'A256KW', 'ECDH-ES+A256KW', 'ECDH-ES', 'RSA-OAEP-256']);

export const CreateAppEncryptionKeyRequest = z
  .union([
    z.strictObject({
      type: z.literal('symmetric').describe('Generate an AES-256 key, returned once as a JWK.'),
      alg: z.enum(['dir', 'A256KW']).optional().describe('dir (default) or A256KW, with A256GCM.'),
      kid: kid.optional(),
    }),
    z.strictObject({
      jwk: z.looseObject({ kty: z.enum(['EC', 'OKP', 'RSA']) }).describe('A public encryption JWK: EC P-256, X25519, or RSA (at least 2048 bits). Responses are encrypted to it.'),
      alg: appEncAlg.optional().describe('ECDH-ES+A256KW (default for EC/X25519), ECDH-ES, or RSA-OAEP-256 (RSA).'),
      kid: kid.optional(),
    }),
  ])
  .describe('Adds an encryption key to an app: {type:"symmetric"} generates an AES-256 key; {jwk} registers the app public key.');

export const AppEncryptionKey = z.strictObject({
  kid: z.string(),
  client_id: z.string(),
  type: z.enum(['symmetric', 'public']),
  alg: appEncAlg,
  status: z.enum(['active', 'revoked']),
  public_jwk: z.record(z.string(), z.unknown()).nullable().describe('The registered public key; null for symmetric keys (never shown again).'),
  created_at: isoTime,
  revoked_at: isoTime.nullable(),
});
export const AppEncryptionKeyCreated = z.strictObject({
  key: AppEncryptionKey,
  secret: z
    .strictObject({ kty: z.literal('oct'), k: z.string(), kid: z.string(), alg: z.enum(['dir', 'A256KW']), use: z.literal('enc') })
    .nullable()
    .describe('Symmetric keys: the key as a JWK, shown once and never again. Null for public keys.'),
});
export const AppEncryptionKeyResponse = z.strictObject({ key: AppEncryptionKey });
export const AppEncryptionKeyList = z.strictObject({ keys: z.array(AppEncryptionKey), next_after: nextAfter });

// ---- transit ---------------------------------------------------------------------------

/** Largest base64 field of a transit request, and the admin plane's body limit for the transit operations. */
export const TRANSIT_ADMIN_BODY_LIMIT = 8 * 1024 * 1024;
const b64 = (what: string) => z.string().max(TRANSIT_ADMIN_BODY_LIMIT).describe(`${what}, base64`);
const keyVersion = z.number().int().min(1).optional().describe('Key version to use (default: the latest).');
const value = (what: string) => z.string().max(12 * 1024 * 1024).describe(`${what} as pc:v<version>:<base64>`);
const batch = <T extends z.ZodType>(item: T) => z.strictObject({ batch_input: z.array(item).min(1).max(1000).describe('Batch input: each item succeeds or fails on its own.') });

const EncryptItem = z.strictObject({ plaintext: b64('Plaintext'), context: b64('Associated data').optional(), key_version: keyVersion });
const DecryptItem = z.strictObject({ ciphertext: value('Ciphertext'), context: b64('Associated data').optional() });
const RewrapItem = z.strictObject({ ciphertext: value('Ciphertext'), context: b64('Associated data').optional(), key_version: keyVersion });
const DataKeyItem = z.strictObject({
  type: z.enum(['plaintext', 'wrapped']).optional().describe('plaintext (default): the key and its wrapped form; wrapped: only the wrapped form.'),
  bits: z.union([z.literal(128), z.literal(256), z.literal(512)]).optional(),
  context: b64('Associated data').optional(),
});
const SignItem = z.strictObject({ input: b64('Input'), key_version: keyVersion });
const VerifyItem = z.union([
  z.strictObject({ input: b64('Input'), signature: value('Signature') }),
  z.strictObject({ input: b64('Input'), hmac: value('HMAC'), algorithm: z.enum(['sha2-256', 'sha2-512']).optional() }),
]);
const HmacItem = z.strictObject({ input: b64('Input'), algorithm: z.enum(['sha2-256', 'sha2-512']).optional(), key_version: keyVersion });

export const TransitEncryptRequest = z.union([EncryptItem, batch(EncryptItem)]).describe('Encrypt with an aes256-gcm key.');
export const TransitDecryptRequest = z.union([DecryptItem, batch(DecryptItem)]).describe('Decrypt pc:v<n>: ciphertexts.');
export const TransitRewrapRequest = z.union([RewrapItem, batch(RewrapItem)]).describe('Re-encrypt with the latest version, without returning the plaintext.');
export const TransitDataKeyRequest = z.union([DataKeyItem, batch(DataKeyItem)]).describe('Generate a data key for envelope encryption.');
export const TransitSignRequest = z.union([SignItem, batch(SignItem)]).describe('Sign with an ed25519 or ecdsa-p256 key.');
export const TransitVerifyRequest = z.union([VerifyItem, batch(VerifyItem)]).describe('Verify a signature (signing keys) or an HMAC (any key).');
export const TransitHmacRequest = z.union([HmacItem, batch(HmacItem)]).describe('HMAC with the key version HMAC subkey.');

const transitKeyName = z.string().regex(/^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$/, 'expected 1-128 characters of A-Z a-z 0-9 _ . -');

export const CreateTransitKeyRequest = z
  .strictObject({
    name: transitKeyName,
    type: z.enum(['aes256-gcm', 'ed25519', 'ecdsa-p256']).default('aes256-gcm'),
    auto_rotate: z.boolean().optional().describe('aes256-gcm: add a version by itself when the latest reaches the AES-GCM invocation limit (default true); false: refuse encryption (transit.key-exhausted) until rotated.'),
  })
  .describe('Creates a named transit key with version 1.');
export const TransitKeyConfigRequest = z
  .strictObject({
    min_decryption_version: z.number().int().min(1).optional().describe('Values made with older versions are refused. Versions are kept, so a lower value makes them decrypt again (audited with reason min-decryption-version-lowered).'),
    min_encryption_version: z.number().int().min(0).optional().describe('0: no floor; else new values may not ask for an older version.'),
    auto_rotate: z.boolean().optional().describe('aes256-gcm: add a version by itself when the latest reaches the AES-GCM invocation limit; false: refuse encryption (transit.key-exhausted) until rotated.'),
  })
  .describe('Retires old key versions; sets auto-rotation at the invocation limit.');

/** The names after `after` (the last name of the previous page). */
export const TransitKeyListQuery = pageQuery(transitKeyName);

export const TransitKey = z.strictObject({
  name: z.string(),
  type: z.enum(['aes256-gcm', 'ed25519', 'ecdsa-p256']),
  latest_version: z.number().int(),
  min_decryption_version: z.number().int(),
  min_encryption_version: z.number().int(),
  auto_rotate: z.boolean().describe('aes256-gcm: a version is added by itself when the latest reaches the invocation limit.'),
  encryption_limit: z.number().int().describe('AES-GCM encryptions allowed per version (NIST SP 800-38D §8.3: 2^32, or the configured lower limit).'),
  versions: z.array(
    z.strictObject({
      version: z.number().int(),
      created_at: isoTime,
      public_key: z.string().optional().describe('SPKI DER, base64 (signing keys).'),
      encryptions: z.number().int().optional().describe('aes256-gcm: encryptions counted against the version\'s limit, reserved in blocks by every node (an upper bound; a restart forfeits the rest of a block).'),
    }),
  ),
});
export const TransitKeyResponse = z.strictObject({ key: TransitKey });
export const TransitKeyList = z.strictObject({ keys: z.array(z.string()), next_after: nextAfter });

const ItemError = z.strictObject({ error: z.strictObject({ code: z.string(), message: z.string() }) });
const result = <T extends z.ZodRawShape>(shape: T) => {
  const one = z.strictObject(shape);
  return z.union([one, z.strictObject({ batch_results: z.array(z.union([one, ItemError])) })]);
};
export const TransitCiphertextResult = result({ ciphertext: z.string(), key_version: z.number().int() }).describe('Ciphertexts (pc:v<n>:<base64>).');
export const TransitPlaintextResult = result({ plaintext: z.string().describe('base64') }).describe('Plaintexts, base64.');
export const TransitDataKeyResult = result({ ciphertext: z.string(), key_version: z.number().int(), plaintext: z.string().optional().describe('base64; absent for type wrapped') }).describe('Data keys.');
export const TransitSignatureResult = result({ signature: z.string(), key_version: z.number().int() }).describe('Signatures.');
export const TransitVerifyResult = result({ valid: z.boolean() }).describe('Verification results.');
export const TransitHmacResult = result({ hmac: z.string(), key_version: z.number().int() }).describe('HMACs.');

export const encryptionRequestSchemas = {
  CreateAppEncryptionKeyRequest,
  CreateTransitKeyRequest,
  TransitKeyConfigRequest,
  TransitEncryptRequest,
  TransitDecryptRequest,
  TransitRewrapRequest,
  TransitDataKeyRequest,
  TransitSignRequest,
  TransitVerifyRequest,
  TransitHmacRequest,
} as const;
export const encryptionResponseSchemas = {
  AppEncryptionKey,
  AppEncryptionKeyCreated,
  AppEncryptionKeyResponse,
  AppEncryptionKeyList,
  TransitKey,
  TransitKeyResponse,
  TransitKeyList,
  TransitCiphertextResult,
  TransitPlaintextResult,
  TransitDataKeyResult,
  TransitSignatureResult,
  TransitVerifyResult,
  TransitHmacResult,
} as const;
