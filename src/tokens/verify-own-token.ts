/**
 * Verifies an access token this issuer signed (for revocation and introspection):
 * signature against the key ring, `typ: at+jwt` (in any case, as the gateway: access-token-type.ts), `iss`, and the claims RFC 9068 requires.
 * Expiry is reported, not thrown, so callers decide (revocation accepts expired tokens).
 */
import { compactVerify, decodeProtectedHeader } from 'jose';
import type { VerificationKeys } from '../crypto/verification-keys.js';
import { isAccessTokenType } from './access-token-type.js';

export interface AccessTokenClaims {
  iss: string;
  sub: string;
  aud: string | string[];
  client_id: string;
  scope?: string;
  jti: string;
  iat: number;
  exp: number;
  [claim: string]: unknown;
}

/** Returns the verified claims, or undefined for anything that is not a well-formed token of ours. */
export async function verifyOwnToken(token: string, keys: VerificationKeys, issuer: string): Promise<AccessTokenClaims | undefined> {
  let header;
  try {
    header = decodeProtectedHeader(token);
  } catch {
    return undefined;
  }
  if (!isAccessTokenType(header.typ)) return undefined;
  if (typeof header.kid !== 'string') return undefined;
  const key = keys.getVerificationKey(header.kid);
  if (!key || header.alg !== key.alg) return undefined;
  let payload: Uint8Array;
  try {
    ({ payload } = await compactVerify(token, key.key, { algorithms: [key.alg] }));
  } catch {
    return undefined;
  }
  let claims: AccessTokenClaims;
  try {
    claims = JSON.parse(Buffer.from(payload).toString('utf8')) as AccessTokenClaims;
  } catch {
    return undefined;
  }
  if (claims.iss !== issuer || typeof claims.jti !== 'string' || typeof claims.client_id !== 'string' || typeof claims.exp !== 'number' || typeof claims.iat !== 'number') return undefined;
  return claims;
}
